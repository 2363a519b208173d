//! RTP and RTCP (RFC 3550), SRTP and SRTCP (RFC 3711) told apart where signalling or
//! the packets prove it, RFC 4733 telephone-events, RTCP SDES items.
//!
//! A media flow is either *signalled* (an SDP offer announced its address and port, so
//! the engine started this dissector with a `MediaHint`) or found by header heuristics.
//! Heuristic RTP must prove itself: a stream of at least three packets of one SSRC with
//! advancing sequence numbers; until then, and if it never does, the flow is not RTP.

use crate::flow::Direction;
use crate::personal_data::Field;
use crate::protocols::dtmf::{event_key, DigitCollector, DtmfSource};
use crate::protocols::sdp::static_codec;
use crate::protocols::{AppProto, Ctx, Fact, Probe};

const RTP_HEADER: usize = 12;
/// SSRCs tracked per flow; more is not a call.
const MAX_STREAMS: usize = 8;
/// Packets after which unsignalled RTP that has not proven itself is given up.
const PROOF_WINDOW: u64 = 8;
/// Packets of a proven stream needed to call it voice (a few stray packets are not).
pub const MIN_VOICE_PACKETS: u64 = 10;
/// SRTP authentication tag lengths (RFC 3711 §5.2: 80 or 32 bits), possibly after a
/// 4-byte MKI.
const SRTP_TRAILERS: [usize; 4] = [10, 4, 14, 8];
/// G.711 / G.722 frame sizes at 8000 bytes/s for 10–40 ms packets.
const FRAME_SIZES: [usize; 4] = [80, 160, 240, 320];

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

/// How sure the classification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaConfidence {
    /// Announced by SDP.
    Signalled,
    /// Proven by the packets: every G.711/G.722 payload is a whole codec frame (no
    /// room for an SRTP tag), or every one is a frame plus a tag (SRTP).
    Proven,
    /// An RTP stream (sequence numbers advance) whose payload cannot be told from
    /// SRTP's: dynamic payload types without signalling.
    Heuristic,
}

impl MediaConfidence {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaConfidence::Signalled => "signalled",
            MediaConfidence::Proven => "proven",
            MediaConfidence::Heuristic => "heuristic",
        }
    }
}

/// One media flow at its end: what the policy and the flow record need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    pub app_proto: AppProto,
    /// Most frequent payload type and its codec name, if known.
    pub payload_type: Option<u8>,
    pub codec: Option<String>,
    pub packets: u64,
    pub ssrcs: usize,
    /// Carries audio (a voice codec), as far as can be told.
    pub audio: bool,
    pub confidence: MediaConfidence,
    pub dialog: Option<u64>,
}

