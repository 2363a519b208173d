//! Flows sharded across worker threads, for standard input (`analyze --workers N -`)
//! and the live sensor. One reader hands packets to N workers, each with its own
//! engine; a symmetric hash of the IP address pair picks the worker (`Sharder`), so
//! both directions of a flow meet on one engine. Files are read otherwise: each block
//! of a legacy pcap file is read and sharded by one worker for all
//! (`analyze::relay`), and a pcapng file is read whole by every worker, whose own
//! `Sharder` tells it which frames are its own (`analyze::WorkerShare`).
//!
//! Why the address pair and not the 5-tuple: IPv4 fragments after the first carry no
//! ports, and media anchored at a PBX shares the pair with the SIP dialog that
//! announced it, so both stay on the engine that holds the dialog's expectations. The
//! cost is balance on links where one pair carries everything (an SBC trunk).
//!
//! Packets travel in batches (one allocation reused for many frames) over bounded
//! queues. Offline, a full queue makes the reader wait; live, the capture must not
//! wait, so a full queue drops the batch and counts it. A legacy pcap file skips the
//! batches: each read block of whole records goes to every worker, which picks its
//! own frames out — the reading thread then only reads, and the frames are neither
//! copied nor decoded an extra time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::{Packet, RecordBlock};
use crate::decode::tunnel::{self, Tunnels};
use crate::decode::{self, Network};
use crate::engine::{Engine, EngineStats};
use crate::output::{FlowEvent, Sink};
use crate::threads::{lock, Progress};
use crate::timestamp::Timestamp;

/// Frames per batch: large enough to make queue hand-offs rare, small enough that a
/// quiet live link still reaches its worker quickly (the capture also flushes on its
/// read timeout).
const BATCH_PACKETS: usize = 256;
/// Bytes per batch before it is handed over regardless of its frame count, so a
/// queue's memory is bounded by its length in batches even with 64 KiB frames
/// (GRO on loopback, jumbo frames): at most about 1 MiB + one frame per batch.
const BATCH_BYTES: usize = 1 << 20;
/// Read blocks handed to the workers and not yet given back: bounds the memory of
/// `push_records` (1 MiB each) however far the workers fall behind the reader.
const BLOCKS_OUT: usize = 8;
/// Capture time between clock ticks to every worker.
const TICK_INTERVAL: u64 = 1_000_000_000;
/// How often a worker publishes its counters for the metrics endpoint.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(250);
/// How long a reader facing a full queue sleeps before it tries again.
const FULL_QUEUE_PAUSE: Duration = Duration::from_micros(50);

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
#[derive(Clone)]
pub struct Sharder {
    workers: usize,
    tunnels: Tunnels,
    routed: HashMap<(IpAddr, IpAddr, u32), u64>,
}

impl Sharder {
    pub fn new(workers: usize, tunnels: Tunnels) -> Self {
        Sharder {
            workers,
            tunnels,
            routed: HashMap::new(),
        }
    }

    /// One worker per engine, decapsulating the tunnels the engines do.
    pub fn for_engines(engines: &[Engine]) -> Self {
        let tunnels = engines
            .first()
            .map(|e| e.tunnels().clone())
            .unwrap_or_default();
        Sharder::new(engines.len().max(1), tunnels)
    }

    /// The worker of a frame, in 0..workers. Stateful only for fragments, so every
    /// sharder fed the same frames in the same order picks the same workers.
    pub fn shard(&mut self, linktype: i32, frame: &[u8]) -> usize {
        if self.workers <= 1 {
            return 0;
        }
        let hash = match plain_pair(linktype, frame, &self.tunnels) {
            Some(pair) => pair.hash(),
            None => self.decoded_hash(linktype, frame),
        };
        self.place(hash)
    }

    /// The worker of a tunnelled frame, picked by its innermost addresses; None for
    /// every frame that is not in a tunnel (and for fragments, which are reassembled
    /// before they could be peeled).
    fn inner_shard(&mut self, linktype: i32, frame: &[u8]) -> Option<usize> {
        if self.workers <= 1 || plain_pair(linktype, frame, &self.tunnels).is_some() {
            return None;
        }
        let Ok(Network::Ip(ip)) = decode::decode_network(linktype, frame) else {
            return None;
        };
        if ip.fragment.is_some() {
            return None;
        }
        let outer = ip.payload.as_ptr();
        let inner = tunnel::innermost(&self.tunnels, ip);
        // Nothing peeled: the same payload.
        if std::ptr::eq(inner.payload.as_ptr(), outer) {
            return None;
        }
        Some(self.place(AddressPair::of(inner.src, inner.dst).hash()))
    }

