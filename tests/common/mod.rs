//! Shared helpers: run the real binary, read its JSON lines.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn corpus() -> Option<PathBuf> {
    let dir = repo().join("../shared/corpus");
    dir.join("MANIFEST.tsv").exists().then_some(dir)
}

/// Output of one `cleartrace analyze` run.
pub struct Run {
    pub output: Output,
    pub alerts: Vec<Value>,
    pub flows: Vec<Value>,
    pub stderr: String,
}

fn read_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

pub fn analyze(inputs: &[&Path], extra: &[&str]) -> Run {
    let dir = tempdir();
    let alerts = dir.join("alerts.json");
    let flows = dir.join("flows.json");
    let output = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .arg("analyze")
        .args(inputs)
        .arg("--alerts")
        .arg(&alerts)
        .arg("--flows")
        .arg(&flows)
        .args(extra)
        .output()
        .expect("run cleartrace");
    let run = Run {
        alerts: read_lines(&alerts),
        flows: read_lines(&flows),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    };
    let _ = std::fs::remove_dir_all(&dir);
    run
}

pub fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cleartrace-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
