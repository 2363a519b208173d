//! Runs over `../shared/corpus` (real captures from nDPI, Zeek, heplify …) when it is
//! present and compares with the ground truth of its MANIFEST.

mod common;

use std::collections::BTreeSet;

/// Negotiated versions the manifest's tshark check found, in our spelling.
fn manifest_tls_versions(protocols: &str, truth: &str) -> Option<BTreeSet<String>> {
    if protocols.contains("SSLv2") {
        return Some(BTreeSet::from(["SSLv2".to_string()]));
    }
    if !truth.contains("ServerHello") && !truth.contains("TLS ClientHello") {
        return None;
    }
    let mut versions = BTreeSet::new();
    let mut rest = truth;
    while let Some(at) = rest.find("TLS ServerHello ") {
        rest = &rest[at + "TLS ServerHello ".len()..];
        let word = rest.split_whitespace().next().unwrap_or("");
        if let Some(minor) = word.strip_prefix("TLS1.") {
            versions.insert(format!("TLS 1.{minor}"));
        }
    }
    Some(versions)
}

#[test]
fn negotiated_tls_versions_match_manifest() {
    let Some(corpus) = common::corpus() else {
        eprintln!("../shared/corpus not present: skipped");
        return;
    };
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("manifest");
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(protocols), Some(truth)) = (cols.first(), cols.get(6), cols.get(7))
        else {
            continue;
        };
        if file.starts_with("bench__") {
            continue;
        }
        let Some(expected) = manifest_tls_versions(protocols, truth) else {
            continue;
        };
        let run = common::analyze(&[&corpus.join("pcaps").join(file)], &["--quiet"]);
        let seen: BTreeSet<String> = run
            .flows
            .iter()
            .filter_map(|f| f["tls"]["version"].as_str().map(str::to_string))
            .collect();
        checked += 1;
        if seen != expected {
            disagreements.push(format!(
                "{file}: manifest {expected:?}, cleartrace {seen:?}"
            ));
        }
    }
    eprintln!(
        "corpus TLS agreement: {} of {checked}",
        checked - disagreements.len()
    );
    assert!(
        checked >= 15,
        "only {checked} corpus captures with TLS found"
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// The benchmark capture holds deliberately malformed inputs: the run must finish
/// without a panic, keep its results, and account for what it could not decode.
#[test]
fn whole_corpus_runs_without_panic() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let run = common::analyze(&[&corpus.join("pcaps")], &[]);
    let code = run.output.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "exit {code:?}\n{}",
        run.stderr
    );
    assert!(run.flows.len() > 5000, "{} flows", run.flows.len());
    assert!(run.stderr.contains("malformed_ip"), "{}", run.stderr);
    // Every flow record has the DESIGN §5 fields.
    for f in &run.flows {
        for field in [
            "timestamp",
            "flow_id",
            "src_ip",
            "src_port",
            "dest_ip",
            "dest_port",
            "proto",
            "app_proto",
            "pcap_filename",
        ] {
            assert!(!f[field].is_null(), "{field} missing in {f}");
        }
    }
}
