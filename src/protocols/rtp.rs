//! RTP and RTCP (RFC 3550), SRTP and SRTCP (RFC 3711) told apart where signalling or
//! the packets prove it, RFC 4733 telephone-events, RTCP SDES items.
//!
//! A media flow is either *signalled* (an SDP offer announced its address and port, so
//! the engine started this dissector with a `MediaHint`) or found by header heuristics.
//! Heuristic RTP must prove itself: packets of one SSRC whose sequence numbers advance
//! and whose timestamps advance as a media clock would; until then, and if it never
//! does, the flow is not RTP (DNS ids, NetBIOS, BACnet, DHT and game packets take an
//! RTP header's shape one packet at a time, never a stream's). Heuristic RTCP likewise
//! needs two well-formed compounds from one sender.
//!
//! Unsignalled media whose payload bytes are uniformly random under a clear header
//! (and whose first payload byte, a codec's table-of-contents in clear Opus, varies
//! too) is taken for SRTP: WhatsApp- and Discord-style calls.

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::Field;
use crate::protocols::dtmf::{event_key, DigitCollector, DtmfSource};
use crate::protocols::sdp::static_codec;
pub use crate::protocols::summaries::{MediaConfidence, StreamSummary};
use crate::protocols::{AppProto, Ctx, Fact, Probe};
use crate::protocols::{Dissector, Registration};

const RTP_HEADER: usize = 12;
/// SSRCs tracked per flow; more is not a call.
const MAX_STREAMS: usize = 8;
/// Packets after which unsignalled RTP that has not proven itself is given up.
const PROOF_WINDOW: u64 = 16;
/// Packets of one SSRC that followed their predecessor in sequence and in media time,
/// needed before an unsignalled flow is called RTP.
const PROOF_PACKETS: u64 = 4;
/// Well-formed RTCP compounds from one sender that make an unsignalled flow RTCP.
const RTCP_PROOF_PACKETS: u64 = 2;
/// Payload bytes sampled for the randomness test, and the fewest it decides on.
const SAMPLE_BYTES: u32 = 8192;
const MIN_SAMPLE_BYTES: u32 = 1024;
/// Pearson's χ² over 256 byte values (255 degrees of freedom) below which the sample
/// is uniform: mean 255, standard deviation 22.6; 400 is over six deviations, so random
/// bytes fail it about never, while codec output (G.711 clusters, G.722 sub-bands,
/// Opus table-of-contents) lies in the thousands.
const UNIFORM_CHI_SQUARE: u64 = 400;
/// Packets of a proven stream needed to call it voice (a few stray packets are not).
pub const MIN_VOICE_PACKETS: u64 = 10;
/// SRTP authentication tag lengths (RFC 3711 §5.2: 80 or 32 bits), possibly after a
/// 4-byte MKI.
const SRTP_TRAILERS: [usize; 4] = [10, 4, 14, 8];
/// G.711 / G.722 payloads at 8000 bytes/s: whole 10 ms frames, 10–200 ms a packet
/// (20 ms is usual; RTP over TCP carries up to 150 ms and more). The bytes a payload of
/// `len` has beyond such frames (none in clear RTP, the trailer in SRTP), or `None`
/// when it holds too few or too many frames.
fn beyond_codec_frames(len: usize) -> Option<usize> {
    let rest = len % 80;
    (80..=1600).contains(&(len - rest)).then_some(rest)
}

/// What the signalling said about an expected media flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaHint {
    /// SAVP / SAVPF / UDP/TLS/RTP/SAVPF.
    pub secure: bool,
    /// This port is RTCP (not multiplexed).
    pub rtcp: bool,
    pub telephone_event: Option<u8>,
    /// Payload types named by `a=rtpmap` (and the codec of static ones).
    pub codecs: Vec<(u8, String)>,
    /// `m=audio` (not video, image …).
    pub audio: bool,
    pub dialog: u64,
}

