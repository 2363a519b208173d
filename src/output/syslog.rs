//! EVE lines shipped to a syslog collector, the way SIEMs take Suricata's EVE without a
//! file: RFC 5424 messages over TCP with RFC 6587 octet-counting framing (rsyslog's
//! `imtcp`, syslog-ng's `syslog()` source, Splunk and QRadar TCP inputs read it).
//!
//! The analysis never waits for the network: lines go into a bounded queue that one
//! sender thread drains. While the collector is down the queue fills up to
//! [`QUEUE_BYTES`]; past that the oldest lines are dropped and counted, so what the
//! collector gets after an outage is the most recent state. The sender reconnects
//! with a backoff and notices a collector that went away before it writes (a TCP
//! write to a closed peer "succeeds" once and loses the line).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::timestamp::Timestamp;

/// The `--alerts` / `--flows` prefix that selects this output: `syslog://HOST:PORT`.
pub const SCHEME: &str = "syslog://";

/// Our own cap on lines held while the collector is unreachable (about 10 000 alert
/// lines); memory stays bounded however long the outage.
pub const QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// Facility local5, severity informational: Suricata's defaults for EVE to syslog.
const PRIORITY: u8 = 21 * 8 + 6;

/// First wait before reconnecting; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long closing the output waits for the queue to drain before counting the rest
/// as dropped, so a dead collector never holds up the end of a run for long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum SyslogError {
    #[error("{target}: not HOST:PORT ({source})")]
    Address { target: String, source: io::Error },
    #[error("{target}: cannot start the sender thread ({source})")]
    Thread { target: String, source: io::Error },
}

/// What the sender did, readable while it runs and after it ended.
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// Lines the collector accepted (written to its socket).
    pub sent: AtomicU64,
    /// Lines dropped: the queue was full, or the collector was still unreachable when
    /// the output closed.
    pub dropped: AtomicU64,
    /// Connections made after the first one.
    pub reconnects: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// Framed messages with their sequence numbers.
    lines: VecDeque<(u64, Vec<u8>)>,
    next: u64,
    bytes: usize,
    closing: bool,
    /// The line the sender is writing. Pushed out of the queue meanwhile, it is counted
    /// by the sender once the write ends (sent or dropped), not by `enqueue`: counted
    /// there, a line delivered after all was both sent and dropped.
    in_flight: Option<u64>,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    stats: Arc<SyslogStats>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A sender that panicked leaves a consistent queue behind: keep using it.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A [`Write`] that turns each JSON line into one syslog message.
pub struct SyslogStream {
    /// Bytes of a line not yet ended by `\n`.
    partial: Vec<u8>,
    /// The line being received outgrew the queue: it is skipped up to its `\n` and
    /// counted as dropped, never sent cut short.
    overlong: bool,
    /// RFC 5424 HOSTNAME and PROCID.
    hostname: String,
    pid: u32,
    limit: usize,
    shared: Arc<Shared>,
    sender: Option<JoinHandle<()>>,
}

impl SyslogStream {
    /// Starts shipping to `target` (`HOST:PORT`, TCP). The collector need not be up
    /// yet; `hostname` is the RFC 5424 HOSTNAME (the sensor's name, else `-`). What
    /// the sender does adds to `stats`, which may outlive the stream (the live sensor
    /// keeps one across SIGHUP reopenings).
    pub fn connect(
        target: &str,
        hostname: Option<&str>,
        stats: Arc<SyslogStats>,
    ) -> Result<Self, SyslogError> {
        Self::with_limit(target, hostname, QUEUE_BYTES, stats)
    }