    /// Multiply-shift maps a hash onto 0..workers without a division's bias.
    fn place(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.workers as u128) >> 64) as usize
    }

    /// The slow way, for every frame `plain_pair` does not read: other link types,
    /// tunnels, fragments, IP options and extension headers.
    fn decoded_hash(&mut self, linktype: i32, frame: &[u8]) -> u64 {
        let Ok(Network::Ip(ip)) = decode::decode_network(linktype, frame) else {
            // Not IP or not decodable: one worker counts them all.
            return 0;
        };
        let Some(fragment) = ip.fragment else {
            let ip = tunnel::innermost(&self.tunnels, ip);
            return AddressPair::of(ip.src, ip.dst).hash();
        };
        let key = (ip.src, ip.dst, fragment.id);
        let inner = (fragment.offset == 0)
            .then(|| tunnel::first_fragment_inner(&self.tunnels, ip.protocol, ip.payload))
            .flatten();
        match (inner, self.routed.get(&key)) {
            (Some((src, dst)), _) => {
                if self.routed.len() >= MAX_ROUTED_DATAGRAMS {
                    self.routed.clear();
                }
                let hash = AddressPair::of(src, dst).hash();
                self.routed.insert(key, hash);
                hash
            }
            (None, Some(&hash)) => hash,
            (None, None) => AddressPair::of(ip.src, ip.dst).hash(),
        }
    }
}

/// A frame's two IP addresses as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddressPair {
    V4(u32, u32),
    V6(u128, u128),
}

impl AddressPair {
    fn of(a: IpAddr, b: IpAddr) -> Self {
        let integer = |addr: IpAddr| match addr {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => AddressPair::V4(a.into(), b.into()),
            // Never mixed in one header; kept apart from IPv4 if it were.
            (a, b) => AddressPair::V6(integer(a), integer(b)),
        }
    }

    /// The same for both directions.
    fn hash(self) -> u64 {
        let mut hash = 0x9e37_79b9_7f4a_7c15u64;
        let mut mix = |word: u64| {
            hash = (hash ^ word).wrapping_mul(0xff51_afd7_ed55_8ccd);
            hash ^= hash >> 33;
        };
        match self {
            AddressPair::V4(a, b) => mix(u64::from(a.min(b)) << 32 | u64::from(a.max(b))),
            AddressPair::V6(a, b) => {
                for word in [a.min(b), a.max(b)] {
                    mix(word as u64);
                    mix((word >> 64) as u64);
                }
            }
        }
        hash
    }
}

/// The two IP addresses of the shape nearly every frame has, read in place: Ethernet
/// with up to two VLAN tags, then IPv4 with a 20-byte header that is not a fragment,
/// or IPv6, carrying TCP, or UDP to a port that is not a tunnel's. The reader does
/// this for every frame of a file, so it must cost next to nothing; anything else is
/// None and goes to the decoder.
fn plain_pair(linktype: i32, frame: &[u8], tunnels: &Tunnels) -> Option<AddressPair> {
    const ETHERNET: i32 = 1;
    const TCP: u8 = 6;
    const UDP: u8 = 17;
    if linktype != ETHERNET {
        return None;
    }
    let be16 = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let plain_transport = |protocol: u8, transport: usize| match protocol {
        TCP => true,
        UDP => be16(transport + 2).is_some_and(|port| !tunnels.is_udp_port(port)),
        _ => false,
    };
    let mut at = 12;
    for _ in 0..3 {
        let ip = at + 2;
        match be16(at)? {
            0x8100 | 0x88a8 | 0x9100 => at += 4,
            0x0800 => {
                let h: &[u8; 20] = frame.get(ip..ip + 20)?.try_into().ok()?;
                let fragment = u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0;
                if h[0] != 0x45 || fragment || !plain_transport(h[9], ip + 20) {
                    return None;
                }
                let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
                return Some(AddressPair::V4(word(12), word(16)));
            }
            0x86dd => {
                let h: &[u8; 40] = frame.get(ip..ip + 40)?.try_into().ok()?;
                if h[0] >> 4 != 6 || !plain_transport(h[6], ip + 40) {
                    return None;
                }
                let word = |i: usize| {
                    let mut bytes = [0u8; 16];
                    bytes.copy_from_slice(&h[i..i + 16]);
                    u128::from_be_bytes(bytes)
                };
                return Some(AddressPair::V6(word(8), word(24)));
            }
            _ => return None,
        }
    }
    None
}

struct Frame {
    /// Input position (see `Progress`).
    position: u64,
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
    /// The reader's next input position when it handed the batch over: every frame of
    /// this worker before it is in this batch or an earlier one.
    covers: u64,
}

