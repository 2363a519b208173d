//! EVE shipped to a real syslog collector (issue 17): Debian's rsyslogd, started here
//! on a loopback port with `imtcp`, writing each message's MSG to a file. Skipped when
//! rsyslogd is missing, unless CI asks for it (`CLEARTRACE_REQUIRE_RSYSLOG`).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cleartrace::output::syslog::{SyslogStats, SyslogStream};
use serde_json::Value;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// An rsyslogd of our own: its config, spool and output under `dir`.
struct Collector {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Collector {
    /// Listens on a port the kernel picks, written by rsyslogd to a file: a port picked
    /// here and bound later could be taken in between by any other test on the machine,
    /// whose collector would then get our lines.
    fn start(dir: &Path) -> Collector {
        Collector::start_on(dir, 0)
    }

    /// Listens on `port` (0: the kernel picks).
    fn start_on(dir: &Path, port: u16) -> Collector {
        let conf = dir.join("rsyslog.conf");
        let port_file = dir.join("rsyslog.port");
        let _ = std::fs::remove_file(&port_file);
        let d = dir.display();
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{d}" maxMessageSize="256k")
module(load="imtcp")
template(name="msg" type="string" string="%msg%\n")
ruleset(name="eve") {{
  action(type="omfile" file="{d}/eve.log" template="msg" asyncWriting="off" flushOnTXEnd="on")
}}
input(type="imtcp" address="127.0.0.1" port="{port}" listenPortFileName="{d}/rsyslog.port" ruleset="eve")
"#
            ),
        )
        .expect("write rsyslog.conf");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        let mut collector = Collector {
            dir: dir.to_path_buf(),
            port,
            child: Some(child),
        };
        // The port file is written once the socket listens, if the kernel picked it.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let listening = match port {
                0 => std::fs::read_to_string(&port_file)
                    .ok()
                    .and_then(|p| p.trim().parse::<u16>().ok()),
                _ => std::net::TcpStream::connect(("127.0.0.1", port))
                    .is_ok()
                    .then_some(port),
            };
            if let Some(listening) = listening {
                collector.port = listening;
                break;
            }
            if let Some(Ok(Some(status))) = collector.child.as_mut().map(Child::try_wait) {
                panic!("rsyslogd exited ({status}) before listening on {port}");
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        collector
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: rsyslogd closes its connections and flushes the file.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("eve.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Waits until the file holds `n` lines (or more).
    fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.lines();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

fn rsyslog_available() -> bool {
    let present = Path::new(RSYSLOGD).exists();
    if !present {
        assert!(
            std::env::var_os("CLEARTRACE_REQUIRE_RSYSLOG").is_none(),
            "CLEARTRACE_REQUIRE_RSYSLOG set but {RSYSLOGD} is missing"
        );
        eprintln!("{RSYSLOGD} missing: skipped");
    }
    present
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `analyze --alerts syslog://… --flows syslog://…`: the collector gets exactly the
/// lines a file would have, one RFC 5424 message each.
#[test]
fn analyze_ships_every_line_to_rsyslog() {
    if !rsyslog_available() {
        return;
    }
    let dir = common::tempdir();
    let collector = Collector::start(&dir);
    let capture = common::repo().join("pcaps/sip-udp-g711-dtmf.pcap");
    let target = format!("syslog://127.0.0.1:{}", collector.port);
    let shipped = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .arg("analyze")
        .arg(&capture)
        .args(["--quiet", "--sensor-name", "span-7", "--alerts", &target])
        .args(["--flows", &target])
        .output()
        .expect("run cleartrace");
    assert!(
        shipped.status.success(),
        "{}",
        String::from_utf8_lossy(&shipped.stderr)
    );
    let to_file = common::analyze(&[&capture], &["--quiet", "--sensor-name", "span-7"]);
    let want: BTreeSet<String> = to_file
        .alerts
        .iter()
        .chain(&to_file.flows)
        .map(Value::to_string)
        .collect();
    assert!(want.len() >= 6);
    let got: BTreeSet<String> = collector
        .wait_for(want.len())
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not JSON {l:?}: {e}"))
                .to_string()
        })
        .collect();
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(&dir);
}

fn line(n: usize) -> String {
    format!(
        "{{\"event_type\":\"flow\",\"flow_id\":{n},\"pad\":\"{}\"}}\n",
        "x".repeat(200)
    )
}

/// The collector restarts: the sender reconnects by itself; while it is down at most
/// the queue's bytes are held, the rest dropped and counted; no line is lost silently.
#[test]
fn reconnects_after_collector_restart_and_counts_drops() {
    if !rsyslog_available() {
        return;
    }
    let dir = common::tempdir();
    let mut collector = Collector::start(&dir);
    let port = collector.port;
    let limit = 16 * 1024;
    let stats = Arc::new(SyslogStats::default());
    let target = format!("127.0.0.1:{port}");
    let mut stream =
        SyslogStream::with_limit(&target, Some("t"), limit, Arc::clone(&stats)).expect("target");
    let mut written = 0;
    for _ in 0..5 {
        stream.write_all(line(written).as_bytes()).expect("write");
        written += 1;
    }
    assert_eq!(collector.wait_for(5).len(), 5);

    collector.stop();
    // About 60 KB while nobody listens: more than the 16 KiB the queue may hold.
    for _ in 0..250 {
        stream.write_all(line(written).as_bytes()).expect("write");
        written += 1;
    }
    // The writer notices the closed collector on its own thread: wait for it rather
    // than for a fixed time, which a loaded machine (CI, parallel tests) overruns.
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.dropped.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(stats.dropped.load(Ordering::Relaxed) > 0, "nothing dropped");

    let collector = Collector::start_on(&dir, port);
    for _ in 0..5 {
        stream.write_all(line(written).as_bytes()).expect("write");
        written += 1;
    }
    drop(stream); // drains what the queue holds
    let sent = stats.sent.load(Ordering::Relaxed) as usize;
    let dropped = stats.dropped.load(Ordering::Relaxed) as usize;
    let received = collector.wait_for(sent);
    eprintln!("written {written}, sent {sent}, dropped {dropped}");
    assert_eq!(
        received.len(),
        sent,
        "sent {sent}, collector has {}",
        received.len()
    );
    assert_eq!(sent + dropped, written, "lines unaccounted for");
    assert!(stats.reconnects.load(Ordering::Relaxed) >= 1);
    // The oldest were dropped: what came after the restart is all there, in order.
    let ids: Vec<u64> = received
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["flow_id"].as_u64())
        .collect();
    assert_eq!(&ids[..5], &[0, 1, 2, 3, 4]);
    let last: Vec<u64> = ids[ids.len() - 5..].to_vec();
    let expected_last: Vec<u64> = (written as u64 - 5..written as u64).collect();
    assert_eq!(last, expected_last);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order");
    assert!(dropped < 250 && sent > 10, "sent {sent}, dropped {dropped}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Nobody listens: the run does not hang, and what could not be delivered is an error
/// naming the output, never a silent exit 0 (DESIGN §9).
#[test]
fn undeliverable_lines_fail_the_run() {
    let target = format!("syslog://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .arg("analyze")
        .arg(common::repo().join("pcaps/tls10.pcap"))
        .args(["--quiet", "--alerts", &target])
        .output()
        .expect("run cleartrace");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("syslog: 2 EVE lines could not be delivered (0 sent)"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
