//! pcap (µs, ns and the "modified" variant) and pcapng capture files, read as a stream
//! so multi-gigabyte files need no more memory than one read block and their largest
//! record.
//!
//! Legacy pcap records are parsed here by hand: four integers and a slice per packet,
//! straight out of a large read buffer — most of a file's records are this, and a
//! general block parser cost about a hundred instructions a packet. pcapng is framed
//! here too (so a bad block length is named as such) and each block's body is read by
//! pcap-parser.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use pcap_parser::nom;
use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::PcapError;

use super::{widen, Packet};
use crate::timestamp::Timestamp;

/// Bytes asked of the operating system per read. Large enough that the system call
/// is rare (one per ~2,000 RTP packets), small enough that what it copies is still in
/// the CPU's cache when the records are parsed (measured: 256 KiB to 4 MiB differ
/// within noise; 64 KiB costs a few per cent more reads).
const READ_BLOCK: usize = 1 << 20;
/// Our own cap on one record or block. Real frames stay below 256 KiB (libpcap's
/// MAXIMUM_SNAPLEN); anything far beyond is corruption or an attack on our memory.
const MAX_BLOCK_LEN: usize = 16 * 1024 * 1024;
/// Name of standard input on the command line.
pub const STDIN: &str = "-";

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: empty file: no capture header")]
    Empty { path: PathBuf },
    #[error("{path}: not a pcap or pcapng file (unrecognised header at byte offset 0)")]
    NotACapture { path: PathBuf },
    #[error("{path}: truncated at byte offset {offset}: the file ends inside {inside}")]
    Truncated {
        path: PathBuf,
        offset: u64,
        /// What the file ends inside, with the length it claims.
        inside: String,
    },
    #[error("{path}: corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: read error at byte offset {offset}: {source}")]
    Read {
        path: PathBuf,
        offset: u64,
        source: std::io::Error,
    },
    /// What stopped another thread reading the same file (`analyze --workers`, where
    /// one worker reads each block for all): the same message.
    #[error("{0}")]
    Relayed(String),
}

/// Per-interface facts a pcapng file declares once and packets refer to by index.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: i32,
    /// Timestamp units per second (if_tsresol).
    units_per_sec: u64,
    /// Seconds to add to every timestamp (if_tsoffset).
    offset_secs: i64,
}

/// The file's format, from its first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Legacy(Layout),
    PcapNg,
}

/// How a legacy pcap file lays out its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    big_endian: bool,
    nanos: bool,
    /// 16, or 24 in Alexey Kuznetzov's "modified" pcap (extra ifindex, protocol,
    /// pkt_type and padding after the usual four fields).
    record_header: usize,
    /// From the file header.
    linktype: i32,
}

/// What the bytes at a record boundary hold.
enum Record<'a> {
    /// A whole record: the frame and the record's length with its header.
    Whole(Packet<'a>, usize),
    /// Only the start of one: this many bytes would make it whole.
    Partial(usize),
}

impl Layout {
    /// The record at the start of `data`.
    #[inline]
    fn record<'a>(&self, data: &'a [u8]) -> Record<'a> {
        let header = self.record_header;
        if data.len() < header {
            return Record::Partial(header);
        }
        let caplen = read_u32(data, 8, self.big_endian) as usize;
        let total = header.saturating_add(caplen);
        let Some(frame) = data.get(header..total) else {
            return Record::Partial(total);
        };
        let secs = read_u32(data, 0, self.big_endian);
        let frac = read_u32(data, 4, self.big_endian);
        let frac = if self.nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        };
        let packet = Packet {
            ts: Timestamp::from_secs_nanos(u64::from(secs), frac),
            linktype: self.linktype,
            data: frame,
            wire_len: read_u32(data, 12, self.big_endian),
        };
        Record::Whole(packet, total)
    }
}

