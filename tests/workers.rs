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
