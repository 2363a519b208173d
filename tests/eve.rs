//! EVE as Suricata writes it (issue 17): Community ID against Wireshark's, the sensor
//! name as `host`, and every line checked against Suricata's schema and ours.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn pcaps() -> PathBuf {
    common::repo().join("pcaps")
}

/// A flow as Wireshark keys it: protocol and both endpoints, in the direction seen.
type Tuple = (String, IpAddr, u16, IpAddr, u16);

/// The Community IDs tshark 4.0 computed (`pcaps/community-id.sh`), per capture
/// (`corpus/<name>` for the corpus) and flow direction.
fn tshark_community_ids() -> BTreeMap<String, BTreeMap<Tuple, String>> {
    let text = std::fs::read_to_string(pcaps().join("expected/community-id.tsv"))
        .expect("pcaps/expected/community-id.tsv");
    let mut by_capture: BTreeMap<String, BTreeMap<Tuple, String>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [capture, proto, src, sport, dst, dport, id] = f[..] else {
            panic!("bad line {line:?}");
        };
        let tuple = (
            proto.to_string(),
            src.parse().expect("src"),
            sport.parse().expect("sport"),
            dst.parse().expect("dst"),
            dport.parse().expect("dport"),
        );
        by_capture
            .entry(capture.to_string())
            .or_default()
            .insert(tuple, id.to_string());
    }
    by_capture
}

fn tuple_of(line: &Value) -> Tuple {
    let ip = |k: &str| line[k].as_str().expect(k).parse().expect(k);
    let port = |k: &str| {
        line[k]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect(k)
    };
    (
        line["proto"].as_str().expect("proto").to_string(),
        ip("src_ip"),
        port("src_port"),
        ip("dest_ip"),
        port("dest_port"),
    )
}

/// Every flow cleartrace writes for a bundled capture, and every corpus flow tshark
/// also keys outside a tunnel, has the Community ID Wireshark computes.
#[test]
fn community_id_matches_wireshark() {
    let expected = tshark_community_ids();
    let corpus = common::corpus();
    let (mut compared, mut unmatched_corpus) = (0, 0);
    for (capture, want) in &expected {
        let (path, bundled) = match capture.strip_prefix("corpus/") {
            Some(name) => match &corpus {
                Some(dir) => (dir.join("pcaps").join(name), false),
                None => continue,
            },
            None => (pcaps().join(capture), true),
        };
        let run = common::analyze(&[&path], &["--quiet"]);
        assert!(
            !bundled || !run.flows.is_empty(),
            "{capture}: {}",
            run.stderr
        );
        let ids: BTreeSet<&str> = run
            .flows
            .iter()
            .map(|f| f["community_id"].as_str().expect("community_id"))
            .collect();
        for flow in &run.flows {
            let id = flow["community_id"].as_str().expect("community_id");
            match want.get(&tuple_of(flow)) {
                Some(theirs) => {
                    assert_eq!(id, theirs, "{capture}: {flow}");
                    compared += 1;
                }
                None if bundled => panic!("{capture}: tshark has no flow {flow}"),
                // Tunnelled or not TCP/UDP to tshark: nothing to compare with.
                None => unmatched_corpus += 1,
            }
        }
        // Alerts carry their flow's ID.
        for alert in &run.alerts {
            let id = alert["community_id"].as_str().expect("community_id");
            assert!(ids.contains(id), "{capture}: alert with unknown {id}");
        }
    }
    eprintln!("community_id: {compared} flows equal to Wireshark's, {unmatched_corpus} corpus flows without a tshark counterpart");
    assert!(compared >= 57, "only {compared} flows compared");
}

