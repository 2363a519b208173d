//! `analyze --workers N` shards flows over threads (as the live sensor does): the
//! result must be the single-threaded one, flow ids aside.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

/// A record without the one thing that may differ between runs: the flow id, which
/// each worker numbers apart. Everything else — media judged as signalled even when its
/// SDP was read by another worker (see `threads::Progress`), every alert and count —
/// must be the single-threaded run's.
fn comparable(mut record: Value) -> Option<String> {
    record.as_object_mut()?.remove("flow_id");
    Some(record.to_string())
}

fn multiset(records: Vec<Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in records.into_iter().filter_map(comparable) {
        *counts.entry(record).or_default() += 1;
    }
    counts
}

fn inputs() -> Vec<PathBuf> {
    let mut inputs = vec![common::repo().join("pcaps")];
    inputs.extend(common::corpus().map(|c| c.join("pcaps")));
    inputs
}

#[test]
fn sharded_runs_equal_the_single_threaded_run() {
    let inputs = inputs();
    let paths: Vec<&std::path::Path> = inputs.iter().map(PathBuf::as_path).collect();
    let single = common::analyze(&paths, &["--quiet"]);
    for workers in ["2", "3", "8"] {
        compare(
            &single,
            &common::analyze(&paths, &["--quiet", "--workers", workers]),
        );
    }
}

fn compare(single: &common::Run, sharded: &common::Run) {
    assert_eq!(single.output.status.code(), sharded.output.status.code());
    assert!(single.flows.len() > 50, "too few flows to compare");
    assert_eq!(single.flows.len(), sharded.flows.len(), "flow records");
    let ids: std::collections::BTreeSet<u64> = sharded
        .flows
        .iter()
        .filter_map(|f| f["flow_id"].as_u64())
        .collect();
    assert_eq!(
        ids.len(),
        sharded.flows.len(),
        "flow ids repeat across workers"
    );
    let (one, many) = (
        multiset(single.flows.clone()),
        multiset(sharded.flows.clone()),
    );
    let only_single: Vec<_> = one.keys().filter(|k| !many.contains_key(*k)).collect();
    assert!(only_single.is_empty(), "flows differ: {only_single:#?}");
    assert_eq!(one, many);
    assert_eq!(
        multiset(single.alerts.clone()),
        multiset(sharded.alerts.clone())
    );
}

/// Standard input can be read only once, so there one thread reads and hands each
/// worker its frames, where files are read whole by every worker: both ways must give
/// the single-threaded result.
#[test]
fn sharded_run_over_standard_input_equals_the_single_threaded_run() {
    let capture = common::repo().join("pcaps/sip-udp-g711-dtmf.pcap");
    let single = common::analyze(&[&capture], &["--quiet"]);
    let dir = common::tempdir();
    let (alerts, flows) = (dir.join("alerts.json"), dir.join("flows.json"));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args(["analyze", "--quiet", "--workers", "2", "-", "--alerts"])
        .arg(&alerts)
        .arg("--flows")
        .arg(&flows)
        .stdin(std::fs::File::open(&capture).expect("capture"))
        .status()
        .expect("run cleartrace");
    assert_eq!(status.code(), single.output.status.code());
    let read = |path: &std::path::Path| -> Vec<Value> {
        let text = std::fs::read_to_string(path).expect("output");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("JSON line"))
            .collect()
    };
    assert!(!single.alerts.is_empty(), "the call raises alerts");
    for (one, many) in [
        (&single.alerts, read(&alerts)),
        (&single.flows, read(&flows)),
    ] {
        assert_eq!(
            multiset(without_file_name(one.clone())),
            multiset(without_file_name(many))
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Records without `pcap_filename`, which names standard input `-`.
fn without_file_name(mut records: Vec<Value>) -> Vec<Value> {
    for record in &mut records {
        if let Some(record) = record.as_object_mut() {
            record.remove("pcap_filename");
        }
    }
    records
}

/// Legacy pcap files are read once for all workers (`analyze::relay`): each block is
/// cut by one worker and analysed from its buffer by all. Over several files, one of
/// them truncated inside a record and one pcapng (which every worker reads whole),
/// the run must still be the single-threaded one: the same alerts, the same error
/// naming the file and offset, the same exit status and the same chain of custody
/// in the report.
#[test]
fn files_read_once_for_all_workers_keep_what_one_engine_reports() {
    let dir = common::tempdir();
    let pcaps = common::repo().join("pcaps");
    std::fs::copy(pcaps.join("sip-udp-g711-dtmf.pcap"), dir.join("a.pcap")).expect("copy");
    let whole = std::fs::read(pcaps.join("sip-tcp.pcap")).expect("capture");
    std::fs::write(dir.join("b-truncated.pcap"), &whole[..3000]).expect("write");
    std::fs::copy(pcaps.join("mixed-linktypes.pcapng"), dir.join("c.pcapng")).expect("copy");
    std::fs::copy(pcaps.join("sip-tls.pcap"), dir.join("d.pcap")).expect("copy");
    let report = |workers: &str| {
        let path = dir.join(format!("report-{workers}.json"));
        let run = common::analyze(
            &[&dir],
            &[
                "--quiet",
                "--workers",
                workers,
                "--report",
                path.to_str().expect("path"),
            ],
        );
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("report")).expect("JSON");
        (run, report)
    };
    let (single, one) = report("1");
    let (sharded, two) = report("2");
    assert_eq!(
        single.output.status.code(),
        Some(1),
        "the truncated file is an error"
    );
    assert_eq!(sharded.output.status.code(), Some(1));
    let error = "b-truncated.pcap: truncated at byte offset 2094: the file ends inside a \
                 record of 994 bytes (906 left)";
    assert!(single.stderr.contains(error), "{}", single.stderr);
    assert!(sharded.stderr.contains(error), "{}", sharded.stderr);
    assert!(!single.alerts.is_empty());
    assert_eq!(
        multiset(single.alerts.clone()),
        multiset(sharded.alerts.clone())
    );
    for key in ["inputs", "time_span", "packets", "bytes", "protocols"] {
        assert_eq!(one[key], two[key], "report {key}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