impl Batch {
    fn new(source: Arc<str>) -> Self {
        Batch {
            source,
            data: Vec::with_capacity(BATCH_PACKETS * 256),
            frames: Vec::with_capacity(BATCH_PACKETS),
            clock: None,
            covers: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.clock.is_none()
    }

    /// Copies a frame in; true when the batch is full and should be handed over.
    fn push(&mut self, position: u64, packet: &Packet<'_>) -> bool {
        let start = self.data.len();
        self.data.extend_from_slice(packet.data);
        self.frames.push(Frame {
            position,
            ts: packet.ts,
            linktype: packet.linktype,
            wire_len: packet.wire_len,
            start,
            end: self.data.len(),
        });
        self.frames.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    /// The frames as packets, each with its input position.
    fn packets(&self) -> impl Iterator<Item = (u64, Packet<'_>)> {
        self.frames.iter().filter_map(|frame| {
            let data = self.data.get(frame.start..frame.end)?;
            let packet = Packet {
                ts: frame.ts,
                linktype: frame.linktype,
                data,
                wire_len: frame.wire_len,
            };
            Some((frame.position, packet))
        })
    }
}

/// A read block shared by every worker; the last to let go of it sends its buffer
/// back to the reader for the next read.
struct SharedBlock {
    block: Option<RecordBlock>,
    back: SyncSender<Vec<u8>>,
}

impl Drop for SharedBlock {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            // A reader that stopped listening just lets the memory go.
            let _ = self.back.try_send(block.into_buffer());
        }
    }
}

/// What a worker is handed.
enum Work {
    /// Frames copied for this worker alone.
    Frames(Batch),
    /// A block shared by every worker, with the offsets of this worker's records in
    /// it and their ordinals, the block's last timestamp and the input position of its
    /// first record; named by source.
    Records {
        block: Arc<SharedBlock>,
        mine: Vec<(u32, u32)>,
        last: Timestamp,
        first: u64,
        packets: u64,
        source: Arc<str>,
    },
}

/// What a worker shows of itself while it runs.
#[derive(Clone, Debug, Default)]
pub struct WorkerReport {
    pub stats: EngineStats,
    pub active_flows: usize,
}

impl WorkerReport {
    pub fn of(engine: &Engine) -> Self {
        WorkerReport {
            stats: engine.stats(),
            active_flows: engine.active_flows(),
        }
    }

    pub fn merge(&mut self, other: &WorkerReport) {
        self.stats.merge(&other.stats);
        self.active_flows += other.active_flows;
    }
}

/// Whether a full worker queue stalls the reader (files) or loses the batch (live).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    Wait,
    Drop,
}