#[test]
fn sensor_name_is_host_on_every_line_and_a_build_info_label() {
    let dir = common::tempdir();
    let metrics = dir.join("metrics.prom");
    let config = dir.join("sensor.toml");
    std::fs::write(&config, "sensor_name = \"from-config\"\n").expect("write config");
    let metrics_arg = metrics.display().to_string();
    let config_arg = config.display().to_string();
    let capture = pcaps().join("sip-udp-g711-dtmf.pcap");
    let run = common::analyze(
        &[&capture],
        &[
            "--quiet",
            "--config",
            &config_arg,
            "--sensor-name",
            "voice-span-1",
            "--metrics",
            &metrics_arg,
        ],
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    assert!(!run.alerts.is_empty() && !run.flows.is_empty());
    for line in run.alerts.iter().chain(&run.flows) {
        assert_eq!(line["host"], "voice-span-1", "{line}");
    }
    let text = std::fs::read_to_string(&metrics).expect("metrics");
    let build = text
        .lines()
        .find(|l| l.starts_with("cleartrace_build_info{"))
        .expect("build_info");
    assert!(build.contains("host=\"voice-span-1\""), "{build}");
    // Without the flag the configuration names the sensor; without either, no `host`.
    let from_config = common::analyze(&[&capture], &["--quiet", "--config", &config_arg]);
    assert!(from_config.flows.iter().all(|f| f["host"] == "from-config"));
    let unnamed = common::analyze(&[&capture], &["--quiet"]);
    assert!(unnamed.flows.iter().all(|f| f.get("host").is_none()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Suricata's alert semantics: `src_ip` follows the packet that raised the alert, the
/// `flow` object keeps the flow's own orientation.
#[test]
fn alert_direction_and_flow_object() {
    let run = common::analyze(&[&pcaps().join("tls10.pcap")], &["--quiet"]);
    let by_rule = |id: u64| {
        run.alerts
            .iter()
            .find(|a| a["alert"]["signature_id"] == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let flow = &run.flows[0];
    let client_hello = by_rule(1003);
    assert_eq!(client_hello["direction"], "to_server");
    assert_eq!(client_hello["src_port"], flow["src_port"]);
    let server_hello = by_rule(1001);
    assert_eq!(server_hello["direction"], "to_client");
    assert_eq!(server_hello["src_port"], flow["dest_port"]);
    assert_eq!(server_hello["dest_port"], flow["src_port"]);
    for alert in [client_hello, server_hello] {
        assert_eq!(alert["alert"]["gid"], 1);
        assert_eq!(alert["alert"]["action"], "allowed");
        assert_eq!(alert["flow"]["src_port"], flow["src_port"]);
        assert_eq!(alert["flow"]["start"], flow["flow"]["start"]);
        assert_eq!(
            alert["flow"]["pkts_toserver"],
            flow["flow"]["pkts_toserver"]
        );
    }
    assert_eq!(flow["flow"]["state"], "closed");
    assert_eq!(flow["flow"]["age"], 1);
    assert_eq!(flow["tls"]["version"], "TLSv1");
    let ts = flow["timestamp"].as_str().expect("timestamp");
    assert!(ts.ends_with("+0000") && ts.len() == 31, "{ts}");
}

/// Runs `schema/check.py` (Python `jsonschema`) over `lines`; `None` when Python or
/// its `jsonschema` module is missing and CI did not ask for the check.
fn schema_check(lines: &Path) -> Option<Output> {
    let required = std::env::var_os("CLEARTRACE_REQUIRE_SCHEMA_CHECK").is_some();
    let suricata = common::repo().join("../shared/eve/suricata-schema.json");
    let usable = suricata.exists()
        && Command::new("python3")
            .args(["-c", "import jsonschema"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !usable {
        assert!(
            !required,
            "schema check required but python3 jsonschema or {} is missing",
            suricata.display()
        );
        eprintln!("python3 jsonschema or Suricata's schema missing: schema check skipped");
        return None;
    }
    let output = Command::new("python3")
        .current_dir(common::repo())
        .arg("schema/check.py")
        .arg("--suricata")
        .arg(&suricata)
        .arg(lines)
        .output()
        .expect("run schema/check.py");
    Some(output)
}

/// Every line written for `pcaps/` and the corpus validates against Suricata's EVE
/// schema with only our documented additions, and against `schema/eve.json`.
#[test]
fn every_line_validates_against_suricatas_schema_and_ours() {
    let dir = common::tempdir();
    let lines = dir.join("eve.jsonl");
    let mut inputs = vec![pcaps()];
    inputs.extend(common::corpus().map(|c| c.join("pcaps")));
    let written = {
        let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let run = common::analyze(&inputs, &["--quiet", "--sensor-name", "schema-check"]);
        let text: String = run
            .alerts
            .iter()
            .chain(&run.flows)
            .map(|v| format!("{v}\n"))
            .collect();
        std::fs::write(&lines, text).expect("write lines");
        run.alerts.len() + run.flows.len()
    };
    assert!(written > 100, "only {written} lines");
    let Some(output) = schema_check(&lines) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{}", stdout.lines().last().unwrap_or_default());
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("{written} lines checked")),
        "{stdout}"
    );

    // The check can fail: a field nobody documented, a timestamp in RFC 3339's `Z`.
    let text = std::fs::read_to_string(&lines).expect("lines");
    let mut line: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("a line")).expect("JSON");
    line["undocumented"] = serde_json::Value::from(1);
    std::fs::write(&lines, format!("{line}\n")).expect("write");
    let output = schema_check(&lines).expect("checked above");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("suricata+additions: : Additional properties"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
