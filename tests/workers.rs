//! `analyze --workers N` shards flows over threads (as the live sensor does): the
//! result must be the single-threaded one, flow ids aside.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

/// A record without what may differ between runs: the flow id, and where media met its
/// signalling. A call whose RTP runs between other addresses than its SIP lands on
/// another worker; a stream so short that all of it is read there before the other
/// worker reads the SDP (9 packets in the corpus) is classified by proof instead (same
/// `app_proto`), and its rule 2002 alert follows the proof's stricter threshold. Longer
/// streams adopt the SDP late (`tests/media.rs`). Unsignalled media must prove itself
/// over a few packets, so a media flow of one to three packets whose SDP another worker
/// read later is unclassified there (`failed` for `rtcp`): for such flows the label is
/// not compared. Those are the only differences allowed.
fn comparable(mut record: Value) -> Option<String> {
    let object = record.as_object_mut()?;
    object.remove("flow_id");
    let packets = |o: &serde_json::Map<String, Value>| {
        let flow = o.get("flow")?;
        Some(flow["pkts_toserver"].as_u64()? + flow["pkts_toclient"].as_u64()?)
    };
    let short_udp = object.get("proto").and_then(Value::as_str) == Some("UDP")
        && object.get("event_type").and_then(Value::as_str) == Some("flow")
        && packets(object).is_some_and(|n| n <= 3)
        && matches!(
            object.get("app_proto").and_then(Value::as_str),
            Some("rtp" | "rtcp" | "failed")
        );
    if short_udp {
        object.insert("app_proto".into(), Value::from("rtp, rtcp or failed"));
    }
    let media = object.get("app_proto").and_then(Value::as_str) == Some("rtp");
    if media {
        object.remove("rtp");
        if let Some(flow) = object.get_mut("flow").and_then(Value::as_object_mut) {
            flow.remove("alerted");
        }
        if object.get("alert").and_then(|a| a["signature_id"].as_u64()) == Some(2002) {
            return None;
        }
    }
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
fn sharded_run_equals_single_threaded_run() {
    let inputs = inputs();
    let paths: Vec<&std::path::Path> = inputs.iter().map(PathBuf::as_path).collect();
    let single = common::analyze(&paths, &["--quiet"]);
    let sharded = common::analyze(&paths, &["--quiet", "--workers", "3"]);
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
    let (one, three) = (multiset(single.flows), multiset(sharded.flows));
    let only_single: Vec<_> = one.keys().filter(|k| !three.contains_key(*k)).collect();
    assert!(only_single.is_empty(), "flows differ: {only_single:#?}");
    assert_eq!(one, three);
    assert_eq!(multiset(single.alerts), multiset(sharded.alerts));
}