pub struct Workers {
    queues: Vec<SyncSender<Work>>,
    filling: Vec<Batch>,
    spare_rx: Receiver<Batch>,
    spare_tx: SyncSender<Batch>,
    handles: Vec<JoinHandle<WorkerReport>>,
    when_full: WhenFull,
    source: Arc<str>,
    next_tick: Timestamp,
    /// Buffers of read blocks coming back from the workers, and how many are out.
    blocks_back_rx: Receiver<Vec<u8>>,
    blocks_back_tx: SyncSender<Vec<u8>>,
    blocks_out: usize,
    /// Packets lost to full queues (live only).
    pub queue_drops: Arc<AtomicU64>,
    /// Each worker's latest report, for metrics while running.
    pub reports: Vec<Arc<Mutex<WorkerReport>>>,
    sharder: Sharder,
    /// The input position of the next packet.
    position: u64,
    /// Offline with several workers: their progress, for ordered expectations.
    progress: Option<Arc<Progress>>,
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
        let sharder = Sharder::for_engines(&engines);
        let (spare_tx, spare_rx) = mpsc::sync_channel(n * (queue_batches + 2));
        let source: Arc<str> = Arc::from("");
        let (blocks_back_tx, blocks_back_rx) = mpsc::sync_channel(BLOCKS_OUT);
        let mut workers = Workers {
            queues: Vec::with_capacity(n),
            filling: Vec::with_capacity(n),
            spare_rx,
            spare_tx,
            handles: Vec::with_capacity(n),
            when_full,
            source: Arc::clone(&source),
            next_tick: Timestamp::default(),
            blocks_back_rx,
            blocks_back_tx,
            blocks_out: 0,
            queue_drops: Arc::new(AtomicU64::new(0)),
            reports: Vec::with_capacity(n),
            sharder,
            position: 0,
            // Live, the capture cannot wait for a worker: timing may decide there.
            progress: (when_full == WhenFull::Wait && n > 1).then(|| Arc::new(Progress::new(n))),
        };
        for (i, mut engine) in engines.into_iter().enumerate() {
            if let Some(progress) = &workers.progress {
                engine.order_by(Arc::clone(progress), i);
            }
            let (tx, rx) = mpsc::sync_channel::<Work>(queue_batches.max(1));
            let report = Arc::new(Mutex::new(WorkerReport::default()));
            let handle = std::thread::Builder::new()
                .name(format!("cleartrace-worker-{i}"))
                .spawn({
                    let sink = sink.clone();
                    let spare = workers.spare_tx.clone();
                    let report = Arc::clone(&report);
                    let progress = workers.progress.as_ref().map(|p| (Arc::clone(p), i));
                    move || run_worker(engine, sink, rx, spare, report, progress)
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
        if self
            .progress
            .as_ref()
            .is_some_and(|progress| progress.take_flush_request())
        {
            self.flush_all();
        }
        let shard = self.sharder.shard(packet.linktype, packet.data);
        let position = self.position;
        self.position += 1;
        let Some(batch) = self.filling.get_mut(shard) else {
            return;
        };
        if batch.push(position, packet) {
            self.hand_over(shard);
        }
    }

    /// Hands a block of whole records to every worker (offline: waits for room) and
    /// returns a buffer for the next read. At most `BLOCKS_OUT` blocks are out; past
    /// that, this waits for the workers to give one back.
    pub fn push_records(&mut self, block: RecordBlock) -> Vec<u8> {
        self.flush_all();
        // Each record's worker is picked here, once, rather than by every worker.
        let workers = self.queues.len();
        let per_worker = (block.packets as usize).div_ceil(workers.max(1));
        let mut picks: Vec<Vec<(u32, u32)>> = (0..workers)
            .map(|_| Vec::with_capacity(per_worker + per_worker / 4))
            .collect();
        let mut last = Timestamp::default();
        let first = self.position;
        let mut ordinal = 0u32;
        for (offset, packet) in block.packets() {
            if let Some(mine) = picks.get_mut(self.sharder.shard(packet.linktype, packet.data)) {
                mine.push((offset, ordinal));
            }
            ordinal += 1;
            last = packet.ts;
        }
        self.position += u64::from(ordinal);
        let shared = Arc::new(SharedBlock {
            block: Some(block),
            back: self.blocks_back_tx.clone(),
        });
        self.blocks_out += 1;
        for (shard, mine) in picks.into_iter().enumerate() {
            let lost = mine.len() as u64;
            let work = Work::Records {
                block: Arc::clone(&shared),
                mine,
                last,
                first,
                packets: u64::from(ordinal),
                source: Arc::clone(&self.source),
            };
            if !matches!(self.send(shard, work), Ok(true)) {
                self.queue_drops.fetch_add(lost, Ordering::Relaxed);
            }
        }
        drop(shared);
        while self.blocks_out >= BLOCKS_OUT {
            // A worker that died drops its queue and so its blocks: they come back.
            match self.blocks_back_rx.recv_timeout(Duration::from_secs(1)) {
                Ok(buffer) => {
                    self.blocks_out -= 1;
                    return buffer;
                }
                Err(_) if self.stopped() => break,
                Err(_) => {}
            }
        }
        match self.blocks_back_rx.try_recv() {
            Ok(buffer) => {
                self.blocks_out -= 1;
                buffer
            }
            Err(_) => Vec::new(),
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
        let mut batch = std::mem::replace(&mut self.filling[shard], fresh);
        batch.covers = self.position;
        let frames = batch.frames.len() as u64;
        match self.send(shard, Work::Frames(batch)) {
            Ok(true) => {}
            // Live, the queue was full; or the worker is gone (it panicked): the
            // frames cannot be analysed.
            Ok(false) | Err(()) => {
                self.queue_drops.fetch_add(frames, Ordering::Relaxed);
            }
        }
    }

    /// Queues work for one worker: false when it was dropped for a full queue (live),
    /// an error when the worker is gone.
    fn send(&mut self, shard: usize, work: Work) -> Result<bool, ()> {
        if self.queues.get(shard).is_none() {
            return Err(());
        }
        match self.when_full {
            WhenFull::Wait if self.progress.is_some() => {
                // Not a blocking send: a worker waiting for another's unsent batch
                // (see `Progress`) may be why this queue is full.
                let mut work = work;
                loop {
                    match self.queues[shard].try_send(work) {
                        Ok(()) => return Ok(true),
                        Err(TrySendError::Disconnected(_)) => return Err(()),
                        Err(TrySendError::Full(back)) => work = back,
                    }
                    if self
                        .progress
                        .as_ref()
                        .is_some_and(|progress| progress.take_flush_request())
                    {
                        self.flush_others(shard);
                    }
                    std::thread::sleep(FULL_QUEUE_PAUSE);
                }
            }
            WhenFull::Wait => self.queues[shard].send(work).map(|()| true).map_err(|_| ()),
            WhenFull::Drop => match self.queues[shard].try_send(work) {
                Ok(()) => Ok(true),
                Err(TrySendError::Full(_)) => Ok(false),
                Err(TrySendError::Disconnected(_)) => Err(()),
            },
        }
    }

    /// Hands over the other workers' unsent batches where their queues have room,
    /// without waiting (the reader is itself waiting for room on `busy`).
    fn flush_others(&mut self, busy: usize) {
        for shard in 0..self.filling.len() {
            if shard == busy || self.filling[shard].is_empty() {
                continue;
            }
            let Some(queue) = self.queues.get(shard) else {
                continue;
            };
            let mut batch = std::mem::replace(
                &mut self.filling[shard],
                Batch::new(Arc::clone(&self.source)),
            );
            batch.covers = self.position;
            if let Err(TrySendError::Full(Work::Frames(batch))) =
                queue.try_send(Work::Frames(batch))
            {
                self.filling[shard] = batch;
            }
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
                total.merge(&report);
            }
        }
        total
    }

    /// The workers' latest counters, merged.
    pub fn snapshot(reports: &[Arc<Mutex<WorkerReport>>]) -> WorkerReport {
        let mut total = WorkerReport::default();
        for report in reports {
            total.merge(&lock(report));
        }
        total
    }
}

/// Forwarded batches a worker may have waiting: bounds what a flood of tunnelled
/// frames for one worker can hold (about 1 MiB each).
const FORWARDED_BATCHES: usize = 4;
/// Tunnelled frames a worker holds back to put them in time order: past this, the
/// oldest go on at once, in order but perhaps ahead of a peer's older frame.
const MAX_HELD_BYTES: usize = 8 << 20;
/// How long a stopping worker waits for its peers' last forwarded frames.
const LAST_FORWARDS_WAIT: Duration = Duration::from_secs(1);

/// Live on AF_PACKET rings the kernel places a frame by its outer headers. A tunnel's
/// sender often derives the outer source port from the inner flow, one per direction
/// (VXLAN, GENEVE), so an inner flow's two directions can reach two rings and be kept
/// as two half flows. Each ring's worker hands a tunnelled frame to the worker its
/// innermost addresses pick, as `analyze --workers` places it; frames in no tunnel
/// stay where the kernel put them.
///
/// Two rings are read independently, so a frame handed over can arrive after a later
/// frame of the same flow that came in on the owner's own ring (a SIP request on one
/// ring, its response 40 µs later on the other): the flow would start with the
/// response and face the wrong way. So each worker holds its tunnelled frames and
/// runs them in capture-time order once every peer has read its ring up to their
/// time (`read_up_to`); a quiet ring has read everything older than a block timeout.
pub struct Resteer {
    me: usize,
    sharder: Sharder,
    outboxes: Vec<Batch>,
    peers: Vec<SyncSender<Batch>>,
    inbox: Receiver<Batch>,
    /// Frames lost to a peer's full inbox.
    drops: Arc<AtomicU64>,
    /// Per worker: every tunnelled frame it read with an earlier capture time has
    /// been handed over. `u64::MAX` once it stopped.
    read_up_to: Arc<[AtomicU64]>,
    held: BinaryHeap<Reverse<Held>>,
    held_bytes: usize,
    arrivals: u64,
}

/// A tunnelled frame waiting for its turn; ordered by capture time, then arrival.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    ts: Timestamp,
    arrival: u64,
    linktype: i32,
    wire_len: u32,
    data: Vec<u8>,
}

impl Resteer {
    /// One per worker, wired to each other.
    pub fn group(workers: usize, tunnels: &Tunnels, drops: &Arc<AtomicU64>) -> Vec<Resteer> {
        let workers = workers.max(1);
        let (peers, inboxes): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| mpsc::sync_channel(FORWARDED_BATCHES))
            .unzip();
        let read_up_to: Arc<[AtomicU64]> = (0..workers).map(|_| AtomicU64::new(0)).collect();
        let source: Arc<str> = Arc::from("");
        inboxes
            .into_iter()
            .enumerate()
            .map(|(me, inbox)| Resteer {
                me,
                sharder: Sharder::new(workers, tunnels.clone()),
                outboxes: (0..workers)
                    .map(|_| Batch::new(Arc::clone(&source)))
                    .collect(),
                peers: peers.clone(),
                inbox,
                drops: Arc::clone(drops),
                read_up_to: Arc::clone(&read_up_to),
                held: BinaryHeap::new(),
                held_bytes: 0,
                arrivals: 0,
            })
            .collect()
    }