    /// As [`SyslogStream::connect`], holding at most `limit` bytes while the
    /// collector is down.
    pub fn with_limit(
        target: &str,
        hostname: Option<&str>,
        limit: usize,
        stats: Arc<SyslogStats>,
    ) -> Result<Self, SyslogError> {
        // Checked now so a typo is a usage error, resolved again at each connection
        // so a collector that moves to another address is followed.
        target
            .to_socket_addrs()
            .map_err(|source| SyslogError::Address {
                target: target.to_string(),
                source,
            })?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            stats,
        });
        let sender = {
            let shared = Arc::clone(&shared);
            let owned = target.to_string();
            std::thread::Builder::new()
                .name("eve-syslog".into())
                .spawn(move || send_loop(&owned, &shared))
                .map_err(|source| SyslogError::Thread {
                    target: target.to_string(),
                    source,
                })?
        };
        Ok(SyslogStream {
            partial: Vec::new(),
            overlong: false,
            hostname: hostname
                .map(sanitise_header)
                .unwrap_or_else(|| "-".to_string()),
            pid: std::process::id(),
            limit,
            shared,
            sender: Some(sender),
        })
    }

    /// One RFC 5424 message around `line`, framed with its length (RFC 6587 §3.4.1).
    /// MSGID is the event type so a collector can route alerts and flows apart.
    fn frame(&self, line: &[u8]) -> Vec<u8> {
        let msgid = event_type(line).unwrap_or("-");
        let header = format!(
            "<{PRIORITY}>1 {} {} cleartrace {} {msgid} - ",
            Timestamp::now().rfc3339(),
            self.hostname,
            self.pid,
        );
        let length = header.len() + line.len();
        let mut framed = Vec::with_capacity(length + 8);
        framed.extend_from_slice(format!("{length} ").as_bytes());
        framed.extend_from_slice(header.as_bytes());
        framed.extend_from_slice(line);
        framed
    }

    fn enqueue(&self, message: Vec<u8>) {
        let mut queue = self.shared.lock();
        if message.len() > self.limit {
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        while queue.bytes + message.len() > self.limit {
            let Some((seq, oldest)) = queue.lines.pop_front() else {
                break;
            };
            queue.bytes -= oldest.len();
            if queue.in_flight != Some(seq) {
                self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        queue.bytes += message.len();
        let seq = queue.next;
        queue.next += 1;
        queue.lines.push_back((seq, message));
        drop(queue);
        self.shared.wake.notify_one();
    }
}

impl Write for SyslogStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if std::mem::take(&mut self.overlong) {
                self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            } else if self.partial.is_empty() {
                self.enqueue(self.frame(&rest[..end]));
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                let line = std::mem::take(&mut self.partial);
                self.enqueue(self.frame(&line));
            }
            rest = &rest[end + 1..];
        }
        // A line longer than the queue could never be sent: stop holding it.
        if !self.overlong && self.partial.len() + rest.len() > self.limit {
            self.overlong = true;
            self.partial = Vec::new();
        }
        if !self.overlong {
            self.partial.extend_from_slice(rest);
        }
        Ok(buf.len())
    }

    /// Lines are handed to the sender as they end; flushing never waits for the
    /// network (the live sensor flushes on a timer, with the collector maybe down).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogStream {
    /// Lets the sender deliver what is queued (for at most [`DRAIN_TIMEOUT`]).
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

/// The `event_type` of an EVE line, for MSGID: found without parsing the line again.
fn event_type(line: &[u8]) -> Option<&'static str> {
    ["alert", "flow"].into_iter().find(|t| {
        let needle = format!("\"event_type\":\"{t}\"");
        memchr::memmem::find(line, needle.as_bytes()).is_some()
    })
}

/// RFC 5424 §6.2.4: HOSTNAME is printable US-ASCII without spaces, at most 255 chars.
fn sanitise_header(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if clean.is_empty() {
        "-".to_string()
    } else {
        clean
    }
}