/// RTP version 2 with a payload type of RFC 3551's audio/video ranges or the dynamic
/// range, and enough bytes for its CSRC list.
pub fn probe_rtp(data: &[u8]) -> Probe {
    match parse_rtp(data) {
        Some(p) if p.pt <= 34 || (96..=127).contains(&p.pt) => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// RTCP version 2, a sender or receiver report first (RFC 3550 §6.1).
pub fn probe_rtcp(data: &[u8]) -> Probe {
    if report_fits(data) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// A sender or receiver report whose length covers at least its header and report
/// blocks (RFC 3550 §6.4: SR 6 + 6·RC words after the first, RR 1 + 6·RC; profile
/// extensions may follow), within the datagram. Its header and sender SSRC stay clear
/// under SRTCP too.
fn report_fits(data: &[u8]) -> bool {
    let [b0, pt, hi, lo, ..] = *data else {
        return false;
    };
    let words = usize::from(hi) << 8 | usize::from(lo);
    let blocks = 6 * usize::from(b0 & 0x1f);
    let expected = match pt {
        200 => 6 + blocks,
        201 => 1 + blocks,
        _ => return false,
    };
    b0 >> 6 == 2 && words >= expected && words * 4 + 4 <= data.len()
}

/// RTP and RTCP over TCP framed by RFC 4571 §2: each packet behind a 16-bit length.
/// The first frame must be whole and be RTP or RTCP; the stream must then prove itself
/// as unsignalled UDP media does.
pub fn probe_rtp_over_tcp(data: &[u8]) -> Probe {
    let Some(&[hi, lo]) = data.get(..2) else {
        return Probe::NeedMore;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < RTP_HEADER {
        return Probe::NoMatch;
    }
    match data.get(2..2 + len) {
        Some(frame) if probe_rtp(frame) == Probe::Match || probe_rtcp(frame) == Probe::Match => {
            Probe::Match
        }
        Some(_) => Probe::NoMatch,
        // The frame goes on in the next segment: its header must already look right.
        None => match data.get(2..2 + RTP_HEADER) {
            Some(header) if header[0] >> 6 == 2 => Probe::NeedMore,
            Some(_) => Probe::NoMatch,
            None => Probe::NeedMore,
        },
    }
}

/// RFC 4571 framing around the RTP dissector: frames are cut from the reassembled
/// stream of each direction and handed over one by one.
pub struct RtpOverTcp {
    rtp: RtpDissector,
    /// The start of a frame that continues in the next segment, per direction.
    pending: [Vec<u8>; 2],
    /// A gap broke the framing: nothing more can be cut.
    lost: [bool; 2],
}

impl Default for RtpOverTcp {
    fn default() -> Self {
        Self::new()
    }
}

impl RtpOverTcp {
    pub fn new() -> Self {
        RtpOverTcp {
            rtp: RtpDissector::heuristic(),
            pending: Default::default(),
            lost: [false; 2],
        }
    }

    /// Hands every whole frame of `data` to the RTP dissector; returns the bytes used.
    fn frames(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) -> usize {
        let mut at = 0;
        while let Some(&[hi, lo]) = data.get(at..at + 2) {
            let end = at + 2 + usize::from(u16::from_be_bytes([hi, lo]));
            let Some(frame) = data.get(at + 2..end) else {
                break;
            };
            self.rtp.on_data(dir, frame, ctx);
            at = end;
        }
        at
    }
}

impl Dissector for RtpOverTcp {
    fn refine_app_proto(&self, _detected: AppProto) -> AppProto {
        self.rtp.app_proto()
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if self.lost[dir.index()] {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending[dir.index()]);
        if pending.is_empty() {
            // Whole frames straight from the segment, no copy.
            let used = self.frames(dir, data, ctx);
            pending.extend_from_slice(&data[used..]);
        } else {
            pending.extend_from_slice(data);
            let used = self.frames(dir, &pending, ctx);
            pending.drain(..used);
            if pending.is_empty() {
                // Give the buffer back once the frames line up with segments again.
                pending = Vec::new();
            }
        }
        self.pending[dir.index()] = pending;
    }

    fn on_gap(&mut self, dir: Direction) {
        self.lost[dir.index()] = true;
        self.pending[dir.index()] = Vec::new();
    }

    fn buffered(&self) -> usize {
        self.pending.iter().map(Vec::capacity).sum()
    }

    fn rejected(&self) -> bool {
        self.rtp.rejected()
    }

    fn encrypted(&self) -> bool {
        self.rtp.encrypted()
    }

    fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        self.rtp.on_end(ctx);
    }
}

#[derive(Clone, Copy, Debug)]
struct RtpPacket<'a> {
    pt: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &'a [u8],
}

/// RFC 3550 §5.1 fixed header, CSRCs, header extension and padding.
fn parse_rtp(data: &[u8]) -> Option<RtpPacket<'_>> {
    let header = data.get(..RTP_HEADER)?;
    if header[0] >> 6 != 2 {
        return None;
    }
    let pt = header[1] & 0x7f;
    // RFC 5761 §4: 64–95 would collide with RTCP packet types 192–223.
    if (64..96).contains(&pt) {
        return None;
    }
    let mut offset = RTP_HEADER + 4 * usize::from(header[0] & 0x0f);
    if header[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([*data.get(offset + 2)?, *data.get(offset + 3)?]);
        offset += 4 + 4 * usize::from(words);
    }
    let mut end = data.len();
    if header[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*data.last()?))?;
    }
    Some(RtpPacket {
        pt,
        seq: u16::from_be_bytes([header[2], header[3]]),
        timestamp: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ssrc: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        payload: data.get(offset..end)?,
    })
}

/// One sender's stream (its SSRC is in `RtpDissector::ssrcs`, at the same index).
#[derive(Clone, Debug, Default)]
struct Stream {
    /// The proof fields (up to `consistent`) are kept only while the flow may still
    /// need them: unsignalled and not yet proven RTP.
    last_seq: u16,
    last_timestamp: u32,
    packets: u64,
    /// Packets whose sequence number followed the previous one closely and whose
    /// timestamp advanced by what the payload type's clock allows.
    consistent: u64,
    /// Telephone-event in progress: its RTP timestamp (RFC 4733 §2.5.1.1: all packets
    /// of one event share it, end packets are repeated).
    event_timestamp: Option<u32>,
    /// The last packet that had a telephone-event's shape under a payload type no SDP
    /// named: (payload type, timestamp, event, duration).
    event_candidate: Option<(u8, u32, u8, u16)>,
    digits: DigitCollector,
}

