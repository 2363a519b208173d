//! The auditor's report of the bundled captures: JSON against the alerts of the same
//! run, HTML self-contained and free of planted values, rendered in headless Chromium
//! (when installed; CI installs it and sets CLEARTRACE_REQUIRE_CHROMIUM=1).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn run_report(dir: &Path, name: &str) -> (String, common::Run) {
    let report = dir.join(name);
    let arg = report.display().to_string();
    let run = common::analyze(
        &[&common::repo().join("pcaps")],
        &["--quiet", "--report", &arg],
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    (
        std::fs::read_to_string(&report).expect("report written"),
        run,
    )
}

#[test]
fn json_report_agrees_with_the_alerts() {
    let dir = common::tempdir();
    let (text, run) = run_report(&dir, "report.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(report["schema"], "cleartrace-report/1");
    for secret in [
        "LEAKCHECK",
        "jane.doe",
        "4111 1111 1111 1111",
        "1632 960961",
        "123-45-6789",
        "Jane Doe",
        "WVNf",
    ] {
        assert!(!text.contains(secret), "{secret} in the JSON report");
    }
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
    for pair in report["verdict"]["alerts_by_severity"]
        .as_array()
        .expect("array")
    {
        let name = pair[0].as_str().unwrap_or("");
        assert_eq!(
            pair[1].as_u64(),
            Some(by_severity.get(name).copied().unwrap_or(0)),
            "{name}"
        );
    }
    assert_eq!(
        report["verdict"]["flows"].as_u64(),
        Some(run.flows.len() as u64)
    );
    let rules: Vec<u64> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule_id"].as_u64())
        .collect();
    assert!(
        rules.contains(&2003) && rules.contains(&1001) && rules.contains(&5001),
        "{rules:?}"
    );
    let first = &report["findings"][0];
    assert_eq!(first["severity_name"], "critical", "worst first");
    assert!(first["remediation"].as_str().is_some_and(|r| !r.is_empty()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn html_report_is_self_contained_masked_and_renders() {
    let dir = common::tempdir();
    let (html, run) = run_report(&dir, "report.html");
    for fetch in [
        "src=", "href=", "url(", "@import", "http://", "https://", "<script",
    ] {
        assert!(!html.contains(fetch), "{fetch} in the report");
    }
    for secret in [
        "LEAKCHECK",
        "jane.doe",
        "4111 1111 1111 1111",
        "1632 960961",
        "123-45-6789",
        "Jane Doe",
        "WVNf",
    ] {
        assert!(!html.contains(secret), "{secret} in the report");
    }
    let critical = run
        .alerts
        .iter()
        .filter(|a| a["alert"]["severity_name"] == "critical")
        .count();
    assert!(html.contains(&format!(
        "<div id=\"count-critical\" style=\"background:#8b0000\"><b>{critical}</b>critical</div>"
    )));

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
        dom_text.contains("id=\"verdict\""),
        "page did not load: {log}"
    );
    assert!(dom_text.contains(&format!("<b>{critical}</b>critical")));
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console_errors.is_empty(), "console: {console_errors:?}");
    let shot_run = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--window-size=1200,3000")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot_run.stderr)
    );
    eprintln!("report screenshot: {}", shot.display());
    let _ = std::fs::remove_dir_all(&dir);
}