/// Whole legacy pcap records as one read brought them in. `analyze --workers` hands
/// the same block to every worker and each picks its own frames out, so the reading
/// thread neither copies frames nor decodes them.
pub struct RecordBlock {
    data: Vec<u8>,
    start: usize,
    end: usize,
    layout: Layout,
    /// Records in the block, and the sum of their captured lengths.
    pub packets: u64,
    pub bytes: u64,
    /// Records cut by the snapshot length, and the earliest and latest time: what the
    /// chain of custody keeps, gathered while the block is cut so that nobody reads
    /// its records a second time for it.
    pub snapped: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl RecordBlock {
    /// The frames in file order, each with its offset in the block (for `packet_at`).
    pub fn packets(&self) -> impl Iterator<Item = (u32, Packet<'_>)> + '_ {
        let data = self.data.get(..self.end).unwrap_or_default();
        let mut at = self.start;
        std::iter::from_fn(move || match self.layout.record(data.get(at..)?) {
            Record::Whole(packet, total) => {
                let offset = u32::try_from(at).ok()?;
                at += total;
                Some((offset, packet))
            }
            // Blocks are cut at record boundaries: the end of the block.
            Record::Partial(_) => None,
        })
    }

    /// The frame whose record starts at `offset` (as `packets` gave it).
    pub fn packet_at(&self, offset: u32) -> Option<Packet<'_>> {
        let data = self.data.get(offset as usize..self.end)?;
        match self.layout.record(data) {
            Record::Whole(packet, _) => Some(packet),
            Record::Partial(_) => None,
        }
    }

    /// Bytes of memory the block holds.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Gives the buffer back for the next read.
    pub fn into_buffer(self) -> Vec<u8> {
        self.data
    }
}

impl Format {
    fn from_magic(magic: [u8; 4]) -> Option<Format> {
        let legacy = |big_endian, nanos, record_header| {
            Format::Legacy(Layout {
                big_endian,
                nanos,
                record_header,
                linktype: 1,
            })
        };
        Some(match u32::from_le_bytes(magic) {
            0xa1b2_c3d4 => legacy(false, false, 16),
            0xd4c3_b2a1 => legacy(true, false, 16),
            0xa1b2_3c4d => legacy(false, true, 16),
            0x4d3c_b2a1 => legacy(true, true, 16),
            0xa1b2_cd34 => legacy(false, false, 24),
            0x0a0d_0d0a => Format::PcapNg,
            _ => return None,
        })
    }
}

fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> u32 {
    let mut word = [0u8; 4];
    if let Some(b) = bytes.get(at..at + 4) {
        word.copy_from_slice(b);
    }
    if big_endian {
        u32::from_be_bytes(word)
    } else {
        u32::from_le_bytes(word)
    }
}

/// A window onto the file: `buf[start..end]` is read and not yet consumed, and
/// `buf[start]` is at file offset `offset`.
struct ReadBuffer {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    offset: u64,
    at_eof: bool,
    /// Bytes asked of the operating system per read.
    block: usize,
}

impl ReadBuffer {
    fn new(reader: Box<dyn Read + Send>) -> Self {
        ReadBuffer {
            reader,
            buf: vec![0; READ_BLOCK],
            start: 0,
            end: 0,
            offset: 0,
            at_eof: false,
            block: READ_BLOCK,
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Hands out the buffer holding the next `cut` unread bytes (and where they start
    /// in it), and goes on in `spare` with the rest.
    fn take_front(&mut self, cut: usize, mut spare: Vec<u8>) -> (Vec<u8>, usize) {
        let cut = cut.min(self.end - self.start);
        let rest = self.end - self.start - cut;
        let want = self.block.max(rest);
        if spare.len() < want {
            spare.resize(want, 0);
        }
        spare[..rest].copy_from_slice(&self.buf[self.start + cut..self.end]);
        let start = self.start;
        let taken = std::mem::replace(&mut self.buf, spare);
        self.offset += cut as u64;
        self.start = 0;
        self.end = rest;
        (taken, start)
    }

    /// Makes at least `n` bytes (at most `MAX_BLOCK_LEN` plus a header) readable from
    /// `data()`, reading as needed; false if the file ends first.
    fn fill(&mut self, n: usize) -> std::io::Result<bool> {
        while self.end - self.start < n {
            if self.at_eof {
                return Ok(false);
            }
            if self.start + n > self.buf.len() || self.end == self.buf.len() {
                // Move the unread tail to the front; grow only for a record larger
                // than the read block.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                let want = n.max(self.block);
                if self.buf.len() < want {
                    self.buf.resize(want, 0);
                }
            }
            let limit = self.buf.len().min(self.end + self.block.max(n));
            match self.reader.read(&mut self.buf[self.end..limit]) {
                Ok(0) => self.at_eof = true,
                Ok(got) => self.end += got,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

pub struct CaptureFile {
    path: PathBuf,
    input: ReadBuffer,
    format: Format,
    /// pcapng: byte order of the current section, and its interfaces.
    big_endian: bool,
    interfaces: Vec<Interface>,
    last_ts: Timestamp,
    size: u64,
    /// `read_record_blocks`: the buffer the next read goes on in.
    spare: Option<Vec<u8>>,
}

impl CaptureFile {
    /// Opens a capture file, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        if path.as_os_str() == STDIN {
            return Self::from_reader(path, std::io::stdin(), 0);
        }
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Self::from_reader(path, file, size)
    }

    /// A capture from any reader (`path` names it in errors): standard input,
    /// in-memory captures, fuzzing. Reads and checks the file header.
    pub fn from_reader(
        path: &Path,
        reader: impl Read + Send + 'static,
        size: u64,
    ) -> Result<Self, CaptureError> {
        let mut input = ReadBuffer::new(Box::new(reader));
        let read_error = |source| CaptureError::Read {
            path: path.to_owned(),
            offset: 0,
            source,
        };
        let complete = input.fill(4).map_err(read_error)?;
        if input.data().is_empty() {
            return Err(CaptureError::Empty {
                path: path.to_owned(),
            });
        }
        let mut magic = [0u8; 4];
        let format = match input.data().get(..4) {
            Some(bytes) if complete => {
                magic.copy_from_slice(bytes);
                Format::from_magic(magic)
            }
            _ => None,
        }
        .ok_or_else(|| CaptureError::NotACapture {
            path: path.to_owned(),
        })?;
        let mut capture = CaptureFile {
            path: path.to_owned(),
            input,
            format,
            big_endian: false,
            interfaces: Vec::new(),
            last_ts: Timestamp::default(),
            size,
            spare: None,
        };
        if let Format::Legacy(layout) = &mut capture.format {
            // magic, version 2+2, thiszone, sigfigs, snaplen, network.
            if !capture.input.fill(24).map_err(read_error)? {
                return Err(capture.truncated("the 24-byte file header".into()));
            }
            layout.linktype = read_u32(capture.input.data(), 20, layout.big_endian) as i32;
            capture.input.consume(24);
        }
        Ok(capture)
    }

    /// Reads on in blocks of this many bytes (at least one byte) rather than
    /// `READ_BLOCK`.
    pub fn read_in_blocks_of(&mut self, bytes: usize) {
        self.input.block = bytes.max(1);
    }

    /// File size in bytes, for progress reporting (0 for standard input).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes consumed so far: the offset of the next record.
    pub fn position(&self) -> u64 {
        self.input.offset
    }

    /// Calls `on_packet` for every frame in file order. Stops at the first format error;
    /// every frame before it has been delivered, so callers keep what they found.
    pub fn read_packets(&mut self, on_packet: impl FnMut(Packet<'_>)) -> Result<(), CaptureError> {
        match self.format {
            Format::Legacy(layout) => self.read_legacy(layout, on_packet),
            Format::PcapNg => self.read_pcapng(on_packet),
        }
    }

    fn read_legacy(
        &mut self,
        layout: Layout,
        mut on_packet: impl FnMut(Packet<'_>),
    ) -> Result<(), CaptureError> {
        loop {
            // The common case, a whole record already in the buffer, costs no call.
            match layout.record(self.input.data()) {
                Record::Whole(packet, total) => {
                    self.last_ts = packet.ts;
                    on_packet(packet);
                    self.input.consume(total);
                }
                Record::Partial(needed) => {
                    if !self.fill_record(needed, layout.record_header)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Reads until the record at the current offset, `needed` bytes long, is whole:
    /// false at a clean end of file, an error for a cut or impossible record.
    fn fill_record(&mut self, needed: usize, header: usize) -> Result<bool, CaptureError> {
        if needed > MAX_BLOCK_LEN {
            return Err(self.corrupt(format!(
                "record of {needed} bytes, over the {} MiB limit",
                MAX_BLOCK_LEN >> 20
            )));
        }
        if self.fill(needed)? {
            return Ok(true);
        }
        match self.input.data().len() {
            0 => Ok(false),
            left if left < header => Err(self.ends_inside("record header", header)),
            _ => Err(self.ends_inside("record", needed)),
        }
    }

    /// For a legacy pcap file, hands its records over in blocks of whole records:
    /// `hand_over` takes each block and gives back a buffer for the next read (a
    /// spare one, or a new `Vec` of any length). None for pcapng, whose blocks need
    /// state across them (interfaces); read it with `read_packets`. Errors as
    /// `read_packets`, after every whole record before them was handed over.
    pub fn read_record_blocks(
        &mut self,
        mut hand_over: impl FnMut(RecordBlock) -> Vec<u8>,
    ) -> Option<Result<(), CaptureError>> {
        if !self.has_record_blocks() {
            return None;
        }
        Some(loop {
            match self.next_record_block() {
                Ok(Some(block)) => self.give_back(hand_over(block)),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        })
    }

    /// Whether the file is legacy pcap, whose records `next_record_block` cuts into
    /// blocks.
    pub fn has_record_blocks(&self) -> bool {
        matches!(self.format, Format::Legacy(_))
    }

    /// The next block of whole records of a legacy pcap file, None at its end (and
    /// at once for pcapng). The read goes on in the buffer last given back, if any.
    pub fn next_record_block(&mut self) -> Result<Option<RecordBlock>, CaptureError> {
        let Format::Legacy(layout) = self.format else {
            return Ok(None);
        };
        loop {
            let mut cut = 0;
            let (mut packets, mut bytes, mut snapped) = (0u64, 0u64, 0u64);
            let (mut first, mut last) = (None, None);
            let needed = loop {
                match layout.record(&self.input.data()[cut..]) {
                    Record::Whole(packet, total) => {
                        self.last_ts = packet.ts;
                        packets += 1;
                        bytes += packet.data.len() as u64;
                        snapped += u64::from(packet.snapped());
                        widen(&mut first, &mut last, packet.ts);
                        cut += total;
                    }
                    Record::Partial(needed) => break needed,
                }
            };
            if cut > 0 {
                let spare = self.spare.take().unwrap_or_default();
                let (data, start) = self.input.take_front(cut, spare);
                return Ok(Some(RecordBlock {
                    data,
                    start,
                    end: start + cut,
                    layout,
                    packets,
                    bytes,
                    snapped,
                    first,
                    last,
                }));
            }
            if !self.fill_record(needed, layout.record_header)? {
                return Ok(None);
            }
        }
    }

    /// A buffer (a block's, once done with) for the next read to go on in.
    pub fn give_back(&mut self, buffer: Vec<u8>) {
        self.spare = Some(buffer);
    }

    fn read_pcapng(&mut self, mut on_packet: impl FnMut(Packet<'_>)) -> Result<(), CaptureError> {
        loop {
            // Block type, length and (section header) byte-order magic.
            if !self.fill(12)? {
                return if self.input.data().is_empty() {
                    Ok(())
                } else {
                    Err(self.truncated("a block header".into()))
                };
            }
            let head = self.input.data();
            if read_u32(head, 0, false) == 0x0a0d_0d0a {
                // A section header sets the byte order of everything up to the next.
                self.big_endian = match read_u32(head, 8, false) {
                    0x1a2b_3c4d => false,
                    0x4d3c_2b1a => true,
                    _ => return Err(self.corrupt("section header with no byte-order magic".into())),
                };
                // Interface indices restart in every section.
                self.interfaces.clear();
            }
            let length = read_u32(head, 4, self.big_endian) as usize;
            if length < 12 || length % 4 != 0 {
                return Err(self.corrupt(format!(
                    "block length {length} is not a multiple of 4 of at least 12"
                )));
            }
            if length > MAX_BLOCK_LEN {
                return Err(self.corrupt(format!(
                    "block length {length}, over the {} MiB limit",
                    MAX_BLOCK_LEN >> 20
                )));
            }
            if !self.fill(length)? {
                // Either the file was cut or this length is wrong; the numbers let a
                // reader tell (a few bytes left of a claimed megabyte is the latter).
                return Err(self.ends_inside("block", length));
            }
            let block = &self.input.data()[..length];
            let trailer = read_u32(block, length - 4, self.big_endian) as usize;
            if trailer != length {
                return Err(self.corrupt(format!(
                    "block length {length} at its start but {trailer} at its end"
                )));
            }
            let parsed = if self.big_endian {
                parse_block_be(block)
            } else {
                parse_block_le(block)
            };
            let block = match parsed {
                Ok((_, block)) => block,
                Err(e) => {
                    let reason = match e {
                        nom::Err::Error(PcapError::NomError(_, kind))
                        | nom::Err::Failure(PcapError::NomError(_, kind)) => {
                            format!("malformed block ({kind:?})")
                        }
                        nom::Err::Incomplete(_) => "block shorter than its fields".into(),
                        _ => "malformed block".into(),
                    };
                    return Err(self.corrupt(reason));
                }
            };
            let packet = match &block {
                Block::InterfaceDescription(idb) => {
                    self.interfaces.push(Interface {
                        linktype: idb.linktype.0,
                        units_per_sec: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                        offset_secs: idb.ts_offset(),
                    });
                    None
                }
                Block::EnhancedPacket(epb) => {
                    let Some(iface) = self.interfaces.get(epb.if_id as usize).copied() else {
                        let reason = format!("packet refers to undeclared interface {}", epb.if_id);
                        return Err(self.corrupt(reason));
                    };
                    let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(iface.units_per_sec);
                    let nanos = (nanos as i128 + i128::from(iface.offset_secs) * 1_000_000_000)
                        .clamp(0, i128::from(u64::MAX)) as u64;
                    Some(Packet {
                        ts: Timestamp(nanos),
                        linktype: iface.linktype,
                        data: epb.packet_data(),
                        wire_len: epb.origlen,
                    })
                }
                Block::SimplePacket(spb) => {
                    let Some(iface) = self.interfaces.first().copied() else {
                        return Err(self.corrupt("simple packet before any interface".into()));
                    };
                    // A simple packet block carries no timestamp: reuse the last one.
                    Some(Packet {
                        ts: self.last_ts,
                        linktype: iface.linktype,
                        data: spb.packet_data(),
                        wire_len: spb.origlen,
                    })
                }
                _ => None,
            };
            if let Some(packet) = packet {
                self.last_ts = packet.ts;
                on_packet(packet);
            }
            self.input.consume(length);
        }
    }

    /// `ReadBuffer::fill` with the error named.
    fn fill(&mut self, n: usize) -> Result<bool, CaptureError> {
        self.input.fill(n).map_err(|source| CaptureError::Read {
            path: self.path.clone(),
            offset: self.input.offset,
            source,
        })
    }

    /// The file ended inside the `inside` that starts at the current offset.
    fn truncated(&self, inside: String) -> CaptureError {
        CaptureError::Truncated {
            path: self.path.clone(),
            offset: self.input.offset,
            inside,
        }
    }

    /// `truncated` for a record or block that claims `claimed` bytes.
    fn ends_inside(&self, what: &str, claimed: usize) -> CaptureError {
        let left = self.input.data().len();
        self.truncated(format!("a {what} of {claimed} bytes ({left} left)"))
    }

    fn corrupt(&self, reason: String) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset: self.input.offset,
            reason,
        }
    }
}