impl Stream {
    /// RFC 4733 events told by their structure when no SDP names their payload type:
    /// a 4-byte payload of a DTMF event code (0–15), the reserved bit clear, and a
    /// second such packet of the same event on the same timestamp whose duration did
    /// not shrink (events grow, then their end is repeated).
    fn event_by_structure(&mut self, packet: &RtpPacket<'_>) -> bool {
        let &[event, flags, hi, lo] = packet.payload else {
            self.event_candidate = None;
            return false;
        };
        if event > 15 || flags & 0x40 != 0 {
            self.event_candidate = None;
            return false;
        }
        let duration = u16::from_be_bytes([hi, lo]);
        let continues = self.event_candidate.is_some_and(|(pt, ts, ev, dur)| {
            pt == packet.pt && ts == packet.timestamp && ev == event && duration >= dur
        });
        self.event_candidate = Some((packet.pt, packet.timestamp, event, duration));
        continues
    }
}

/// In C order, hot fields first: what every RTP packet reads (the verdicts, counters,
/// the hint's flags, the SSRCs and payload types) sits in the first three cache lines
/// of the box; the streams' own state is read only while proving or for events.
#[repr(C)]
pub struct RtpDissector {
    rejected: bool,
    /// A stream has proven itself RTP (`PROOF_PACKETS` consistent packets); kept since
    /// it never stops being true.
    rtp_proven: bool,
    packets: u64,
    /// Payload lengths that are a G.711/G.722 frame, and ones that are a frame plus an
    /// SRTP trailer.
    plain_frames: u64,
    trailed_frames: u64,
    /// Unsignalled flows only: what the payload bytes look like.
    payload: Option<Box<PayloadSample>>,
    hint: Option<MediaHint>,
    /// From the hint, asked per packet: payload types it names as something other
    /// than telephone-event (bit `pt`; RTP's are below 128).
    named_otherwise: u128,
    /// The SSRC of each of `streams`, inline: the per-packet lookup reads these, and a
    /// stream's own state only when it needs it.
    ssrcs: [u32; MAX_STREAMS],
    /// Mostly one: a sender that restarts, or a mixer, adds more.
    streams: Vec<Stream>,
    payload_types: PayloadTypeCounts,
    /// RTCP packets with an SRTCP trailer (index + tag), and without.
    srtcp_trailers: u64,
    rtcp_plain: u64,
    /// Sender SSRCs of the RTCP reports seen, and reports from each (a few).
    rtcp_senders: Vec<(u32, u64)>,
    /// RTCP-looking packets whose compound did not add up.
    rtcp_malformed: u64,
}

/// Packets per payload type, for the first `PAYLOAD_TYPES` types seen: a codec and
/// telephone-event, mostly. Inline in the dissector, since every packet counts.
#[derive(Debug, Default)]
#[repr(C)]
struct PayloadTypeCounts {
    types: [u8; PAYLOAD_TYPES],
    len: u8,
    packets: [u64; PAYLOAD_TYPES],
}

const PAYLOAD_TYPES: usize = 8;

impl PayloadTypeCounts {
    fn count(&mut self, pt: u8) {
        let len = usize::from(self.len);
        match self.types[..len].iter().position(|&t| t == pt) {
            Some(i) => self.packets[i] += 1,
            None if len < PAYLOAD_TYPES => {
                self.types[len] = pt;
                self.packets[len] = 1;
                self.len += 1;
            }
            None => {}
        }
    }

    /// The type with the most packets (the later one seen, on a tie).
    fn most_common(&self) -> Option<u8> {
        let len = usize::from(self.len);
        self.types[..len]
            .iter()
            .zip(&self.packets[..len])
            .max_by_key(|(_, n)| **n)
            .map(|(pt, _)| *pt)
    }
}

/// A sample of a flow's payload bytes, for the randomness test.
#[derive(Clone, Debug)]
struct PayloadSample {
    histogram: [u16; 256],
    bytes: u32,
    /// Which values the first payload byte took.
    first_bytes: [u64; 4],
    packets: u32,
    /// The verdict: judged every `JUDGE_EVERY` packets while the sample fills (the
    /// flow's label is asked for on every packet), fixed once it is full.
    random: bool,
}

/// Packets between two judgements of a sample still filling.
const JUDGE_EVERY: u32 = 8;

impl PayloadSample {
    fn new() -> Self {
        PayloadSample {
            histogram: [0; 256],
            bytes: 0,
            first_bytes: [0; 4],
            packets: 0,
            random: false,
        }
    }

    // Out of line: only unsignalled flows sample, and inlined into `on_data` it makes
    // every signalled packet pay for the registers its loop needs.
    #[inline(never)]
    fn add(&mut self, payload: &[u8]) {
        if self.bytes >= SAMPLE_BYTES {
            return;
        }
        let Some(&first) = payload.first() else {
            return;
        };
        self.packets = self.packets.saturating_add(1);
        self.first_bytes[usize::from(first >> 6)] |= 1 << (first & 0x3f);
        let room = SAMPLE_BYTES.saturating_sub(self.bytes) as usize;
        let taken = &payload[..payload.len().min(room)];
        for &b in taken {
            self.histogram[usize::from(b)] += 1;
        }
        self.bytes += taken.len() as u32;
        if self.bytes >= SAMPLE_BYTES || self.packets % JUDGE_EVERY == 0 {
            self.judge();
        }
    }

    fn judge(&mut self) {
        self.random = self.uniform();
    }

