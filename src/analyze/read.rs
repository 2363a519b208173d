//! Reading capture files and folders into one engine or the workers.

#[cfg(feature = "live")]
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::capture::{widen, CaptureError, CaptureFile, Packet, RecordBlock, STDIN};
use crate::engine::Engine;
use crate::output::Sink;
use crate::timestamp::Timestamp;
use crate::workers::{Sharder, Workers};

use super::relay::{Relay, SharedBlock};

/// Leading bytes of pcap (µs, ns; both byte orders) and pcapng files.
const CAPTURE_MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

fn is_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && CAPTURE_MAGICS.contains(&magic)
}

/// The files to read: plain arguments as given, folders walked in name order keeping
/// only files that start like a capture (a README beside the captures is skipped). An
/// argument that is not there is an error at once, before any output is opened.
pub fn capture_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut files)?;
        } else {
            if input.as_os_str() != STDIN {
                std::fs::metadata(input).map_err(|source| CaptureError::Open {
                    path: input.clone(),
                    source,
                })?;
            }
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), CaptureError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CaptureError::Open {
        path: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files)?;
        } else if is_capture(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// `analyze --bpf EXPR`: which frames are analysed, selected as tcpdump would.
///
/// libpcap's own compiler and matcher do it (`pcap_compile` on a dead handle of the
/// frame's link type, `pcap_offline_filter`), so an expression means exactly what it
/// means to tcpdump; hence it lives behind the `live` feature, which links libpcap. One
/// difference: a frame is matched with its captured length as its length, so `len`,
/// `greater` and `less` see the snaplen-cut size.
#[cfg(feature = "live")]
pub struct PacketFilter {
    expression: String,
    /// One program per link type met, or why the expression means nothing there
    /// (`ether host` on raw IP).
    programs: BTreeMap<i32, Result<pcap::BpfProgram, String>>,
}

#[cfg(feature = "live")]
impl PacketFilter {
    pub fn new(expression: &str) -> Result<Self, String> {
        // Compiled for Ethernet at once, so a typo is a usage error before any file is read.
        let ethernet = Self::compile(expression, pcap::Linktype::ETHERNET.0)?;
        Ok(PacketFilter {
            expression: expression.to_string(),
            programs: BTreeMap::from([(pcap::Linktype::ETHERNET.0, Ok(ethernet))]),
        })
    }

    /// The expression, for another thread to compile its own filter from (a compiled
    /// program stays in the thread that made it).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    fn compile(expression: &str, linktype: i32) -> Result<pcap::BpfProgram, String> {
        pcap::Capture::dead(pcap::Linktype(linktype))
            .and_then(|dead| dead.compile(expression, true))
            .map_err(|e| format!("--bpf {expression:?}: {e} (link type {linktype})"))
    }

    /// Whether the filter selects the frame; an error when the expression means nothing
    /// for the frame's link type.
    pub fn matches(&mut self, linktype: i32, frame: &[u8]) -> Result<bool, String> {
        let expression = &self.expression;
        match self
            .programs
            .entry(linktype)
            .or_insert_with(|| Self::compile(expression, linktype))
        {
            Ok(program) => Ok(program.filter(frame)),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Without libpcap there is no filter compiler: asking for one is a usage error.
#[cfg(not(feature = "live"))]
pub struct PacketFilter(std::convert::Infallible);

#[cfg(not(feature = "live"))]
impl PacketFilter {
    pub fn new(_expression: &str) -> Result<Self, String> {
        Err(
            "--bpf uses libpcap's filter compiler, which this build leaves out: rebuild \
             with `cargo build --release --features live` (needs libpcap-dev)"
                .into(),
        )
    }

    pub fn expression(&self) -> &str {
        match self.0 {}
    }

    pub fn matches(&mut self, _linktype: i32, _frame: &[u8]) -> Result<bool, String> {
        match self.0 {}
    }
}

/// The frames a `--bpf` filter selects go on to `inner`; the others are counted.
pub struct Filtered<'a> {
    pub inner: &'a mut dyn PacketPath,
    pub filter: PacketFilter,
    /// Frames the filter did not select.
    pub skipped: u64,
    /// Why frames of some link type could not be filtered (and were not analysed), once each.
    pub errors: BTreeSet<String>,
}

impl PacketPath for Filtered<'_> {
    fn set_source(&mut self, name: &str) {
        self.inner.set_source(name);
    }

    fn read_block(&self) -> Option<usize> {
        self.inner.read_block()
    }

    fn process(&mut self, packet: &Packet<'_>) {
        match self.filter.matches(packet.linktype, packet.data) {
            Ok(true) => self.inner.process(packet),
            Ok(false) => self.skipped += 1,
            Err(e) => {
                self.skipped += 1;
                self.errors.insert(e);
            }
        }
    }
}

/// Where a run is, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub packets_per_sec: f64,
}