/// RTP version 2 with a payload type of RFC 3551's audio/video ranges or the dynamic
/// range, and enough bytes for its CSRC list.
pub fn probe_rtp(data: &[u8]) -> Probe {
    match parse_rtp(data) {
        Some(p) if p.pt <= 34 || (96..=127).contains(&p.pt) => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// RTCP version 2, a sender or receiver report first (RFC 3550 §6.1), length in range.
pub fn probe_rtcp(data: &[u8]) -> Probe {
    match data {
        [b0, 200 | 201, hi, lo, ..]
            if b0 >> 6 == 2 && (usize::from(*hi) << 8 | usize::from(*lo)) * 4 + 4 <= data.len() =>
        {
            Probe::Match
        }
        _ => Probe::NoMatch,
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

#[derive(Clone, Debug, Default)]
struct Stream {
    ssrc: u32,
    last_seq: u16,
    packets: u64,
    /// Packets whose sequence number followed the previous one closely.
    in_order: u64,
    /// Telephone-event in progress: its RTP timestamp (RFC 4733 §2.5.1.1: all packets
    /// of one event share it, end packets are repeated).
    event_timestamp: Option<u32>,
    digits: DigitCollector,
}

pub struct RtpDissector {
    hint: Option<MediaHint>,
    /// RTCP-only port.
    rtcp: bool,
    streams: Vec<Stream>,
    packets: u64,
    /// (payload type, packets), a few entries.
    payload_types: Vec<(u8, u64)>,
    /// Payload lengths that are a G.711/G.722 frame, and ones that are a frame plus an
    /// SRTP trailer.
    plain_frames: u64,
    trailed_frames: u64,
    /// RTCP packets with an SRTCP trailer (index + tag), and without.
    srtcp_trailers: u64,
    rtcp_plain: u64,
    rejected: bool,
}

impl RtpDissector {
    /// A flow announced by SDP.
    pub fn signalled(hint: MediaHint) -> Self {
        RtpDissector {
            rtcp: hint.rtcp,
            hint: Some(hint),
            ..Self::heuristic(false)
        }
    }

    /// A flow found by its headers; `rtcp` when it started with an RTCP packet.
    pub fn heuristic(rtcp: bool) -> Self {
        RtpDissector {
            hint: None,
            rtcp,
            streams: Vec::new(),
            packets: 0,
            payload_types: Vec::new(),
            plain_frames: 0,
            trailed_frames: 0,
            srtcp_trailers: 0,
            rtcp_plain: 0,
            rejected: false,
        }
    }

    fn proven_rtp(&self) -> bool {
        self.streams.iter().any(|s| s.in_order >= 2)
    }

    pub fn is_signalled(&self) -> bool {
        self.hint.is_some()
    }

    /// An announcement for a flow found by its headers: from now on it is judged as
    /// signalled media (codec names, telephone-event, SRTP from the SDP).
    pub fn adopt(&mut self, hint: MediaHint) {
        self.rtcp = hint.rtcp;
        self.hint = Some(hint);
    }

    /// Not RTP after all: the flow goes back to being unclassified.
    pub fn rejected(&self) -> bool {
        self.rejected
    }

    fn secure(&self) -> bool {
        self.hint.as_ref().is_some_and(|h| h.secure)
            || (self.trailed_frames >= 5 && self.plain_frames == 0)
    }

    pub fn app_proto(&self) -> AppProto {
        match (
            self.rtcp,
            self.secure() || (self.rtcp && self.srtcp_trailers > 0 && self.rtcp_plain == 0),
        ) {
            (true, true) => AppProto::Srtcp,
            (true, false) => AppProto::Rtcp,
            (false, true) => AppProto::Srtp,
            (false, false) => AppProto::Rtp,
        }
    }

    pub fn encrypted(&self) -> bool {
        matches!(self.app_proto(), AppProto::Srtp | AppProto::Srtcp)
    }

    pub fn on_data(&mut self, _dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if self.rejected {
            return;
        }
        // RTP and RTCP share the port under rtcp-mux (RFC 5761 §4).
        if matches!(data.get(1), Some(192..=223)) && data.first().is_some_and(|b| b >> 6 == 2) {
            self.on_rtcp(data, ctx);
            return;
        }
        if self.rtcp {
            return;
        }
        let Some(packet) = parse_rtp(data) else {
            return;
        };
        self.packets += 1;
        match self
            .payload_types
            .iter()
            .position(|(pt, _)| *pt == packet.pt)
        {
            Some(i) => self.payload_types[i].1 += 1,
            None if self.payload_types.len() < 8 => self.payload_types.push((packet.pt, 1)),
            None => {}
        }
        if matches!(packet.pt, 0 | 8 | 9) {
            let len = packet.payload.len();
            if FRAME_SIZES.contains(&len) {
                self.plain_frames += 1;
            } else if FRAME_SIZES
                .iter()
                .any(|f| SRTP_TRAILERS.iter().any(|t| f + t == len))
            {
                self.trailed_frames += 1;
            }
        }
        let stream = match self.streams.iter().position(|s| s.ssrc == packet.ssrc) {
            Some(i) => &mut self.streams[i],
            None if self.streams.len() < MAX_STREAMS => {
                self.streams.push(Stream {
                    ssrc: packet.ssrc,
                    last_seq: packet.seq.wrapping_sub(1),
                    ..Stream::default()
                });
                let last = self.streams.len() - 1;
                &mut self.streams[last]
            }
            None => return,
        };
        let step = packet.seq.wrapping_sub(stream.last_seq);
        if (1..=10).contains(&step) && stream.packets > 0 {
            stream.in_order += 1;
        }
        stream.packets += 1;
        stream.last_seq = packet.seq;
        let telephone_event = self.hint.as_ref().and_then(|h| h.telephone_event);
        let encrypted = self.hint.as_ref().is_some_and(|h| h.secure);
        if telephone_event == Some(packet.pt) && !encrypted {
            // RFC 4733 §2.3: event, E|R|volume, duration.
            if let Some(&event) = packet.payload.first() {
                if stream.event_timestamp != Some(packet.timestamp) {
                    stream.event_timestamp = Some(packet.timestamp);
                    if let Some(key) = event_key(event) {
                        stream.digits.push(key);
                    }
                }
            }
        }
        if self.hint.is_none() && self.packets >= PROOF_WINDOW && !self.proven_rtp() {
            self.rejected = true;
        }
    }

    /// RTCP compound packet: SDES items to the scanner; an SRTCP trailer noticed.
    fn on_rtcp(&mut self, data: &[u8], ctx: &mut Ctx<'_>) {
        // Walk the compound by its length fields. Plain RTCP ends exactly at the end of
        // the datagram; SRTCP leaves index and tag after the first (clear) report, and
        // its encrypted packets' lengths are noise.
        let mut packets: Vec<(u8, u8, usize, usize)> = Vec::new();
        let mut offset = 0;
        while let (Some(&b0), Some(&pt), Some(&hi), Some(&lo)) = (
            data.get(offset),
            data.get(offset + 1),
            data.get(offset + 2),
            data.get(offset + 3),
        ) {
            let len = (usize::from(hi) << 8 | usize::from(lo)) * 4 + 4;
            if b0 >> 6 != 2 || !(192..=223).contains(&pt) || offset + len > data.len() {
                break;
            }
            packets.push((b0, pt, offset, len));
            offset += len;
        }
        let rest = data.len() - offset;
        if rest == 0 {
            self.rtcp_plain += 1;
            // Clear RTCP, even on an SRTP session (some stacks send BYE/SDES in clear).
            for &(b0, pt, at, len) in &packets {
                if pt == 202 {
                    sdes_items(&data[at..at + len], b0 & 0x1f, ctx);
                }
            }
        } else if SRTP_TRAILERS.iter().any(|t| t + 4 == rest) {
            self.srtcp_trailers += 1;
        }
    }

    /// The flow ends: its summary and the digits of each stream.
    pub fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        let dialog = self.hint.as_ref().map(|h| h.dialog);
        if !self.rtcp && self.packets > 0 && !self.rejected {
            let pt = self
                .payload_types
                .iter()
                .max_by_key(|(_, n)| *n)
                .map(|(pt, _)| *pt);
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
        for stream in &mut self.streams {
            if let Some(fact) = stream.digits.take(DtmfSource::RtpEvents, dialog) {
                ctx.emit(Fact::Dtmf(fact));
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
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
        let mut heuristic = RtpDissector::heuristic(false);
        run(&mut heuristic, &packets);
        assert_eq!(
            heuristic.app_proto(),
            AppProto::Srtp,
            "160-byte frames + 80-bit tag"
        );
        let plain: Vec<Vec<u8>> = (0..10)
            .map(|i| rtp(0, i, 160 * u32::from(i), 9, &[0xff; 160]))
            .collect();
        let mut d = RtpDissector::heuristic(false);
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
        let noise: Vec<Vec<u8>> = (0..10u32)
            .map(|i| rtp(96, (i * 7919) as u16, i, i, &[1, 2, 3]))
            .collect();
        let mut d = RtpDissector::heuristic(false);
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
        let mut d = RtpDissector::heuristic(true);
        let facts = run(&mut d, &[p]);
        assert!(
            matches!(facts.as_slice(), [Fact::PersonalData(m)] if m[0].evidence == "J*** D**"),
            "{facts:?}"
        );
        assert_eq!(d.app_proto(), AppProto::Rtcp);
    }
}