    /// Uniform bytes, and a first byte that is not a codec header.
    fn uniform(&self) -> bool {
        if self.bytes < MIN_SAMPLE_BYTES {
            return false;
        }
        let n = u64::from(self.bytes);
        // χ² = Σ (observed − n/256)² / (n/256), in integers: Σ (256·o − n)² / (256·n).
        let chi_square = self
            .histogram
            .iter()
            .map(|&o| {
                let d = (256 * u64::from(o)).abs_diff(n);
                d * d
            })
            .sum::<u64>()
            / (256 * n);
        let distinct_first: u32 = self.first_bytes.iter().map(|w| w.count_ones()).sum();
        chi_square < UNIFORM_CHI_SQUARE && distinct_first >= (self.packets / 2).min(16)
    }
}

/// The most an RTP timestamp may advance per sequence step: a quarter second of the
/// payload type's clock (RFC 3551 §6: 8 kHz audio, 44.1 kHz L16, 90 kHz video; the
/// dynamic range may be any of them).
fn max_timestamp_step(pt: u8) -> u32 {
    match pt {
        0..=9 | 12 | 13 | 15..=23 => 2_000,
        10 | 11 => 11_025,
        _ => 22_500,
    }
}

impl RtpDissector {
    /// A flow announced by SDP.
    pub fn signalled(hint: MediaHint) -> Self {
        let mut dissector = RtpDissector {
            payload: None,
            ..Self::heuristic()
        };
        dissector.take_hint(hint);
        dissector
    }

    fn take_hint(&mut self, hint: MediaHint) {
        self.named_otherwise = hint
            .codecs
            .iter()
            .filter(|(pt, name)| *pt < 128 && !name.eq_ignore_ascii_case("telephone-event"))
            .fold(0, |bits, (pt, _)| bits | 1 << pt);
        self.hint = Some(hint);
    }

    /// A flow found by its headers (RTP or RTCP: which one, the packets tell).
    pub fn heuristic() -> Self {
        RtpDissector {
            hint: None,
            named_otherwise: 0,
            rtp_proven: false,
            streams: Vec::new(),
            packets: 0,
            payload_types: PayloadTypeCounts::default(),
            ssrcs: [0; MAX_STREAMS],
            plain_frames: 0,
            trailed_frames: 0,
            srtcp_trailers: 0,
            rtcp_plain: 0,
            rtcp_senders: Vec::new(),
            rtcp_malformed: 0,
            payload: Some(Box::new(PayloadSample::new())),
            rejected: false,
        }
    }

    fn proven_rtp(&self) -> bool {
        self.rtp_proven
    }

    /// Signalled, or proven by the packets: RTP by a consistent stream, RTCP by
    /// well-formed compounds of one sender.
    fn proven(&self) -> bool {
        self.hint.is_some()
            || self.proven_rtp()
            || self
                .rtcp_senders
                .iter()
                .any(|(_, n)| *n >= RTCP_PROOF_PACKETS)
    }

    /// RTCP only: signalled as the RTCP port, or unsignalled reports without an RTP
    /// stream beside them (RTP and RTCP share a port under rtcp-mux, RFC 5761).
    fn rtcp_only(&self) -> bool {
        match &self.hint {
            Some(hint) => hint.rtcp,
            None => !self.proven_rtp(),
        }
    }

    /// Every G.711/G.722 payload a frame plus an SRTP trailer.
    fn trailed(&self) -> bool {
        self.trailed_frames >= 5 && self.plain_frames == 0
    }

    /// Unsignalled flows: random payload bytes, and no payload a plain codec frame.
    fn random_payload(&self) -> bool {
        self.plain_frames == 0 && self.payload.as_ref().is_some_and(|p| p.random)
    }

    fn secure(&self) -> bool {
        match &self.hint {
            Some(hint) => hint.secure || self.trailed(),
            None => self.trailed() || self.random_payload(),
        }
    }

    /// `failed` until an unsignalled flow has proven itself media.
    pub fn app_proto(&self) -> AppProto {
        if !self.proven() {
            return AppProto::Failed;
        }
        let rtcp_only = self.rtcp_only();
        match (
            rtcp_only,
            self.secure() || (rtcp_only && self.srtcp_trailers > 0 && self.rtcp_plain == 0),
        ) {
            (true, true) => AppProto::Srtcp,
            (true, false) => AppProto::Rtcp,
            (false, true) => AppProto::Srtp,
            (false, false) => AppProto::Rtp,
        }
    }

    /// Unsignalled packets that never formed a stream within the window: not RTP.
    fn give_up_unproven(&mut self) {
        if self.hint.is_none() && self.packets >= PROOF_WINDOW && !self.proven_rtp() {
            self.rejected = true;
        }
    }