/// Where read packets go: one engine in this thread, or the workers.
pub trait PacketPath {
    /// Names the source of the packets that follow (`pcap_filename`).
    fn set_source(&mut self, name: &str);
    fn process(&mut self, packet: &Packet<'_>);
    /// Whether whole read blocks of a legacy pcap file go to `process_records`
    /// rather than packet by packet to `process`.
    fn takes_records(&self) -> bool {
        false
    }
    /// Bytes per read when not the default (`CaptureFile::read_in_blocks_of`).
    fn read_block(&self) -> Option<usize> {
        None
    }
    /// A block of whole records; returns a buffer for the next read.
    fn process_records(&mut self, block: RecordBlock) -> Vec<u8> {
        for (_, packet) in block.packets() {
            self.process(&packet);
        }
        block.into_buffer()
    }
    /// The relay this path shares legacy pcap files through, and its worker number
    /// there (`analyze --workers`).
    fn relay(&self) -> Option<(Arc<Relay>, usize)> {
        None
    }
    /// A block the relay cut, with its frames' workers.
    fn process_shared(&mut self, block: &SharedBlock) {
        for (_, packet) in block.records.packets() {
            self.process(&packet);
        }
    }
}

/// One engine, in the reading thread.
pub struct Inline<'a> {
    pub engine: &'a mut Engine,
    pub sink: &'a mut dyn Sink,
}

impl PacketPath for Inline<'_> {
    fn set_source(&mut self, name: &str) {
        self.engine.set_source(name);
    }

    fn process(&mut self, packet: &Packet<'_>) {
        self.engine.process(packet, self.sink);
    }
}

/// One of several workers of an offline run, in its own thread, reading the whole
/// input itself and analysing the frames whose worker it is (`Sharder`: every worker
/// picks the same worker for a frame). Reading the file once per worker costs each
/// the kernel's copy of it, but a frame is then in the cache of the core that
/// analyses it; handing one reader's blocks to the workers made every worker fetch
/// its frames from the reader's core, and two workers were slower than one.
pub struct WorkerShare<'a> {
    pub engine: &'a mut Engine,
    pub sink: &'a mut dyn Sink,
    pub sharder: Sharder,
    pub me: usize,
    /// The input position of the next frame.
    pub position: u64,
    /// Where legacy pcap files are read once for all the workers.
    pub relay: Option<Arc<Relay>>,
}

/// A worker tells the others how far it is at each frame of its own and at every
/// this many frames of theirs: a worker waiting for another to pass a position waits
/// at most that long for frames it skips.
const TELL_EVERY: u64 = 64;

/// Bytes per read for a worker that reads the whole input: every file under `--bpf`
/// (with the relay, pcapng files are read in its `SHARED_BLOCK`s). Smaller than a lone
/// engine's block: a worker that needs another to pass a position (a call's media
/// after its signalling) waits for as much as a block of the other's reading, and
/// two copies of the file pass through the caches. On a 1 GB capture with 2 workers:
/// 0.59–0.63 s at 128 KiB, 0.59–0.68 s at 32–64 KiB, 0.66–0.88 s at 1 MiB.
const SHARE_READ_BLOCK: usize = 128 << 10;

impl WorkerShare<'_> {
    fn take(&mut self, packet: &Packet<'_>) {
        let position = self.position;
        self.position += 1;
        if self.sharder.shard(packet.linktype, packet.data) == self.me {
            self.engine.process_at(position, packet, self.sink);
        } else {
            // The clock goes on as it would for one engine: quiet flows time out.
            self.engine.advance(packet.ts, self.sink);
            if position % TELL_EVERY == 0 {
                self.engine.passed(position + 1, packet.ts);
            }
        }
    }

    /// Every frame of a block is behind: the others need not wait for any of them.
    fn block_done(&mut self, last: Option<Timestamp>) {
        if let Some(last) = last {
            self.engine.passed(self.position, last);
        }
    }
}

impl PacketPath for WorkerShare<'_> {
    fn set_source(&mut self, name: &str) {
        self.engine.set_source(name);
    }

    fn process(&mut self, packet: &Packet<'_>) {
        self.take(packet);
    }

    fn takes_records(&self) -> bool {
        true
    }

    fn read_block(&self) -> Option<usize> {
        Some(match self.relay {
            Some(_) => super::relay::SHARED_BLOCK,
            None => SHARE_READ_BLOCK,
        })
    }

    fn process_records(&mut self, block: RecordBlock) -> Vec<u8> {
        let mut last = None;
        for (_, packet) in block.packets() {
            self.take(&packet);
            last = Some(packet.ts);
        }
        self.block_done(last);
        block.into_buffer()
    }

    fn relay(&self) -> Option<(Arc<Relay>, usize)> {
        self.relay
            .as_ref()
            .map(|relay| (Arc::clone(relay), self.me))
    }

    fn process_shared(&mut self, block: &SharedBlock) {
        let base = self.position;
        let mut next = 0;
        for &(index, offset) in block.own.get(self.me).into_iter().flatten() {
            // The clock goes on by the others' frames as it would for one engine.
            let others = block.times.get(next..index as usize).unwrap_or_default();
            self.engine.advance_over(others, self.sink);
            next = index as usize + 1;
            if let Some(packet) = block.records.packet_at(offset) {
                self.engine
                    .process_at(base + u64::from(index), &packet, self.sink);
            }
        }
        let others = block.times.get(next..).unwrap_or_default();
        self.engine.advance_over(others, self.sink);
        self.position = base + block.times.len() as u64;
        self.block_done(block.times.last().copied());
    }
}