    /// Takes a tunnelled frame (to hand over, or to hold for time order): true when it
    /// did, and the caller then leaves it alone.
    pub fn take(&mut self, packet: &Packet<'_>) -> bool {
        let Some(owner) = self.sharder.inner_shard(packet.linktype, packet.data) else {
            return false;
        };
        if owner == self.me {
            self.hold(packet);
        } else if self
            .outboxes
            .get_mut(owner)
            .is_some_and(|outbox| outbox.push(0, packet))
        {
            self.send(owner);
        }
        true
    }

    fn hold(&mut self, packet: &Packet<'_>) {
        self.arrivals += 1;
        self.held_bytes += packet.data.len();
        self.held.push(Reverse(Held {
            ts: packet.ts,
            arrival: self.arrivals,
            linktype: packet.linktype,
            wire_len: packet.wire_len,
            data: packet.data.to_vec(),
        }));
    }

    /// Hands over what was taken for others, then tells them this worker has read its
    /// ring up to `ts`. Called after each ring block (with its last frame's time) and
    /// when the ring was quiet.
    pub fn read_up_to(&mut self, ts: Timestamp) {
        for owner in 0..self.outboxes.len() {
            if !self.outboxes[owner].frames.is_empty() {
                self.send(owner);
            }
        }
        if let Some(mark) = self.read_up_to.get(self.me) {
            mark.fetch_max(ts.0, Ordering::Release);
        }
    }