    /// RTCP compound packet: SDES items to the scanner; an SRTCP trailer noticed.
    // Out of line, as `PayloadSample::add`: RTP packets far outnumber RTCP ones.
    #[inline(never)]
    fn on_rtcp(&mut self, data: &[u8], ctx: &mut Ctx<'_>) {
        // Plain RTCP ends exactly at the end of the datagram; SRTCP leaves index and tag
        // after the first (clear) report, and its encrypted packets' lengths are noise.
        let rest = data.len() - compound(data).last().map_or(0, |p| p.at + p.len);
        let sender = data
            .get(4..8)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if let (true, Some(sender)) = (report_fits(data), sender) {
            match self.rtcp_senders.iter().position(|(s, _)| *s == sender) {
                Some(i) => self.rtcp_senders[i].1 += 1,
                None if self.rtcp_senders.len() < MAX_STREAMS => {
                    self.rtcp_senders.push((sender, 1))
                }
                None => {}
            }
        } else {
            self.rtcp_malformed += 1;
            if self.hint.is_none() && self.rtcp_malformed >= PROOF_PACKETS && !self.proven() {
                self.rejected = true;
            }
        }
        if rest == 0 {
            self.rtcp_plain += 1;
            // Clear RTCP, even on an SRTP session (some stacks send BYE/SDES in clear).
            for p in compound(data).filter(|p| p.pt == 202) {
                sdes_items(&data[p.at..p.at + p.len], p.count, ctx);
            }
        } else if SRTP_TRAILERS.iter().any(|t| t + 4 == rest) {
            self.srtcp_trailers += 1;
        }
    }
}

impl Dissector for RtpDissector {
    fn refine_app_proto(&self, _detected: AppProto) -> AppProto {
        self.app_proto()
    }

    fn unsignalled_media(&self) -> bool {
        self.hint.is_none()
    }

    /// An announcement for a flow found by its headers: from now on it is judged as
    /// signalled media (codec names, telephone-event, SRTP from the SDP).
    fn adopt_media(&mut self, hint: MediaHint) {
        self.take_hint(hint);
    }

    /// Not RTP after all: the flow goes back to being unclassified.
    fn rejected(&self) -> bool {
        self.rejected
    }

    fn encrypted(&self) -> bool {
        matches!(self.app_proto(), AppProto::Srtp | AppProto::Srtcp)
    }

    fn on_data(&mut self, _dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if self.rejected {
            return;
        }
        // RTP and RTCP share the port under rtcp-mux (RFC 5761 §4).
        if matches!(data.get(1), Some(192..=223)) && data.first().is_some_and(|b| b >> 6 == 2) {
            self.on_rtcp(data, ctx);
            return;
        }
        // Signalled as the RTCP port.
        if self.hint.as_ref().is_some_and(|h| h.rtcp) {
            return;
        }
        let Some(packet) = parse_rtp(data) else {
            return;
        };
        self.packets += 1;
        self.payload_types.count(packet.pt);
        if matches!(packet.pt, 0 | 8 | 9) {
            match beyond_codec_frames(packet.payload.len()) {
                Some(0) => self.plain_frames += 1,
                Some(rest) if SRTP_TRAILERS.contains(&rest) => self.trailed_frames += 1,
                _ => {}
            }
        }
        let known = self.ssrcs[..self.streams.len()]
            .iter()
            .position(|&ssrc| ssrc == packet.ssrc);
        let stream = match known {
            Some(i) => &mut self.streams[i],
            None if self.streams.len() < MAX_STREAMS => {
                self.ssrcs[self.streams.len()] = packet.ssrc;
                self.streams.push(Stream {
                    last_seq: packet.seq.wrapping_sub(1),
                    ..Stream::default()
                });
                let last = self.streams.len() - 1;
                &mut self.streams[last]
            }
            None => {
                self.give_up_unproven();
                return;
            }
        };
        // Signalled media, or a flow already proven, needs no more proof.
        if self.hint.is_none() && !self.rtp_proven {
            let step = packet.seq.wrapping_sub(stream.last_seq);
            let advance = packet.timestamp.wrapping_sub(stream.last_timestamp);
            if (1..=10).contains(&step)
                && stream.packets > 0
                && advance <= max_timestamp_step(packet.pt) * u32::from(step)
            {
                stream.consistent += 1;
                self.rtp_proven = stream.consistent >= PROOF_PACKETS;
            }
            stream.packets += 1;
            stream.last_seq = packet.seq;
            stream.last_timestamp = packet.timestamp;
        }
        if let Some(sample) = &mut self.payload {
            sample.add(packet.payload);
        }
        let telephone_event = self.hint.as_ref().and_then(|h| h.telephone_event);
        let encrypted = self.hint.as_ref().is_some_and(|h| h.secure);
        let new_event = if encrypted {
            false
        } else if telephone_event == Some(packet.pt) {
            true
        } else if (96..=127).contains(&packet.pt) && self.named_otherwise & 1 << packet.pt == 0 {
            stream.event_by_structure(&packet)
        } else {
            false
        };
        // RFC 4733 §2.3: event, E|R|volume, duration.
        if let (true, Some(&event)) = (new_event, packet.payload.first()) {
            if stream.event_timestamp != Some(packet.timestamp) {
                stream.event_timestamp = Some(packet.timestamp);
                if let Some(key) = event_key(event) {
                    stream.digits.push(key);
                }
            }
        }
        self.give_up_unproven();
    }