impl PacketPath for Workers {
    fn set_source(&mut self, name: &str) {
        Workers::set_source(self, name);
    }

    fn process(&mut self, packet: &Packet<'_>) {
        self.push(packet);
    }

    fn takes_records(&self) -> bool {
        true
    }

    fn process_records(&mut self, block: RecordBlock) -> Vec<u8> {
        self.push_records(block)
    }
}

/// What was read of one file, for the report's chain of custody.
#[derive(Clone, Debug, Default)]
pub struct FileRead {
    pub path: PathBuf,
    pub size: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first: Option<crate::timestamp::Timestamp>,
    pub last: Option<crate::timestamp::Timestamp>,
    /// Packets shorter than on the wire (cut by the snapshot length).
    pub snapped: u64,
    /// Why it was not read to its end.
    pub error: Option<String>,
}

impl FileRead {
    fn note(&mut self, packet: &Packet<'_>) {
        self.packets += 1;
        self.bytes += packet.data.len() as u64;
        self.snapped += u64::from(packet.snapped());
        widen(&mut self.first, &mut self.last, packet.ts);
    }

    /// A block of records: its tally, gathered when it was cut.
    fn note_block(&mut self, block: &RecordBlock) {
        self.packets += block.packets;
        self.bytes += block.bytes;
        self.snapped += block.snapped;
        for ts in [block.first, block.last].into_iter().flatten() {
            widen(&mut self.first, &mut self.last, ts);
        }
    }
}

pub struct ReadOutcome {
    /// Per file, in the order read.
    pub files: Vec<FileRead>,
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Size of the files read, headers and all.
    pub file_bytes: u64,
    /// Files that could not be read to the end; what came before the error was analysed.
    pub errors: Vec<CaptureError>,
}

/// Reads every file into `path`. A bad file is reported and the run goes on with the
/// next one; nothing found so far is lost. Ending the flows is the caller's, since
/// only it knows whether one engine or several hold them.
pub fn read_files(
    files: &[PathBuf],
    path: &mut dyn PacketPath,
    mut progress: impl FnMut(Progress),
) -> ReadOutcome {
    let started = Instant::now();
    let mut errors = Vec::new();
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut done = 0u64;
    let mut packets = 0u64;
    let mut bytes = 0u64;
    let mut reads = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let mut read = FileRead {
            path: file.clone(),
            ..FileRead::default()
        };
        let relay = path.relay();
        let mut capture = match CaptureFile::open(file) {
            Ok(c) => c,
            Err(e) => {
                if let Some((relay, me)) = &relay {
                    relay.skip(index, *me);
                }
                read.error = Some(e.to_string());
                reads.push(read);
                errors.push(e);
                continue;
            }
        };
        if let Some(block) = path.read_block() {
            capture.read_in_blocks_of(block);
        }
        path.set_source(&file.display().to_string());
        let size = capture.size();
        let mut in_file = 0u64;
        let mut report = |packets: u64, in_file: u64| {
            let elapsed = started.elapsed().as_secs_f64().max(1e-9);
            progress(Progress {
                bytes_done: done + in_file,
                bytes_total: total,
                packets_per_sec: packets as f64 / elapsed,
            });
        };
        let mut count_block = |block: &RecordBlock| {
            read.note_block(block);
            packets += block.packets;
            bytes += block.bytes;
            in_file += 16 * block.packets + block.bytes;
            report(packets, in_file);
        };
        let result = match relay {
            Some((relay, me)) if capture.has_record_blocks() && path.takes_records() => {
                relay.read(index, me, capture, |block| {
                    count_block(&block.records);
                    path.process_shared(block);
                })
            }
            _ => {
                let by_blocks = path.takes_records().then(|| {
                    capture.read_record_blocks(|block| {
                        count_block(&block);
                        path.process_records(block)
                    })
                });
                match by_blocks.flatten() {
                    Some(result) => result,
                    None => capture.read_packets(|packet| {
                        path.process(&packet);
                        read.note(&packet);
                        packets += 1;
                        bytes += packet.data.len() as u64;
                        // Record header plus data: close enough to the file offset for a
                        // progress bar.
                        in_file += 16 + packet.data.len() as u64;
                        if packets % 16_384 == 0 {
                            report(packets, in_file);
                        }
                    }),
                }
            }
        };
        done += size;
        read.size = size;
        progress(Progress {
            bytes_done: done,
            bytes_total: total,
            packets_per_sec: packets as f64 / started.elapsed().as_secs_f64().max(1e-9),
        });
        if let Err(e) = result {
            read.error = Some(e.to_string());
            errors.push(e);
        }
        reads.push(read);
    }
    ReadOutcome {
        files: reads,
        packets,
        bytes,
        file_bytes: done,
        errors,
    }
}
