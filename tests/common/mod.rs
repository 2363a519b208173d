//! Shared helpers: run the real binary, read its JSON lines.

#![allow(dead_code)]

pub mod attacks;

use std::net::Ipv4Addr;
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

/// Ethernet + IPv4 + UDP/TCP (PSH+ACK, sequence number derived from `seq`) around
/// `payload`, for tests that build their own frames.
pub fn ipv4_frame(
    udp: bool,
    (src, sport): (Ipv4Addr, u16),
    (dst, dport): (Ipv4Addr, u16),
    seq: u32,
    payload: &[u8],
) -> Vec<u8> {
    let (protocol, l4) = if udp {
        (17, attacks::udp(sport, dport, payload))
    } else {
        let seq = seq.wrapping_mul(977);
        (6, attacks::tcp(sport, dport, seq, 0x18, payload))
    };
    attacks::ipv4(src.octets(), dst.octets(), protocol, 0, 0x4000, &l4)
}

/// Runs `capture` and checks it holds one SMB flow with this encryption and this `smb`
/// flow object (dialect, signing, obsolete); returns the run for further checks.
pub fn check_smb_session(capture: &Path, encrypted: bool, smb: &Value) -> Run {
    let run = analyze(&[capture], &["--quiet"]);
    let file = capture.display();
    let [flow] = run.flows.as_slice() else {
        panic!("{file}: one flow expected, got {:?}", run.flows);
    };
    assert_eq!(flow["app_proto"], "smb", "{file}");
    assert_eq!(flow["dest_port"], 445, "{file}");
    assert_eq!(flow["encrypted"], encrypted, "{file}");
    assert_eq!(&flow["smb"], smb, "{file}");
    run
}