    fn send(&mut self, owner: usize) {
        let Some(outbox) = self.outboxes.get_mut(owner) else {
            return;
        };
        let batch = std::mem::replace(outbox, Batch::new(Arc::clone(&outbox.source)));
        let frames = batch.frames.len() as u64;
        // Live: never wait for a peer; a full inbox loses the frames, counted.
        if self.peers[owner].try_send(batch).is_err() {
            self.drops.fetch_add(frames, Ordering::Relaxed);
        }
    }

    /// Runs `each` over the held frames every peer has read past, oldest first (and
    /// over the oldest regardless while more than `MAX_HELD_BYTES` are held).
    pub fn release(&mut self, each: impl FnMut(&Packet<'_>)) {
        // The marks first: whatever a peer handed over before its mark is then in the
        // inbox.
        let until = self
            .read_up_to
            .iter()
            .enumerate()
            .filter(|&(worker, _)| worker != self.me)
            .map(|(_, mark)| mark.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX);
        self.release_until(until, each);
    }

    fn release_until(&mut self, until: u64, mut each: impl FnMut(&Packet<'_>)) {
        while let Ok(batch) = self.inbox.try_recv() {
            for (_, packet) in batch.packets() {
                self.hold(&packet);
            }
        }
        while let Some(Reverse(next)) = self.held.peek() {
            if next.ts.0 > until && self.held_bytes <= MAX_HELD_BYTES {
                break;
            }
            let Some(Reverse(frame)) = self.held.pop() else {
                break;
            };
            self.held_bytes -= frame.data.len();
            each(&Packet {
                ts: frame.ts,
                linktype: frame.linktype,
                data: &frame.data,
                wire_len: frame.wire_len,
            });
        }
    }

    /// At the end: hands over the rest, waits (boundedly: a peer may have failed)
    /// until every worker has, and runs `each` over everything held.
    pub fn finish(&mut self, mut each: impl FnMut(&Packet<'_>)) {
        self.read_up_to(Timestamp(u64::MAX));
        let started = Instant::now();
        while self
            .read_up_to
            .iter()
            .any(|mark| mark.load(Ordering::Acquire) != u64::MAX)
            && started.elapsed() < LAST_FORWARDS_WAIT
        {
            self.release(&mut each);
            std::thread::sleep(Duration::from_millis(1));
        }
        self.release_until(u64::MAX, each);
    }
}

fn run_worker<S: Sink + ?Sized>(
    mut engine: Engine,
    mut sink: SharedSink<S>,
    queue: Receiver<Work>,
    spare: SyncSender<Batch>,
    report: Arc<Mutex<WorkerReport>>,
    progress: Option<(Arc<Progress>, usize)>,
) -> WorkerReport {
    let mut source: Arc<str> = Arc::from("");
    let mut published = Instant::now();
    for work in queue {
        let batch_source = match &work {
            Work::Frames(batch) => &batch.source,
            Work::Records { source, .. } => source,
        };
        if !Arc::ptr_eq(&source, batch_source) {
            source = Arc::clone(batch_source);
            engine.set_source(&source);
        }
        match work {
            Work::Frames(mut batch) => {
                for (position, packet) in batch.packets() {
                    engine.process_at(position, &packet, &mut sink);
                }
                if let Some(now) = batch.clock.take() {
                    engine.advance(now, &mut sink);
                }
                if let Some((progress, me)) = &progress {
                    progress.reached(*me, batch.covers);
                }
                batch.data.clear();
                batch.frames.clear();
                // A full spare queue just lets this batch's memory go.
                let _ = spare.try_send(batch);
            }
            Work::Records {
                block,
                mine,
                last,
                first,
                packets,
                ..
            } => {
                if let Some(block) = &block.block {
                    for &(offset, ordinal) in &mine {
                        if let Some(packet) = block.packet_at(offset) {
                            engine.process_at(first + u64::from(ordinal), &packet, &mut sink);
                        }
                    }
                }
                // Every worker hears every block's clock: its quiet flows time out
                // as one engine's would.
                engine.advance(last, &mut sink);
                if let Some((progress, me)) = &progress {
                    progress.reached(*me, first + packets);
                }
            }
        }
        if published.elapsed() >= PUBLISH_INTERVAL {
            published = Instant::now();
            *lock(&report) = WorkerReport::of(&engine);
        }
    }
    engine.finish(&mut sink);
    let last = WorkerReport::of(&engine);
    *lock(&report) = last.clone();
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn both_directions_hash_alike() {
        let [a, b, c] = [1, 2, 3].map(|i| u32::from(Ipv4Addr::new(10, 0, 0, i)));
        assert_eq!(AddressPair::V4(a, b).hash(), AddressPair::V4(b, a).hash());
        assert_ne!(AddressPair::V4(a, c).hash(), AddressPair::V4(a, b).hash());
        let [d, e] = [1, 2].map(|i| u128::from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)));
        assert_eq!(AddressPair::V6(d, e).hash(), AddressPair::V6(e, d).hash());
    }

    /// Ethernet, IPv4 10.0.0.1:5000 → 10.0.0.2:5001, UDP, a few bytes.
    fn udp_frame() -> Vec<u8> {
        use crate::build::frame::{ipv4, udp};
        ipv4(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            0,
            0x4000,
            &udp(5000, 5001, b"ping"),
        )
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
    fn in_place_addresses_equal_the_decoders() {
        let v4 = udp_frame();
        let mut tagged = v4[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0, 20, 0x88, 0xa8, 0, 30]);
        tagged.extend_from_slice(&v4[12..]);
        let mut v6 = vec![0u8; 12];
        v6.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 12, 17, 64]);
        v6.extend_from_slice(&Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 0, 7).octets());
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 12, 0, 0, b'p', b'i', b'n', b'g']);
        let tunnels = Tunnels::default();
        let mut sharder = Sharder::new(2, tunnels);
        for frame in [&v4, &tagged, &v6] {
            let pair = plain_pair(1, frame, &sharder.tunnels).expect("a plain frame");
            assert_eq!(pair.hash(), sharder.decoded_hash(1, frame));
        }
        // Not IP, cut short, or UDP to a tunnel port: left to the decoder.
        let mut arp = v4.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let mut vxlan = v4.clone();
        vxlan[36..38].copy_from_slice(&4789u16.to_be_bytes());
        for frame in [&arp, &v4[..20].to_vec(), &vxlan] {
            assert_eq!(plain_pair(1, frame, &sharder.tunnels), None);
        }
    }

    /// `inner` (an Ethernet frame) in VXLAN network 42, from outer source port `sport`.
    fn vxlan(sport: u16, inner: &[u8]) -> Vec<u8> {
        use crate::build::frame::{ipv4, udp};
        let mut payload = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        payload.extend_from_slice(inner);
        ipv4(
            [10, 99, 0, 1],
            [10, 99, 0, 2],
            17,
            0,
            0x4000,
            &udp(sport, 4789, &payload),
        )
    }

    fn packet(frame: &[u8]) -> Packet<'_> {
        Packet {
            ts: Timestamp::from_secs(1_000),
            linktype: 1,
            data: frame,
            wire_len: frame.len() as u32,
        }
    }

    /// Each direction of an inner flow comes with its own outer source port, so the
    /// kernel may put the two on either ring: wherever each lands, both end on one
    /// worker, in capture-time order, and every frame is run exactly once.
    #[test]
    fn a_tunnelled_flows_directions_meet_on_one_worker_in_order() {
        use crate::build::frame::{ipv4, udp};
        let drops = Arc::new(AtomicU64::new(0));
        let mut group = Resteer::group(2, &Tunnels::default(), &drops);
        let mut owners = [0usize; 2];
        let mut frames = Vec::new();
        for i in 0..64u8 {
            let there = ipv4(
                [10, 1, 0, i],
                [10, 2, 0, 1],
                17,
                0,
                0x4000,
                &udp(6000, 7000, b"x"),
            );
            let back = ipv4(
                [10, 2, 0, 1],
                [10, 1, 0, i],
                17,
                0,
                0x4000,
                &udp(7000, 6000, b"y"),
            );
            let pair = [vxlan(50_000 + u16::from(i), &there), vxlan(60_000, &back)];
            let mut owner = None;
            for frame in &pair {
                for resteer in group.iter_mut() {
                    let found = resteer.sharder.inner_shard(1, frame);
                    assert!(found.is_some() && owner.is_none_or(|o| Some(o) == found));
                    owner = found;
                }
            }
            owners[owner.unwrap_or(0)] += 1;
            frames.extend(pair);
        }
        assert!(owners.iter().all(|&n| n > 10), "{owners:?}");
        // Frame k comes at second k, on ring k % 2; ring 1 is read first.
        let at = |k: usize| Timestamp::from_secs(1_000 + k as u64);
        for ring in [1, 0] {
            for (k, frame) in frames.iter().enumerate().filter(|(k, _)| k % 2 == ring) {
                assert!(group[ring].take(&Packet {
                    ts: at(k),
                    ..packet(frame)
                }));
            }
            group[ring].read_up_to(at(frames.len()));
        }
        // A frame in no tunnel stays where the kernel put it.
        let plain = udp_frame();
        assert!(!group[0].take(&packet(&plain)) && !group[1].take(&packet(&plain)));
        let mut runs = [Vec::new(), Vec::new()];
        for ring in 0..2 {
            group[ring].release(|p| runs[ring].push(p.ts));
        }
        for run in &runs {
            assert!(run.is_sorted(), "{run:?}");
        }
        assert_eq!(runs[0].len() + runs[1].len(), frames.len());
        assert_eq!(drops.load(Ordering::Relaxed), 0);
    }

    /// A frame is held until every peer has read its ring past the frame's time.
    #[test]
    fn held_until_the_peers_have_read_past_it() {
        use crate::build::frame::{ipv4, udp};
        let drops = Arc::new(AtomicU64::new(0));
        let mut group = Resteer::group(2, &Tunnels::default(), &drops);
        let frame = (0..=255u8)
            .map(|i| {
                vxlan(
                    50_000,
                    &ipv4([10, 1, 0, i], [10, 2, 0, 1], 17, 0, 0, &udp(1, 2, b"")),
                )
            })
            .find(|frame| group[0].sharder.inner_shard(1, frame) == Some(0))
            .expect("an inner flow of worker 0");
        assert!(group[0].take(&Packet {
            ts: Timestamp::from_secs(10),
            ..packet(&frame)
        }));
        let mut run = 0;
        group[0].release(|_| run += 1);
        assert_eq!(run, 0);
        group[1].read_up_to(Timestamp::from_secs(9));
        group[0].release(|_| run += 1);
        assert_eq!(run, 0);
        group[1].read_up_to(Timestamp::from_secs(10));
        group[0].release(|_| run += 1);
        assert_eq!(run, 1);
    }

    /// A worker that does not take its forwarded frames holds at most
    /// `FORWARDED_BATCHES` batches of them, the rest counted as lost; a peer that
    /// never reads its ring makes a worker hold at most `MAX_HELD_BYTES`.
    #[test]
    fn forwarded_and_held_frames_are_bounded() {
        use crate::build::frame::{ipv4, udp};
        let drops = Arc::new(AtomicU64::new(0));
        let mut group = Resteer::group(2, &Tunnels::default(), &drops);
        // An inner flow that belongs to worker 1, seen on ring 0.
        let frame = (0..=255u8)
            .map(|i| {
                vxlan(
                    50_000,
                    &ipv4([10, 1, 0, i], [10, 2, 0, 1], 17, 0, 0, &udp(1, 2, b"")),
                )
            })
            .find(|frame| group[1].sharder.inner_shard(1, frame) == Some(1))
            .expect("an inner flow of worker 1");
        let sent = (FORWARDED_BATCHES + 3) * BATCH_PACKETS;
        for _ in 0..sent {
            assert!(group[0].take(&packet(&frame)));
        }
        group[0].read_up_to(Timestamp::from_secs(1));
        // Worker 1 holds them (its peer has read only to second 1) ...
        let mut run = 0;
        group[1].release(|_| run += 1);
        assert_eq!(run, 0);
        assert_eq!(group[1].held.len(), FORWARDED_BATCHES * BATCH_PACKETS);
        assert_eq!(
            drops.load(Ordering::Relaxed) as usize,
            sent - group[1].held.len()
        );
        // ... and its own, up to the bound; past it the oldest run at once.
        let own = MAX_HELD_BYTES / frame.len() + 100;
        for _ in 0..own {
            assert!(group[1].take(&packet(&frame)));
            group[1].release(|_| run += 1);
        }
        assert!(group[1].held_bytes <= MAX_HELD_BYTES + frame.len());
        assert!(run >= 100, "{run}");
    }

    #[test]
    fn shards_spread_over_workers() {
        let mut seen = [0usize; 4];
        for i in 0..1000u32 {
            let a = 0x0a00_0000 + i;
            let b = u32::from(Ipv4Addr::new(10, 1, 0, 1));
            let h = AddressPair::V4(a, b).hash();
            seen[((u128::from(h) * 4) >> 64) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }
}