    /// The flow ends: its summary and the digits of each stream.
    fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        let dialog = self.hint.as_ref().map(|h| h.dialog);
        if let Some(sample) = &mut self.payload {
            sample.judge();
        }
        if !self.proven() {
            return;
        }
        if !self.rtcp_only() && self.packets > 0 && !self.rejected {
            let pt = self.payload_types.most_common();
            let named = |pt: u8| {
                self.hint
                    .as_ref()
                    .and_then(|h| {
                        h.codecs
                            .iter()
                            .find(|(p, _)| *p == pt)
                            .map(|(_, n)| n.clone())
                    })
                    .or_else(|| static_codec(pt).map(str::to_string))
            };
            let codec = pt.and_then(named);
            let voice_codec = |name: &str| {
                !["telephone-event", "CN", "red", "ulpfec", "rtx"]
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n))
            };
            let audio = match &self.hint {
                Some(h) => h.audio && codec.as_deref().is_some_and(voice_codec),
                // Without signalling only static audio payload types are known voice.
                None => pt.is_some_and(|pt| pt <= 23 && pt != 13),
            };
            let frames_prove = self.plain_frames >= 5 && self.trailed_frames == 0;
            let confidence = match (&self.hint, self.secure() || frames_prove) {
                (Some(_), _) => MediaConfidence::Signalled,
                (None, true) => MediaConfidence::Proven,
                (None, false) => MediaConfidence::Heuristic,
            };
            ctx.emit(Fact::Media(StreamSummary {
                app_proto: self.app_proto(),
                payload_type: pt,
                codec,
                packets: self.packets,
                ssrcs: self.streams.len(),
                audio,
                confidence,
                dialog,
            }));
        }
        // Digits are read only off clear media.
        if self.encrypted() {
            return;
        }
        for stream in &mut self.streams {
            if let Some(fact) = stream.digits.take(DtmfSource::RtpEvents, dialog) {
                ctx.emit(Fact::Dtmf(fact));
            }
        }
    }
}

/// One packet of an RTCP compound: its type, item count, offset and length.
struct RtcpPacket {
    pt: u8,
    count: u8,
    at: usize,
    len: usize,
}

/// The packets of an RTCP compound, walked by their length fields up to the first that
/// is not RTCP or does not fit (walked twice rather than collected: no allocation per
/// packet).
fn compound(data: &[u8]) -> impl Iterator<Item = RtcpPacket> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let &[b0, pt, hi, lo] = data.get(at..at + 4)? else {
            return None;
        };
        let len = (usize::from(hi) << 8 | usize::from(lo)) * 4 + 4;
        if b0 >> 6 != 2 || !(192..=223).contains(&pt) || at + len > data.len() {
            return None;
        }
        let packet = RtcpPacket {
            pt,
            count: b0 & 0x1f,
            at,
            len,
        };
        at += len;
        Some(packet)
    })
}

/// RFC 3550 §6.5: SDES chunks of SSRC + items (type, length, text), ending with a
/// zero item and padding to 32 bits.
fn sdes_items(packet: &[u8], chunks: u8, ctx: &mut Ctx<'_>) {
    let mut offset = 4;
    for _ in 0..chunks {
        offset += 4; // SSRC/CSRC
        loop {
            let Some(&kind) = packet.get(offset) else {
                return;
            };
            if kind == 0 {
                offset = (offset + 4) & !3;
                break;
            }
            let Some(&len) = packet.get(offset + 1) else {
                return;
            };
            let Some(text) = packet.get(offset + 2..offset + 2 + usize::from(len)) else {
                return;
            };
            match kind {
                2 => ctx.scan(Field::PersonName, text),
                4 => ctx.scan(Field::PhoneNumber, text),
                1 | 3 | 5 | 7 => ctx.scan(Field::Text, text),
                _ => {}
            }
            offset += 2 + usize::from(len);
        }
    }
}

pub const RTCP: Registration = Registration {
    app_proto: AppProto::Rtcp,
    l4: L4::Udp,
    ports: &[],
    probe: probe_rtcp,
    start: || Box::new(RtpDissector::heuristic()),
};

pub const RTP: Registration = Registration {
    app_proto: AppProto::Rtp,
    l4: L4::Udp,
    ports: &[],
    probe: probe_rtp,
    start: || Box::new(RtpDissector::heuristic()),
};

