//! Flows sharded across worker threads, for large files (`analyze --workers N`) and the
//! live sensor. One reader hands packets to N workers, each with its own engine; a
//! symmetric hash of the IP address pair picks the worker, so both directions of a
//! flow meet on one engine.
//!
//! Why the address pair and not the 5-tuple: IPv4 fragments after the first carry no
//! ports, and media anchored at a PBX shares the pair with the SIP dialog that
//! announced it, so both stay on the engine that holds the dialog's expectations. The
//! cost is balance on links where one pair carries everything (an SBC trunk).
//!
//! Packets travel in batches (one allocation reused for many frames) over bounded
//! queues. Offline, a full queue makes the reader wait; live, the capture must not
//! wait, so a full queue drops the batch and counts it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::Packet;
use crate::decode::tunnel::{self, TunnelConfig};
use crate::decode::{self, Network};
use crate::engine::{Engine, EngineStats};
use crate::output::{FlowEvent, Sink};
use crate::timestamp::Timestamp;

/// Frames per batch: large enough to make queue hand-offs rare, small enough that a
/// quiet live link still reaches its worker quickly (the capture also flushes on its
/// read timeout).
const BATCH_PACKETS: usize = 256;
/// Bytes per batch before it is handed over regardless of its frame count, so a
/// queue's memory is bounded by its length in batches even with 64 KiB frames
/// (GRO on loopback, jumbo frames): at most about 1 MiB + one frame per batch.
const BATCH_BYTES: usize = 1 << 20;
/// Capture time between clock ticks to every worker.
const TICK_INTERVAL: u64 = 1_000_000_000;
/// How often a worker publishes its counters for the metrics endpoint.
const PUBLISH_INTERVAL: Duration = Duration::from_millis(250);

/// Locks a mutex, also after another thread panicked holding it: counters and writers
/// stay usable, and losing a whole run to one poisoned lock would be worse.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A sink shared by the workers; each flow end is written whole under the lock.
pub struct SharedSink<S: ?Sized>(pub Arc<Mutex<S>>);

impl<S: ?Sized> Clone for SharedSink<S> {
    fn clone(&self) -> Self {
        SharedSink(Arc::clone(&self.0))
    }
}

impl<S: Sink + ?Sized> Sink for SharedSink<S> {
    fn flow_ended(&mut self, event: &FlowEvent<'_>) {
        lock(&self.0).flow_ended(event);
    }
}

/// Fragmented tunnel datagrams whose worker was chosen by their first fragment; more
/// at once and the table starts over (their later fragments then follow the outer
/// addresses).
const MAX_ROUTED_DATAGRAMS: usize = 4096;

/// Where the worker for a frame is: the same for both directions of a conversation.
/// Tunnelled traffic is placed by its innermost addresses; the fragments of a
/// tunnel datagram follow its first fragment, whose headers name them.
fn shard_of(
    frame: (i32, &[u8]),
    workers: usize,
    tunnels: &TunnelConfig,
    routed: &mut HashMap<(IpAddr, IpAddr, u32), u64>,
) -> usize {
    if workers <= 1 {
        return 0;
    }
    let hash = match decode::decode_network(frame.0, frame.1) {
        Ok(Network::Ip(ip)) => match ip.fragment {
            None => {
                let ip = tunnel::innermost(tunnels, ip);
                address_pair_hash(ip.src, ip.dst)
            }
            Some(fragment) => {
                let key = (ip.src, ip.dst, fragment.id);
                let inner = (fragment.offset == 0)
                    .then(|| tunnel::first_fragment_inner(tunnels, ip.protocol, ip.payload))
                    .flatten();
                match (inner, routed.get(&key)) {
                    (Some((src, dst)), _) => {
                        if routed.len() >= MAX_ROUTED_DATAGRAMS {
                            routed.clear();
                        }
                        let hash = address_pair_hash(src, dst);
                        routed.insert(key, hash);
                        hash
                    }
                    (None, Some(&hash)) => hash,
                    (None, None) => address_pair_hash(ip.src, ip.dst),
                }
            }
        },
        // Not IP or not decodable: one worker counts them all.
        _ => 0,
    };
    // Multiply-shift maps the hash onto 0..workers without a division's bias.
    ((u128::from(hash) * workers as u128) >> 64) as usize
}