fn send_loop(target: &str, shared: &Shared) {
    let mut connection: Option<TcpStream> = None;
    let mut connected_before = false;
    let mut backoff = MIN_BACKOFF;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        let (seq, message) = {
            let mut queue = shared.lock();
            while queue.lines.is_empty() && !queue.closing {
                queue = shared.wake.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
            if queue.closing {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_TIMEOUT);
                if queue.lines.is_empty() || Instant::now() >= deadline {
                    let left = queue.lines.len() as u64;
                    shared.stats.dropped.fetch_add(left, Ordering::Relaxed);
                    queue.lines.clear();
                    queue.bytes = 0;
                    return;
                }
            }
            match queue.lines.front() {
                Some(front) => front.clone(),
                None => continue,
            }
        };
        if connection.as_ref().is_some_and(|c| !peer_open(c)) {
            connection = None;
        }
        if connection.is_none() {
            match open(target) {
                Ok(stream) => {
                    if connected_before {
                        shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    connected_before = true;
                    backoff = MIN_BACKOFF;
                    connection = Some(stream);
                }
                Err(_) => {
                    wait(shared, backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(stream) = connection.as_mut() else {
            continue;
        };
        {
            let mut queue = shared.lock();
            if queue.lines.front().is_none_or(|(front, _)| *front != seq) {
                continue; // pushed out (and counted) while connecting
            }
            queue.in_flight = Some(seq);
        }
        let written = stream.write_all(&message).is_ok();
        let mut queue = shared.lock();
        queue.in_flight = None;
        // `enqueue` may have pushed it out meanwhile, leaving the count to us.
        let still_queued = queue.lines.front().is_some_and(|(front, _)| *front == seq);
        if written {
            if still_queued {
                queue.lines.pop_front();
                queue.bytes -= message.len();
            }
            shared.stats.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            if !still_queued {
                shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            connection = None;
        }
    }
}

fn open(target: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in target.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                stream.set_write_timeout(Some(CONNECT_TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Whether the collector still holds its end: it never sends, so a readable socket
/// means it closed (EOF) or reset.
fn peer_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(
        stream.peek(&mut [0u8; 1]),
        Err(ref e) if e.kind() == io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).is_ok() && open
}

/// Sleeps `pause` before the next connection attempt, or the shortest backoff once
/// the output is closing (still retrying until the drain deadline, without spinning).
fn wait(shared: &Shared, pause: Duration) {
    let queue = shared.lock();
    let pause = if queue.closing { MIN_BACKOFF } else { pause };
    let _ = shared.wake.wait_timeout(queue, pause);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_rfc5424_with_octet_count() {
        let stats = Arc::default();
        let stream = SyslogStream::with_limit("127.0.0.1:9", Some("span 1"), 1024, stats).unwrap();
        let line = br#"{"event_type":"alert","x":1}"#;
        let framed = stream.frame(line);
        let text = String::from_utf8(framed).unwrap();
        let (length, message) = text.split_once(' ').unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), message.len());
        assert!(message.starts_with("<174>1 "), "{message}");
        let fields: Vec<&str> = message.splitn(8, ' ').collect();
        assert!(fields[1].ends_with('Z'), "{message}");
        assert_eq!(fields[2], "span1");
        assert_eq!(fields[3], "cleartrace");
        assert_eq!(fields[5], "alert");
        assert_eq!(fields[6], "-");
        assert_eq!(fields[7].as_bytes(), line);
    }

    /// A line that outgrows the queue is dropped whole (counted), never sent cut
    /// short; the next line goes through.
    #[test]
    fn overlong_line_is_dropped_whole() {
        let stats: Arc<SyslogStats> = Arc::default();
        // A port nobody listens on: the line stays queued where the test can see it.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = closed.local_addr().unwrap().to_string();
        drop(closed);
        let mut stream = SyslogStream::with_limit(&target, None, 400, Arc::clone(&stats)).unwrap();
        stream.write_all(&[b'x'; 300]).unwrap();
        stream.write_all(&[b'y'; 300]).unwrap();
        stream.write_all(b"z\n{\"event_type\":\"flow\"}\n").unwrap();
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 1);
        let queue = stream.shared.lock();
        assert_eq!(queue.lines.len(), 1);
        assert!(queue.lines[0].1.ends_with(b"- {\"event_type\":\"flow\"}"));
    }

    /// The queue overflows while the sender is stuck writing its front line to a
    /// collector that does not read: that line, pushed out of the queue and then
    /// delivered, counts as sent only. Every line is sent or dropped, once.
    #[test]
    fn a_line_pushed_out_while_in_flight_is_counted_once() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap().to_string();
        let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
        let collector = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            wait_for_go.recv().unwrap();
            let mut received = Vec::new();
            peer.read_to_end(&mut received).unwrap();
            received
        });
        let stats: Arc<SyslogStats> = Arc::default();
        let mut stream =
            SyslogStream::with_limit(&target, None, 16 * 1024, Arc::clone(&stats)).unwrap();
        let pad = "x".repeat(1000);
        let mut written = 0u64;
        let pushed_out_in_flight = |stream: &SyslogStream| {
            let queue = stream.shared.lock();
            queue
                .in_flight
                .is_some_and(|seq| queue.lines.front().is_none_or(|(front, _)| *front != seq))
        };
        // The first overflow pushes out the line in flight itself, which is not a drop;
        // go on until a queued line is dropped too.
        let mut seen_pushed_out = false;
        while !(seen_pushed_out && stats.dropped.load(Ordering::Relaxed) > 0) {
            seen_pushed_out |= pushed_out_in_flight(&stream);
            assert!(written < 1_000_000, "the sender never blocked");
            writeln!(
                stream,
                r#"{{"event_type":"flow","flow_id":{written},"p":"{pad}"}}"#
            )
            .unwrap();
            written += 1;
            if written % 64 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        go.send(()).unwrap();
        drop(stream);
        let received = collector.join().unwrap();
        let frames = memchr::memmem::find_iter(&received, b"\"flow_id\"").count() as u64;
        let sent = stats.sent.load(Ordering::Relaxed);
        let dropped = stats.dropped.load(Ordering::Relaxed);
        assert_eq!(frames, sent, "collector got {frames}, sent {sent}");
        assert_eq!(sent + dropped, written, "sent {sent}, dropped {dropped}");
        assert!(dropped > 0);
    }

    #[test]
    fn bad_target_is_an_error() {
        assert!(SyslogStream::connect("no-port", None, Arc::default()).is_err());
    }
}
