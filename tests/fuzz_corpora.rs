//! Replays the fuzz corpora (`fuzz/corpus/<target>/`: seeds cut from the bundled
//! captures, plus every input a fuzzer ever crashed on) through the same entry points
//! the cargo-fuzz targets call, so CI checks them on stable without nightly.

mod common;

#[test]
fn every_fuzz_target_replays_its_corpus() {
    let corpus = common::repo().join("fuzz").join("corpus");
    for (name, target) in cleartrace::fuzzing::TARGETS {
        let dir = corpus.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: empty corpus");
        for file in files {
            let data = std::fs::read(&file).expect("read seed");
            target(&data);
        }
    }
}

#[test]
fn fuzz_targets_match_the_entry_points() {
    let targets = common::repo().join("fuzz").join("fuzz_targets");
    for (name, _) in cleartrace::fuzzing::TARGETS {
        let source =
            std::fs::read_to_string(targets.join(format!("{name}.rs"))).unwrap_or_default();
        assert!(
            source.contains(&format!("cleartrace::fuzzing::{name}(data)")),
            "fuzz/fuzz_targets/{name}.rs"
        );
    }
}