fn address_pair_hash(a: IpAddr, b: IpAddr) -> u64 {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut hash = 0x9e37_79b9_7f4a_7c15u64;
    for addr in [low, high] {
        let bytes = match addr {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        for half in [bytes as u64, (bytes >> 64) as u64] {
            hash = (hash ^ half).wrapping_mul(0xff51_afd7_ed55_8ccd);
            hash ^= hash >> 33;
        }
    }
    hash
}

struct Frame {
    ts: Timestamp,
    linktype: i32,
    wire_len: u32,
    start: usize,
    end: usize,
}

/// Frames bound for one worker, copied into one buffer.
struct Batch {
    source: Arc<str>,
    data: Vec<u8>,
    frames: Vec<Frame>,
    /// Live capture time with no frame behind it, so idle flows still time out.
    clock: Option<Timestamp>,
}

impl Batch {
    fn new(source: Arc<str>) -> Self {
        Batch {
            source,
            data: Vec::with_capacity(BATCH_PACKETS * 256),
            frames: Vec::with_capacity(BATCH_PACKETS),
            clock: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.clock.is_none()
    }
}

/// What a worker shows of itself while it runs.
#[derive(Clone, Debug, Default)]
pub struct WorkerReport {
    pub stats: EngineStats,
    pub active_flows: usize,
}

/// Whether a full worker queue stalls the reader (files) or loses the batch (live).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    Wait,
    Drop,
}

pub struct Workers {
    queues: Vec<SyncSender<Batch>>,
    filling: Vec<Batch>,
    spare_rx: Receiver<Batch>,
    spare_tx: SyncSender<Batch>,
    handles: Vec<JoinHandle<WorkerReport>>,
    when_full: WhenFull,
    source: Arc<str>,
    next_tick: Timestamp,
    /// Packets lost to full queues (live only).
    pub queue_drops: Arc<AtomicU64>,
    /// Each worker's latest report, for metrics while running.
    pub reports: Vec<Arc<Mutex<WorkerReport>>>,
    /// Which UDP ports are tunnels, for placing tunnelled frames by their inner addresses.
    tunnels: TunnelConfig,
    routed_fragments: HashMap<(IpAddr, IpAddr, u32), u64>,
}

impl Workers {
    /// Starts one thread per engine. `queue_batches` bounds each worker's queue.
    pub fn spawn<S>(
        engines: Vec<Engine>,
        sink: SharedSink<S>,
        queue_batches: usize,
        when_full: WhenFull,
    ) -> std::io::Result<Self>
    where
        S: Sink + Send + ?Sized + 'static,
    {
        let n = engines.len().max(1);
        let tunnels = engines
            .first()
            .map(|e| e.tunnels().clone())
            .unwrap_or_default();
        let (spare_tx, spare_rx) = mpsc::sync_channel(n * (queue_batches + 2));
        let source: Arc<str> = Arc::from("");
        let mut workers = Workers {
            queues: Vec::with_capacity(n),
            filling: Vec::with_capacity(n),
            spare_rx,
            spare_tx,
            handles: Vec::with_capacity(n),
            when_full,
            source: Arc::clone(&source),
            next_tick: Timestamp::default(),
            queue_drops: Arc::new(AtomicU64::new(0)),
            reports: Vec::with_capacity(n),
            tunnels,
            routed_fragments: HashMap::new(),
        };
        for (i, engine) in engines.into_iter().enumerate() {
            let (tx, rx) = mpsc::sync_channel::<Batch>(queue_batches.max(1));
            let report = Arc::new(Mutex::new(WorkerReport::default()));
            let handle = std::thread::Builder::new()
                .name(format!("cleartrace-worker-{i}"))
                .spawn({
                    let sink = sink.clone();
                    let spare = workers.spare_tx.clone();
                    let report = Arc::clone(&report);
                    move || run_worker(engine, sink, rx, spare, report)
                })?;
            workers.queues.push(tx);
            workers.filling.push(Batch::new(Arc::clone(&source)));
            workers.handles.push(handle);
            workers.reports.push(report);
        }
        Ok(workers)
    }

    /// Names the source of the packets that follow (`pcap_filename`, `in_iface`).
    pub fn set_source(&mut self, name: &str) {
        self.flush_all();
        self.source = Arc::from(name);
        for batch in &mut self.filling {
            batch.source = Arc::clone(&self.source);
        }
    }

    /// Copies the frame into its worker's batch, handing the batch over when full.
    /// Once a second of capture time every worker hears the clock, so a worker whose
    /// flows went quiet still times them out as one engine would.
    pub fn push(&mut self, packet: &Packet<'_>) {
        if packet.ts >= self.next_tick {
            self.next_tick = Timestamp(packet.ts.0.saturating_add(TICK_INTERVAL));
            self.tick(packet.ts);
        }
        let shard = shard_of(
            (packet.linktype, packet.data),
            self.queues.len(),
            &self.tunnels,
            &mut self.routed_fragments,
        );
        let Some(batch) = self.filling.get_mut(shard) else {
            return;
        };
        let start = batch.data.len();
        batch.data.extend_from_slice(packet.data);
        batch.frames.push(Frame {
            ts: packet.ts,
            linktype: packet.linktype,
            wire_len: packet.wire_len,
            start,
            end: batch.data.len(),
        });
        if batch.frames.len() >= BATCH_PACKETS || batch.data.len() >= BATCH_BYTES {
            self.hand_over(shard);
        }
    }

    /// Tells every worker the capture clock (live, when the link is quiet) and hands
    /// over what is waiting.
    pub fn tick(&mut self, now: Timestamp) {
        for batch in &mut self.filling {
            batch.clock = Some(now);
        }
        self.flush_all();
    }

    fn flush_all(&mut self) {
        for shard in 0..self.filling.len() {
            if !self.filling[shard].is_empty() {
                self.hand_over(shard);
            }
        }
    }

    fn hand_over(&mut self, shard: usize) {
        let fresh = match self.spare_rx.try_recv() {
            Ok(mut spare) => {
                spare.source = Arc::clone(&self.source);
                spare
            }
            Err(_) => Batch::new(Arc::clone(&self.source)),
        };
        let batch = std::mem::replace(&mut self.filling[shard], fresh);
        let frames = batch.frames.len() as u64;
        let result = match self.when_full {
            WhenFull::Wait => self.queues[shard].send(batch).map_err(|_| ()),
            WhenFull::Drop => match self.queues[shard].try_send(batch) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => {
                    self.queue_drops.fetch_add(frames, Ordering::Relaxed);
                    Ok(())
                }
                Err(TrySendError::Disconnected(_)) => Err(()),
            },
        };
        if result.is_err() {
            // The worker is gone (it panicked): its packets cannot be analysed.
            self.queue_drops.fetch_add(frames, Ordering::Relaxed);
        }
    }

    /// Whether a worker has stopped before `finish`: only a bug can do that, and its
    /// share of the traffic is then lost, so the live sensor exits to be restarted.
    pub fn stopped(&self) -> bool {
        self.handles.iter().any(JoinHandle::is_finished)
    }

    /// Hands over the rest, lets every worker end its flows, and returns the merged
    /// counters.
    pub fn finish(mut self) -> WorkerReport {
        self.flush_all();
        self.queues.clear();
        let mut total = WorkerReport::default();
        for handle in self.handles.drain(..) {
            if let Ok(report) = handle.join() {
                total.stats.merge(&report.stats);
                total.active_flows += report.active_flows;
            }
        }
        total
    }

    /// The workers' latest counters, merged.
    pub fn snapshot(reports: &[Arc<Mutex<WorkerReport>>]) -> WorkerReport {
        let mut total = WorkerReport::default();
        for report in reports {
            let report = lock(report);
            total.stats.merge(&report.stats);
            total.active_flows += report.active_flows;
        }
        total
    }
}