pub const RTP_OVER_TCP: Registration = Registration {
    app_proto: AppProto::Rtp,
    l4: L4::Tcp,
    ports: &[],
    probe: probe_rtp_over_tcp,
    start: || Box::new(RtpOverTcp::new()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::fact::PersonalData;
    use crate::protocols::testing::with_ctx;

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn run(d: &mut RtpDissector, packets: &[Vec<u8>]) -> Vec<Fact> {
        with_ctx(AppProto::Rtp, |ctx| {
            for p in packets {
                d.on_data(Direction::ToServer, p, ctx);
            }
            d.on_end(ctx);
        })
    }

    fn hint(secure: bool) -> MediaHint {
        MediaHint {
            secure,
            rtcp: false,
            telephone_event: Some(101),
            codecs: vec![(8, "PCMA".into()), (101, "telephone-event".into())],
            audio: true,
            dialog: 7,
        }
    }

    #[test]
    fn signalled_g711_with_dtmf_events() {
        let mut packets: Vec<Vec<u8>> = (0..20)
            .map(|i| rtp(8, 100 + i, 160 * u32::from(i), 1, &[0xd5; 160]))
            .collect();
        // Digits 1 and 2: three packets per event (the last an end packet repeated).
        for (n, (event, ts)) in [(1u8, 5000u32), (2, 6000)].iter().enumerate() {
            for k in 0..4u16 {
                let end = if k >= 2 { 0x80 } else { 0 };
                packets.push(rtp(
                    101,
                    200 + n as u16 * 4 + k,
                    *ts,
                    1,
                    &[*event, end | 10, 0, 160],
                ));
            }
        }
        let mut d = RtpDissector::signalled(hint(false));
        let facts = run(&mut d, &packets);
        assert_eq!(d.app_proto(), AppProto::Rtp);
        match facts.as_slice() {
            [Fact::Media(s), Fact::Dtmf(dtmf)] => {
                assert_eq!(
                    (s.codec.as_deref(), s.packets, s.audio),
                    (Some("PCMA"), 28, true)
                );
                assert_eq!(
                    (dtmf.digits, dtmf.card_number, dtmf.dialog),
                    (2, false, Some(7))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn srtp_by_signalling_or_trailer_length() {
        let packets: Vec<Vec<u8>> = (0..10)
            .map(|i| rtp(8, i, 160 * u32::from(i), 9, &[0x5a; 170]))
            .collect();
        let mut heuristic = RtpDissector::heuristic();
        run(&mut heuristic, &packets);
        assert_eq!(
            heuristic.app_proto(),
            AppProto::Srtp,
            "160-byte frames + 80-bit tag"
        );
        let plain: Vec<Vec<u8>> = (0..10)
            .map(|i| rtp(0, i, 160 * u32::from(i), 9, &[0xff; 160]))
            .collect();
        let mut d = RtpDissector::heuristic();
        let facts = run(&mut d, &plain);
        assert_eq!(d.app_proto(), AppProto::Rtp);
        assert!(
            matches!(facts.as_slice(), [Fact::Media(s)] if s.confidence == MediaConfidence::Proven && s.audio)
        );
        assert_eq!(
            RtpDissector::signalled(hint(true)).app_proto(),
            AppProto::Srtp
        );
    }

    #[test]
    fn random_udp_is_rejected() {
        let noise: Vec<Vec<u8>> = (0..PROOF_WINDOW as u32)
            .map(|i| rtp(96, (i * 7919) as u16, i, i, &[1, 2, 3]))
            .collect();
        let mut d = RtpDissector::heuristic();
        let facts = run(&mut d, &noise);
        assert!(d.rejected());
        assert!(facts.is_empty());
    }

    #[test]
    fn rtcp_sdes_name_and_probes() {
        // SR (empty report list) + SDES with CNAME and NAME "Jane Doe".
        let mut p = vec![0x80, 200, 0, 6];
        p.extend_from_slice(&[0; 24]);
        let mut sdes = vec![0x81, 202, 0, 0];
        sdes.extend_from_slice(&[0, 0, 0, 1]);
        sdes.extend_from_slice(&[1, 3, b'a', b'@', b'b']);
        sdes.extend_from_slice(&[2, 8]);
        sdes.extend_from_slice(b"Jane Doe");
        sdes.push(0);
        while sdes.len() % 4 != 0 {
            sdes.push(0);
        }
        let words = (sdes.len() / 4 - 1) as u16;
        sdes[2..4].copy_from_slice(&words.to_be_bytes());
        p.extend_from_slice(&sdes);
        assert_eq!(probe_rtcp(&p), Probe::Match);
        assert_eq!(probe_rtp(&p), Probe::NoMatch);
        // One compound is not yet RTCP (a NetBIOS or BACnet packet can look like one).
        let mut d = RtpDissector::heuristic();
        let facts = run(&mut d, std::slice::from_ref(&p));
        assert_eq!(d.app_proto(), AppProto::Failed);
        assert!(
            matches!(facts.as_slice(), [Fact::PersonalData(PersonalData { matches: m, .. })] if m[0].evidence == "J*** D**"),
            "{facts:?}"
        );
        let mut d = RtpDissector::heuristic();
        run(&mut d, &[p.clone(), p]);
        assert_eq!(d.app_proto(), AppProto::Rtcp);
    }

    /// xorshift64*: deterministic bytes for payloads.
    fn bytes(seed: &mut u64, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *seed ^= *seed >> 12;
                *seed ^= *seed << 25;
                *seed ^= *seed >> 27;
                (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn rtp_over_tcp_frames_across_segments() {
        // Twelve PCMA packets of 160 bytes, each behind its RFC 4571 length, the
        // stream cut at arbitrary points.
        let mut stream = Vec::new();
        for i in 0..12u16 {
            let packet = rtp(8, 500 + i, 160 * u32::from(i), 77, &[0xd5; 160]);
            stream.extend_from_slice(&(packet.len() as u16).to_be_bytes());
            stream.extend_from_slice(&packet);
        }
        assert_eq!(probe_rtp_over_tcp(&stream), Probe::Match);
        assert_eq!(probe_rtp_over_tcp(&stream[..20]), Probe::NeedMore);
        assert_eq!(
            probe_rtp_over_tcp(b"\x00\x0cGET / HTTP/1.1"),
            Probe::NoMatch
        );
        let mut d = RtpOverTcp::new();
        let facts = with_ctx(AppProto::Rtp, |ctx| {
            for piece in stream.chunks(100) {
                d.on_data(Direction::ToServer, piece, ctx);
            }
            d.on_end(ctx);
        });
        assert_eq!(d.refine_app_proto(AppProto::Failed), AppProto::Rtp);
        assert!(
            matches!(facts.as_slice(), [Fact::Media(s)] if s.packets == 12 && s.audio),
            "{facts:?}"
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn dns_shaped_packets_never_become_rtp() {
        // DNS over UDP: id 0x80xx reads as RTP version 2; flags, counts and the name
        // follow. Queries from one port repeat the flags: no advancing sequence.
        let query = |id: u8| {
            let mut q = vec![0x80, id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
            q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
            q
        };
        let packets: Vec<Vec<u8>> = (0..6).map(|i| query(0x10 + i)).collect();
        assert_eq!(probe_rtp(&packets[0]), Probe::Match);
        let mut d = RtpDissector::heuristic();
        let facts = run(&mut d, &packets);
        assert_eq!(d.app_proto(), AppProto::Failed);
        assert!(facts.is_empty(), "{facts:?}");
        // Sequence numbers that advance under timestamps that jump like random data.
        let mut seed = 7;
        let jumpy: Vec<Vec<u8>> = (0..PROOF_WINDOW as u16)
            .map(|i| {
                let ts = u32::from_be_bytes(bytes(&mut seed, 4).try_into().unwrap());
                rtp(96, i, ts, 5, &[0; 20])
            })
            .collect();
        let mut d = RtpDissector::heuristic();
        assert!(run(&mut d, &jumpy).is_empty());
        assert!(d.rejected());
    }

    #[test]
    fn random_payload_under_clear_header_is_srtp() {
        // A WhatsApp-style call: dynamic PT, 20 ms of a 48 kHz clock, encrypted payload.
        let mut seed = 11;
        let packets: Vec<Vec<u8>> = (0..50u16)
            .map(|i| rtp(120, i, 960 * u32::from(i), 3, &bytes(&mut seed, 90)))
            .collect();
        let mut d = RtpDissector::heuristic();
        let facts = run(&mut d, &packets);
        assert_eq!(d.app_proto(), AppProto::Srtp);
        assert!(d.encrypted());
        assert!(
            matches!(facts.as_slice(), [Fact::Media(s)] if s.app_proto == AppProto::Srtp),
            "{facts:?}"
        );
        // Clear Opus: the table-of-contents byte stays put, the rest is compressed.
        let opus: Vec<Vec<u8>> = (0..50u16)
            .map(|i| {
                let mut payload = vec![0x78];
                payload.extend(bytes(&mut seed, 89));
                rtp(111, i, 960 * u32::from(i), 4, &payload)
            })
            .collect();
        let mut d = RtpDissector::heuristic();
        run(&mut d, &opus);
        assert_eq!(d.app_proto(), AppProto::Rtp);
        // G.711 speech-like samples: µ-law values cluster; never encrypted.
        let pcmu: Vec<Vec<u8>> = (0..50u16)
            .map(|i| {
                let payload: Vec<u8> = bytes(&mut seed, 160)
                    .iter()
                    // Small amplitudes of either sign: 0x60–0x7f, 0xe0–0xff.
                    .map(|b| 0x60 | (b & 0x9f))
                    .collect();
                rtp(0, i, 160 * u32::from(i), 5, &payload)
            })
            .collect();
        let mut d = RtpDissector::heuristic();
        run(&mut d, &pcmu);
        assert_eq!(d.app_proto(), AppProto::Rtp);
    }

    #[test]
    fn telephone_events_by_structure_without_sdp() {
        // Voice on PT 0, digits 5 and 9 on PT 101 that no SDP named: each event three
        // packets on one timestamp with growing duration, the end repeated.
        let mut packets: Vec<Vec<u8>> = (0..20u16)
            .map(|i| rtp(0, i, 160 * u32::from(i), 1, &[0xff; 160]))
            .collect();
        let mut seq = 20;
        for (event, ts) in [(5u8, 4000u32), (9, 5600)] {
            for (flags, duration) in [(10u8, 160u16), (10, 320), (0x8a, 480), (0x8a, 480)] {
                let d = duration.to_be_bytes();
                packets.push(rtp(101, seq, ts, 1, &[event, flags, d[0], d[1]]));
                seq += 1;
            }
        }
        let mut d = RtpDissector::heuristic();
        let facts = run(&mut d, &packets);
        assert!(
            matches!(facts.as_slice(), [Fact::Media(_), Fact::Dtmf(dtmf)] if dtmf.digits == 2),
            "{facts:?}"
        );
        // The answerer's SDP listed only PCMU: PT 101 is still recognised.
        let mut only_pcmu = hint(false);
        only_pcmu.telephone_event = None;
        only_pcmu.codecs = vec![(0, "PCMU".into())];
        let mut d = RtpDissector::signalled(only_pcmu);
        let facts = run(&mut d, &packets);
        assert!(
            matches!(facts.as_slice(), [Fact::Media(_), Fact::Dtmf(dtmf)] if dtmf.digits == 2),
            "{facts:?}"
        );
        // A lone 4-byte packet of that shape is no event.
        let mut d = RtpDissector::heuristic();
        let mut lone = packets[..20].to_vec();
        lone.push(rtp(101, 20, 4000, 1, &[5, 10, 0, 160]));
        let facts = run(&mut d, &lone);
        assert!(matches!(facts.as_slice(), [Fact::Media(_)]), "{facts:?}");
    }
}
