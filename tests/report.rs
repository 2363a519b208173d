//! The auditor's report of the bundled captures: JSON against the alerts of the same
//! run, per-system tables over the seed-system demo captures, before / after diffs of
//! real hardening pairs, merged batches (split with GNU parallel), and the HTML page
//! self-contained, free of planted values and rendered in headless Chromium (when
//! installed; CI installs Chromium and GNU parallel and sets
//! CLEARTRACE_REQUIRE_CHROMIUM=1 and CLEARTRACE_REQUIRE_PARALLEL=1).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// Values planted in the captures: none may reach a report.
const SECRETS: [&str; 9] = [
    "LEAKCHECK",
    "jane.doe",
    "4111 1111 1111 1111",
    "1632 960961",
    "123-45-6789",
    "Jane Doe",
    "WVNf",
    "DE89 3704",
    "GB29 NWBK",
];

fn pcap(name: &str) -> PathBuf {
    common::repo().join("pcaps").join(name)
}

fn cleartrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args(args)
        .output()
        .expect("run cleartrace")
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `analyze INPUTS --report DIR/NAME EXTRA…`: the run and the report's text.
fn run_report(inputs: &[&Path], dir: &Path, name: &str, extra: &[&str]) -> (String, common::Run) {
    let report = path(&dir.join(name));
    let mut args = vec!["--quiet", "--report", &report];
    args.extend_from_slice(extra);
    let run = common::analyze(inputs, &args);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    (
        std::fs::read_to_string(&report).expect("report written"),
        run,
    )
}

fn json_report(inputs: &[&Path], dir: &Path, name: &str, extra: &[&str]) -> Value {
    let (text, _) = run_report(inputs, dir, name, extra);
    assert_no_secrets(&text, name);
    serde_json::from_str(&text).expect("JSON")
}

fn assert_no_secrets(text: &str, what: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in {what}");
    }
}

/// Each system's channels as (id, status), its undocumented services with personal
/// data, and the profiles with nothing seen.
fn system_table(report: &Value) -> Value {
    let systems: Vec<Value> = report["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .map(|s| {
            let channels: Vec<Value> = s["channels"]
                .as_array()
                .expect("channels")
                .iter()
                .map(|c| json!([c["id"], c["status"]]))
                .collect();
            json!([s["id"], channels, s["undocumented_with_personal_data"]])
        })
        .collect();
    json!({"systems": systems, "not_seen": report["systems_not_seen"]})
}