fn run_worker<S: Sink + ?Sized>(
    mut engine: Engine,
    mut sink: SharedSink<S>,
    queue: Receiver<Batch>,
    spare: SyncSender<Batch>,
    report: Arc<Mutex<WorkerReport>>,
) -> WorkerReport {
    let mut source: Arc<str> = Arc::from("");
    let mut published = Instant::now();
    for mut batch in queue {
        if !Arc::ptr_eq(&source, &batch.source) {
            source = Arc::clone(&batch.source);
            engine.set_source(&source);
        }
        for frame in &batch.frames {
            let Some(data) = batch.data.get(frame.start..frame.end) else {
                continue;
            };
            let packet = Packet {
                ts: frame.ts,
                linktype: frame.linktype,
                data,
                wire_len: frame.wire_len,
            };
            engine.process(&packet, &mut sink);
        }
        if let Some(now) = batch.clock.take() {
            engine.advance(now, &mut sink);
        }
        if published.elapsed() >= PUBLISH_INTERVAL {
            published = Instant::now();
            *lock(&report) = WorkerReport {
                stats: engine.stats(),
                active_flows: engine.active_flows(),
            };
        }
        batch.data.clear();
        batch.frames.clear();
        // A full spare queue just lets this batch's memory go.
        let _ = spare.try_send(batch);
    }
    engine.finish(&mut sink);
    let last = WorkerReport {
        stats: engine.stats(),
        active_flows: engine.active_flows(),
    };
    *lock(&report) = last.clone();
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn both_directions_hash_alike() {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(address_pair_hash(a, b), address_pair_hash(b, a));
        let c = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert_ne!(address_pair_hash(a, c), address_pair_hash(a, b));
    }

    /// Ethernet, IPv4 10.0.0.1:5000 → 10.0.0.2:5001, UDP, a few bytes.
    fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&[
            10, 0, 0, 1, 10, 0, 0, 2, 0x13, 0x88, 0x13, 0x89, 0, 12, 0, 0,
        ]);
        f.extend_from_slice(b"ping");
        f
    }

    struct Count(usize);
    impl Sink for Count {
        fn flow_ended(&mut self, _: &FlowEvent<'_>) {
            self.0 += 1;
        }
    }

    struct Broken;
    impl Sink for Broken {
        fn flow_ended(&mut self, _: &FlowEvent<'_>) {
            panic!("a bug in a sink");
        }
    }

    fn engines(n: usize) -> Vec<Engine> {
        let config = crate::config::Config::default();
        (0..n)
            .map(|_| Engine::with_builtin_signatures(&config))
            .collect()
    }

    fn feed(workers: &mut Workers) {
        let frame = udp_frame();
        workers.push(&Packet {
            ts: Timestamp::from_secs(1_000),
            linktype: 1,
            data: &frame,
            wire_len: frame.len() as u32,
        });
        // Long after the UDP timeout: the flow ends in its worker, now.
        workers.tick(Timestamp::from_secs(10_000));
    }

    #[test]
    fn workers_end_flows_into_the_shared_sink() {
        let sink = Arc::new(Mutex::new(Count(0)));
        let mut workers =
            Workers::spawn(engines(2), SharedSink(Arc::clone(&sink)), 4, WhenFull::Wait)
                .expect("spawn");
        feed(&mut workers);
        assert!(!workers.stopped());
        let report = workers.finish();
        assert_eq!(report.stats.packets, 1);
        assert_eq!(lock(&sink).0, 1);
    }

    #[test]
    fn a_dead_worker_is_noticed() {
        let sink = Arc::new(Mutex::new(Broken));
        let mut workers =
            Workers::spawn(engines(1), SharedSink(sink), 4, WhenFull::Drop).expect("spawn");
        feed(&mut workers);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !workers.stopped() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(workers.stopped());
        // Its packets are counted as lost from now on, and finishing still returns.
        feed(&mut workers);
        assert!(workers.queue_drops.load(Ordering::Relaxed) >= 1);
        let _ = workers.finish();
    }

    #[test]
    fn shards_spread_over_workers() {
        let mut seen = [0usize; 4];
        for i in 0..1000u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            let b = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1));
            let h = address_pair_hash(a, b);
            seen[((u128::from(h) * 4) >> 64) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }
}