#[test]
fn json_report_agrees_with_the_alerts() {
    let dir = common::tempdir();
    let pcaps = common::repo().join("pcaps");
    let (text, run) = run_report(&[&pcaps], &dir, "report.json", &[]);
    assert_no_secrets(&text, "the JSON report");
    let report: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(report["schema"], "cleartrace-report/2");
    let mut by_severity: BTreeMap<String, u64> = BTreeMap::new();
    for a in &run.alerts {
        *by_severity
            .entry(
                a["alert"]["severity_name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
            .or_default() += 1;
    }
    for count in report["verdict"]["alerts_by_severity"]
        .as_array()
        .expect("array")
    {
        let name = count["severity_name"].as_str().unwrap_or("");
        assert_eq!(
            count["alerts"].as_u64(),
            Some(by_severity.get(name).copied().unwrap_or(0)),
            "{name}"
        );
    }
    assert_eq!(
        report["verdict"]["alerts"].as_u64(),
        Some(run.alerts.len() as u64)
    );
    assert_eq!(
        report["verdict"]["flows"].as_u64(),
        Some(run.flows.len() as u64)
    );
    // Severities as EVE writes them: the integer and its name, on every finding.
    for f in report["findings"].as_array().expect("findings") {
        let worst = run
            .alerts
            .iter()
            .filter(|a| a["alert"]["signature_id"] == f["rule_id"])
            .min_by_key(|a| a["alert"]["severity"].as_u64())
            .expect("an alert of the rule");
        assert_eq!(f["severity"], worst["alert"]["severity"], "{f}");
        assert_eq!(f["severity_name"], worst["alert"]["severity_name"], "{f}");
    }
    let first = &report["findings"][0];
    assert_eq!(first["severity_name"], "critical", "worst first");
    assert!(first["remediation"].as_str().is_some_and(|r| !r.is_empty()));
    // Evidence labelled with its field.
    let ldap = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule_id"] == 3002)
        .expect("3002");
    assert!(
        ldap["evidence"]
            .as_array()
            .expect("evidence")
            .contains(&json!({"field": "person_name", "value": "J*** D**"})),
        "{}",
        ldap["evidence"]
    );
    // Chain of custody: every input with its size, packets, span and SHA-256.
    let inputs = report["inputs"].as_array().expect("inputs");
    let files = std::fs::read_dir(&pcaps)
        .expect("pcaps/")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .count();
    assert_eq!(inputs.len(), files);
    let axi = inputs
        .iter()
        .find(|i| i["name"].as_str().is_some_and(|n| n.ends_with("/axi.pcap")))
        .expect("axi.pcap");
    let bytes = std::fs::read(pcap("axi.pcap")).expect("axi.pcap");
    assert_eq!(axi["size"].as_u64(), Some(bytes.len() as u64));
    let sha = Command::new("sha256sum")
        .arg(pcap("axi.pcap"))
        .output()
        .expect("sha256sum");
    let sha = String::from_utf8_lossy(&sha.stdout);
    assert_eq!(axi["sha256"].as_str(), sha.split_whitespace().next());
    assert_eq!(axi["packets"], 13);
    assert_eq!(axi["first_packet"], "2026-11-22T21:59:24.196183+0000");
    assert_eq!(axi["last_packet"], "2026-11-22T21:59:24.597816+0000");
    assert_eq!(report["limits"]["truncated_inputs"], 0);
    // The same custody when workers read the files as record blocks.
    let sharded = json_report(&[&pcaps], &dir, "sharded.json", &["--workers", "2"]);
    assert_eq!(sharded["inputs"], report["inputs"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The JSON reports (plain, with a baseline, merged) validate against the shipped JSON
/// Schema (checked with python3-jsonschema; CI installs it).
#[test]
fn json_reports_validate_against_the_shipped_schema() {
    let python = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !python {
        assert!(
            std::env::var_os("CLEARTRACE_REQUIRE_SCHEMA_CHECK").is_none(),
            "python3-jsonschema required but not installed"
        );
        eprintln!("python3-jsonschema not installed: skipped");
        return;
    }
    let dir = common::tempdir();
    json_report(&[&common::repo().join("pcaps")], &dir, "plain.json", &[]);
    let baseline = path(&dir.join("plain.json"));
    json_report(
        &[&pcap("tls10.pcap"), &pcap("snmp-v3.pcap")],
        &dir,
        "compared.json",
        &["--baseline", &baseline, "--site", "Site A"],
    );
    let merged = path(&dir.join("merged.json"));
    let out = cleartrace(&[
        "report",
        "merge",
        &baseline,
        &path(&dir.join("compared.json")),
        "--report",
        &merged,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let schema = common::repo().join("schema/cleartrace-report-2.schema.json");
    let check = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             v = jsonschema.Draft202012Validator(schema)\n\
             bad = [f'{f}: {e.json_path}: {e.message}' for f in sys.argv[2:] for e in v.iter_errors(json.load(open(f)))]\n\
             print('\\n'.join(bad)); sys.exit(1 if bad else 0)",
        )
        .arg(&schema)
        .arg(&baseline)
        .arg(path(&dir.join("compared.json")))
        .arg(&merged)
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The seed systems over the demo captures: every documented channel of each profile,
/// by what the services speak (no configuration).
#[test]
fn per_system_tables_over_the_demo_captures() {
    let dir = common::tempdir();
    let report = json_report(&[&common::repo().join("pcaps")], &dir, "report.json", &[]);
    assert_eq!(
        system_table(&report),
        json!({
            "systems": [
                ["pbx", [["sip", "clear"], ["media", "clear"], ["admin", "clear"],
                         ["directory", "clear"], ["cdr", "clear"], ["syslog", "clear"],
                         ["database", "clear"], ["recordings", "clear"]], []],
                ["dect", [["omm", "clear"], ["sip", "not_seen"], ["espa", "clear"],
                          ["snmp", "clear"], ["modbus", "clear"], ["mqtt", "clear"],
                          ["webapi", "not_seen"]], []],
                ["micc-office", [["smtp", "clear"], ["mailbox", "clear"], ["web", "not_seen"],
                                 ["cdr", "not_seen"], ["syslog", "not_seen"],
                                 ["recordings", "not_seen"]], []],
                // The contact centre's SQL Server sessions (make-tds-captures.sh): two
                // of the four in clear.
                ["micc-enterprise", [["sql", "clear"], ["web", "not_seen"],
                                     ["smtp", "not_seen"], ["recordings", "not_seen"],
                                     ["syslog", "not_seen"]], []],
            ],
            "not_seen": [],
        })
    );
    let sql = &report["systems"][3]["channels"][0];
    assert_eq!(sql["services"], json!(["127.0.0.1:1433/TCP"]));
    // A recording and a CDR export put on a share without SMB 3 encryption
    // (make-smb-captures.sh); the first profile that documents 445 claims the service.
    let recordings = &report["systems"][0]["channels"][7];
    assert_eq!(recordings["id"], "recordings");
    assert_eq!(recordings["services"], json!(["127.0.0.1:445/TCP"]));
    let share = report["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["port"] == 445))
        .expect("the share's service");
    assert_eq!(
        (
            &share["flows"],
            &share["encrypted"],
            &share["personal_data"]
        ),
        (
            &json!(3),
            &json!(1),
            &json!(["call_records", "credential", "voice_recording"])
        )
    );
    let rules: Vec<&Value> = share["alerts"]
        .as_array()
        .map(|a| a.iter().map(|a| &a["rule_id"]).collect())
        .unwrap_or_default();
    assert_eq!(rules, [&json!(6005), &json!(6006)]);
    let dect = &report["systems"][1]["channels"];
    assert_eq!(
        dect[0]["services"],
        json!(["127.0.0.1:12621/TCP", "127.0.0.1:12622/TCP"])
    );
    assert_eq!(dect[2]["services"], json!(["127.0.0.1:7000/TCP"]));
    assert_eq!(
        dect[3]["services"],
        json!(["127.0.0.1:1161/TCP", "127.0.0.1:1161/UDP"])
    );
    // Services no profile documents, carrying personal data (credentials).
    let mut undocumented: Vec<String> = report["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter(|s| {
            s["system"].is_null() && !s["personal_data"].as_array().is_some_and(Vec::is_empty)
        })
        .map(|s| format!("{}:{} {}", s["port"], s["app_proto"], s["personal_data"]))
        .collect();
    undocumented.sort();
    assert_eq!(
        undocumented,
        [
            "1812:\"radius\" [\"credential\",\"phone_number\"]",
            "1813:\"radius\" [\"phone_number\"]",
            "2121:\"ftp\" [\"credential\"]",
            "2323:\"telnet\" [\"credential\"]",
            "3128:\"http\" [\"credential\"]",
            "5080:\"http\" [\"credential\"]",
            "8081:\"http\" [\"credential\"]",
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One system assigned by configuration: its channels secure, in clear and not seen,
/// an undocumented channel with personal data, and the assessment fields.
#[test]
fn configured_system_secure_clear_and_undocumented() {
    let dir = common::tempdir();
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        "[report]\nsite = \"Care home, building B\"\nscope = \"DECT system and event manager\"\nassessor = \"from the config\"\n\n\
         [[report.system]]\nprofile = \"dect\"\naddresses = [\"127.0.0.0/8\"]\n",
    )
    .expect("config");
    let inputs = [
        pcap("tls12-port-12622.pcap"),
        pcap("snmp-v3-authpriv.pcap"),
        pcap("espa444.pcap"),
        pcap("pd-syslog-udp.pcap"),
    ];
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let config = path(&config);
    let report = json_report(
        &inputs,
        &dir,
        "report.json",
        &["--config", &config, "--assessor", "A. Auditor"],
    );
    assert_eq!(
        system_table(&report),
        json!({
            "systems": [
                ["dect", [["omm", "secure"], ["sip", "not_seen"], ["espa", "clear"],
                          ["snmp", "secure"], ["modbus", "not_seen"], ["mqtt", "not_seen"],
                          ["webapi", "not_seen"]], ["127.0.0.1:5514/UDP"]],
            ],
            "not_seen": ["pbx", "micc-office", "micc-enterprise"],
        })
    );
    assert_eq!(
        report["assessment"],
        json!({"site": "Care home, building B", "scope": "DECT system and event manager", "assessor": "A. Auditor"})
    );
    for s in report["services"].as_array().expect("services") {
        assert_eq!(s["assigned_by"], "configuration", "{s}");
    }
    // A profile that does not exist is a configuration error, named.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[report.system]]\nprofile = \"pabx\"\naddresses = [\"10.0.0.1\"]\n",
    )
    .expect("config");
    let run = common::analyze(&inputs, &["--config", &path(&bad)]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr.contains("\"pabx\"") && run.stderr.contains("pbx, dect"),
        "{}",
        run.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `signatures check` validates the profiles of `DIR/profiles` (file, line, reason);
/// `--signatures DIR` replaces a built-in profile by system id.
#[test]
fn signatures_check_validates_profiles() {
    let ok = cleartrace(&[
        "signatures",
        "check",
        &path(&common::repo().join("signatures")),
    ]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("patterns in force), 4 system profiles"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let dir = common::tempdir();
    std::fs::create_dir_all(dir.join("profiles")).expect("mkdir");
    let profile = dir.join("profiles").join("pbx.toml");
    std::fs::write(
        &profile,
        "[system]\nid = \"pbx\"\nname = \"Our PBX\"\n\n[[channel]]\nid = \"web\"\nname = \"Portal\"\nprotocols = [\"tls\"]\nports = []\nsecure_form = \"TLS 1.2\"\npersonal_data = [\"email\"]\n",
    )
    .expect("write");
    let bad = cleartrace(&["signatures", "check", &path(&dir)]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).starts_with(&format!(
            "{}:5: channel \"web\" names only generic carriers (tls, dtls, http): it needs ports\n",
            profile.display()
        )),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // Fixed: the site's own PBX profile replaces the built-in one.
    std::fs::write(
        &profile,
        "[system]\nid = \"pbx\"\nname = \"Our PBX\"\n\n[[channel]]\nid = \"web\"\nname = \"Portal\"\nprotocols = [\"tls\"]\nports = [4433]\nsecure_form = \"TLS 1.2\"\npersonal_data = [\"email\"]\n",
    )
    .expect("write");
    let report = json_report(
        &[&pcap("tls10.pcap")],
        &dir,
        "report.json",
        &["--signatures", &path(&dir)],
    );
    assert_eq!(
        system_table(&report),
        json!({"systems": [["pbx", [["web", "weak"]], []]],
               "not_seen": ["dect", "micc-office", "micc-enterprise"]})
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// (severity, rule, system, channel, service) of each entry of a comparison list.
fn changes(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {} {}→{}",
                c["severity_name"].as_str().unwrap_or(""),
                c["rule_id"],
                c["system"].as_str().unwrap_or(""),
                c["channel"].as_str().unwrap_or(""),
                c["service"].as_str().unwrap_or(""),
                c["alerts_before"],
                c["alerts_after"]
            )
        })
        .collect()
}

fn diff_json(before: &Path, after: &Path) -> Value {
    let out = cleartrace(&["diff", &path(before), &path(after), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("diff JSON")
}

/// Real hardening pairs: the same OpenSSL service at TLS 1.0, then at TLS 1.2; the same
/// net-snmp get with SNMP v1/v2c communities, then SNMPv3 authPriv.
#[test]
fn diff_of_real_hardening_pairs() {
    let dir = common::tempdir();
    let write = |file: &str, name: &str| {
        let out = dir.join(name);
        json_report(&[&pcap(file)], &dir, name, &[]);
        out
    };
    let tls_before = write("tls10.pcap", "tls-before.json");
    let tls_after = write("tls12-port-4433.pcap", "tls-after.json");
    let tls = diff_json(&tls_before, &tls_after);
    assert_eq!(
        changes(&tls["fixed"]),
        [
            "high 1001 unassigned tls 127.0.0.1:4433/TCP 1→0",
            "medium 1003 unassigned tls 127.0.0.1:4433/TCP 1→0",
        ]
    );
    assert_eq!(changes(&tls["new"]), Vec::<String>::new());
    assert_eq!(changes(&tls["unchanged"]), Vec::<String>::new());
    // The other way round, a downgrade: new findings, and the CI gate trips on them.
    let back = cleartrace(&[
        "diff",
        &path(&tls_after),
        &path(&tls_before),
        "--fail-on",
        "high",
    ]);
    assert_eq!(back.status.code(), Some(3));
    let text = String::from_utf8_lossy(&back.stdout);
    assert!(text.starts_with("new: 2\n"), "{text}");
    assert!(
        text.contains("fixed: 0\n") && text.contains("unchanged: 0\n"),
        "{text}"
    );

    let snmp_before = write("snmp-v1-v2c.pcap", "snmp-before.json");
    let snmp_after = write("snmp-v3-authpriv.pcap", "snmp-after.json");
    let snmp = diff_json(&snmp_before, &snmp_after);
    assert_eq!(
        changes(&snmp["fixed"]),
        [
            "medium 4001 dect snmp 127.0.0.1:1161/UDP 2→0",
            "medium 4002 dect snmp 127.0.0.1:1161/UDP 2→0",
        ]
    );
    assert_eq!(changes(&snmp["new"]), Vec::<String>::new());
    // The DECT system's SNMP channel: in clear before, secure as documented after.
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(&snmp_after).expect("read")).expect("JSON");
    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(&snmp_before).expect("read")).expect("JSON");
    assert_eq!(before["systems"][0]["channels"][3]["status"], "clear");
    assert_eq!(after["systems"][0]["channels"][3]["status"], "secure");

    // A report of another schema is refused, named.
    let old = dir.join("old.json");
    std::fs::write(&old, "{\"schema\": \"cleartrace-report/1\"}").expect("write");
    let refused = cleartrace(&["diff", &path(&old), &path(&snmp_after)]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("cleartrace-report/1"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `analyze --baseline`: the comparison in the report, `--fail-on` on new findings only.
#[test]
fn baseline_gates_on_new_findings_only() {
    let dir = common::tempdir();
    let before = dir.join("before.json");
    json_report(&[&pcap("tls10.pcap")], &dir, "before.json", &[]);
    let baseline = path(&before);
    // Hardened: nothing new, two fixed; the gate passes.
    let (html, run) = run_report(
        &[&pcap("tls12-port-4433.pcap")],
        &dir,
        "after.html",
        &["--baseline", &baseline, "--fail-on", "low"],
    );
    assert_eq!(run.output.status.code(), Some(0));
    assert!(html.contains("<h3 id=\"changes-new\">New: 0</h3>"), "new");
    assert!(
        html.contains("<h3 id=\"changes-fixed\">Fixed: 2</h3>"),
        "fixed"
    );
    // Unchanged: the same weakness again is not new; `--fail-on high` without a
    // baseline would trip, with it it does not.
    let same = common::analyze(
        &[&pcap("tls10.pcap")],
        &["--quiet", "--baseline", &baseline, "--fail-on", "high"],
    );
    assert_eq!(same.output.status.code(), Some(0), "{}", same.stderr);
    let plain = common::analyze(&[&pcap("tls10.pcap")], &["--quiet", "--fail-on", "high"]);
    assert_eq!(plain.output.status.code(), Some(3));
    // A regression: new findings at or above the threshold fail the job.
    let after = dir.join("after.json");
    json_report(&[&pcap("tls12-port-4433.pcap")], &dir, "after.json", &[]);
    let worse = common::analyze(
        &[&pcap("tls10.pcap")],
        &["--quiet", "--baseline", &path(&after), "--fail-on", "high"],
    );
    assert_eq!(worse.output.status.code(), Some(3));
    let below = common::analyze(
        &[&pcap("tls10.pcap")],
        &[
            "--quiet",
            "--baseline",
            &path(&after),
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(below.output.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tool(name: &str, require: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os(require).is_none(),
            "{name} required but not installed"
        );
        eprintln!("{name} not installed: skipped");
    }
    found
}

/// Parts of a report that must not depend on how the inputs were batched.
fn batch_invariant(report: &Value) -> Value {
    let mut findings: Vec<Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let hosts: BTreeSet<String> = f["hosts"]
                .as_array()
                .expect("hosts")
                .iter()
                .map(|h| h.to_string())
                .collect();
            let evidence: BTreeSet<String> = f["evidence"]
                .as_array()
                .expect("evidence")
                .iter()
                .map(|e| e.to_string())
                .collect();
            json!([
                f["rule_id"],
                f["severity"],
                f["alerts"],
                f["matches"],
                hosts,
                evidence,
                f["first_seen"],
                f["last_seen"],
                f["personal_data"]
            ])
        })
        .collect();
    findings.sort_by_key(|f| f[0].as_u64());
    let mut services: Vec<Value> = report["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let mut clients: Vec<Value> = s["clients"].as_array().cloned().unwrap_or_default();
            clients.sort_by_key(|c| c.to_string());
            s["clients"] = json!(clients);
            s
        })
        .collect();
    services.sort_by_key(|s| {
        format!(
            "{}:{}/{}/{}",
            s["server"], s["port"], s["transport"], s["app_proto"]
        )
    });
    let mut inputs: Vec<Value> = report["inputs"].as_array().cloned().unwrap_or_default();
    inputs.sort_by_key(|i| i["name"].to_string());
    json!({
        "verdict": report["verdict"],
        "protocols": report["protocols"],
        "tls_versions": report["tls_versions"],
        "findings": findings,
        "services": services,
        "systems": report["systems"],
        "systems_not_seen": report["systems_not_seen"],
        "timeline": report["timeline"],
        "inputs": inputs,
        "time_span": report["time_span"],
        "packets": report["packets"],
        "bytes": report["bytes"],
        "limits": report["limits"],
    })
}

/// A batch split with GNU parallel, one JSON report per capture, merged: the same
/// report as one run over the folder.
#[test]
fn reports_of_batches_split_by_gnu_parallel_merge_into_one() {
    if !tool("parallel", "CLEARTRACE_REQUIRE_PARALLEL") {
        return;
    }
    let dir = common::tempdir();
    let pcaps = common::repo().join("pcaps");
    let whole = json_report(&[&pcaps], &dir, "whole.json", &[]);
    let parts = dir.join("parts");
    std::fs::create_dir_all(&parts).expect("mkdir");
    // As README.md documents it.
    let split = Command::new("parallel")
        .args(["--will-cite", "--halt", "now,fail=1", "-j", "2"])
        .arg(format!(
            "{} analyze {{}} --quiet --alerts /dev/null --report {}/{{/.}}.json",
            env!("CARGO_BIN_EXE_cleartrace"),
            parts.display()
        ))
        .arg(":::")
        .args(
            std::fs::read_dir(&pcaps)
                .expect("pcaps/")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng")),
        )
        .output()
        .expect("run parallel");
    assert!(
        split.status.success(),
        "{}",
        String::from_utf8_lossy(&split.stderr)
    );
    let mut jsons: Vec<String> = std::fs::read_dir(&parts)
        .expect("parts")
        .filter_map(|e| e.ok().map(|e| path(&e.path())))
        .collect();
    jsons.sort();
    assert!(jsons.len() > 40, "{jsons:?}");
    let merged = dir.join("all.json");
    let mut args = vec!["report", "merge"];
    args.extend(jsons.iter().map(String::as_str));
    let merged_arg = path(&merged);
    args.extend(["--report", &merged_arg]);
    let out = cleartrace(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&merged).expect("merged");
    assert_no_secrets(&text, "the merged report");
    let merged: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(batch_invariant(&merged), batch_invariant(&whole));
    // The page of the merge.
    let html = dir.join("all.html");
    let html_arg = path(&html);
    let mut args = vec!["report", "merge"];
    args.extend(jsons.iter().map(String::as_str));
    args.extend(["--report", &html_arg]);
    assert_eq!(cleartrace(&args).status.code(), Some(0));
    let page = std::fs::read_to_string(&html).expect("page");
    assert_no_secrets(&page, "the merged page");
    assert!(page.contains("<table id=\"custody-table\">"));
    // Never over an input.
    let mut args = vec!["report", "merge"];
    args.extend(jsons.iter().map(String::as_str));
    args.extend(["--report", &jsons[0]]);
    assert_eq!(cleartrace(&args).status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The page: self-contained (only in-page links), masked, with every section, and as
/// Chromium renders it.
#[test]
fn html_report_is_self_contained_masked_and_renders() {
    let dir = common::tempdir();
    let baseline = dir.join("baseline.json");
    json_report(&[&pcap("tls10.pcap")], &dir, "baseline.json", &[]);
    let (html, run) = run_report(
        &[&common::repo().join("pcaps")],
        &dir,
        "report.html",
        &["--site", "Demo site", "--baseline", &path(&baseline)],
    );
    for fetch in ["src=", "url(", "@import", "http://", "https://", "<script"] {
        assert!(!html.contains(fetch), "{fetch} in the report");
    }
    assert_eq!(
        html.matches("href=").count(),
        html.matches("href=\"#").count(),
        "only links within the page"
    );
    assert_no_secrets(&html, "the report");
    let critical = run
        .alerts
        .iter()
        .filter(|a| a["alert"]["severity_name"] == "critical")
        .count();
    assert!(html.contains(&format!(
        "<div id=\"count-critical\" style=\"background:#8b0000\"><b>{critical}</b>critical</div>"
    )));
    let total = run.alerts.len();
    assert!(
        html.contains(&format!(
            "<p id=\"verdict-line\">{total} alerts; the worst is <b>critical</b>.</p>"
        )),
        "alerts, not findings"
    );
    // Thousands separators: the size of axi.pcap (1622 bytes) in the chain of custody.
    assert!(
        html.contains("<td class=\"n\">1,622</td>"),
        "thousands separators"
    );

    let sections = [
        "id=\"contents\"",
        "id=\"executive-summary\"",
        "id=\"system-pbx\"",
        "id=\"system-dect\"",
        "id=\"system-micc-office\"",
        "Personal-data flow map: DECT system",
        "id=\"undocumented\"",
        "id=\"worst-hosts\"",
        "id=\"changes-fixed\"",
        "id=\"timeline-chart\"",
        "time since the first alert",
        "id=\"limits-table\"",
        "id=\"custody-table\"",
        "<td>person_name</td><td><code>J*** D**</code></td>",
        "<dd>Demo site</dd>",
    ];
    for s in sections {
        assert!(html.contains(s), "{s} missing");
    }

    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(chromium) = chromium else {
        assert!(
            std::env::var_os("CLEARTRACE_REQUIRE_CHROMIUM").is_none(),
            "chromium required but not installed"
        );
        eprintln!("chromium not installed: rendering skipped");
        return;
    };
    let page = dir.join("report.html");
    let shot = common::repo().join("target").join("report-screenshot.png");
    // The target directory may live elsewhere (CARGO_TARGET_DIR): make this one.
    std::fs::create_dir_all(shot.parent().expect("parent")).expect("target/");
    let profile = dir.join("profile");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = format!("file://{}", page.display());
    let dom = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(
        dom_text.contains("id=\"verdict-line\""),
        "page did not load: {log}"
    );
    assert!(dom_text.contains(&format!("<b>{critical}</b>critical")));
    for s in sections {
        assert!(dom_text.contains(s), "{s} not in the rendered page");
    }
    assert_eq!(
        dom_text.matches("<svg").count(),
        html.matches("<svg").count()
    );
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console_errors.is_empty(), "console: {console_errors:?}");
    let shot_run = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1200,9000")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot_run.stderr)
    );
    // And as printed on A4.
    let pdf = common::repo().join("target").join("report.pdf");
    let _ = std::fs::remove_file(&pdf);
    let printed = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    let pdf_bytes = std::fs::read(&pdf).unwrap_or_default();
    assert!(
        pdf_bytes.starts_with(b"%PDF"),
        "no PDF: {}",
        String::from_utf8_lossy(&printed.stderr)
    );
    // A4 is 595 × 842 points.
    let text = String::from_utf8_lossy(&pdf_bytes);
    let media_box: Vec<f64> = text
        .split("/MediaBox [0 0 ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .map(|dims| {
            dims.split_whitespace()
                .filter_map(|d| d.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        matches!(media_box.as_slice(), [w, h] if (w - 595.0).abs() < 1.0 && (h - 842.0).abs() < 1.0),
        "not A4: {media_box:?}"
    );
    eprintln!(
        "report screenshot: {}, print: {}",
        shot.display(),
        pdf.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
