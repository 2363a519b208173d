//! SIP (RFC 3261) in clear, over UDP and TCP, recognised by content on any port.
//!
//! Per message: identities (display names and number user parts of From, To,
//! P-Asserted-Identity, Contact, Diversion …) go to the personal-data scanner; Digest
//! `Authorization` is reported; SDP bodies give media offers (for the engine to expect
//! the RTP flows), exposed SDES keys and their own personal data; MESSAGE bodies and
//! AASP bodies (Aastra phones' display text, callers, dialled numbers) are scanned; INFO DTMF digits are collected per dialog. Everything is keyed by dialog
//! (a hash of the Call-ID) so the policy can raise one alert per dialog.

mod aasp;
mod parser;

use std::collections::HashMap;

use crate::flow::{Direction, L4};
use crate::personal_data::{Field, Match};
use crate::protocols::dtmf::{DigitCollector, DtmfSource};
use crate::protocols::fact::{Credential, KeyInClear, PersonalData};
use crate::protocols::http::authorization::credentials;
use crate::protocols::sdp::{self, Media};
use crate::protocols::{held_bytes, probe_prefixes, Ctx, Fact, Probe};
use crate::protocols::{AppProto, Dissector, Registration};
use parser::{Message, StartLine};

pub use parser::parse_message;

/// Our own cap on one message (RFC 3261 §18.1.1 suggests 1300 bytes for UDP; TCP
/// messages with large SDP stay well under this).
const MAX_MESSAGE: usize = 64 * 1024;
/// Identity values looked at per header (Contact, Diversion can list several).
const MAX_IDENTITIES_PER_HEADER: usize = 8;

const METHODS: [&[u8]; 15] = [
    b"SIP/2.0 ",
    b"INVITE ",
    b"ACK ",
    b"BYE ",
    b"CANCEL ",
    b"REGISTER ",
    b"OPTIONS ",
    b"INFO ",
    b"MESSAGE ",
    b"NOTIFY ",
    b"SUBSCRIBE ",
    b"REFER ",
    b"PRACK ",
    b"UPDATE ",
    b"PUBLISH ",
];

/// A SIP request line (`INVITE sip:…`) or status line (`SIP/2.0 200`).
pub fn probe_sip(data: &[u8]) -> Probe {
    match probe_prefixes(data, &METHODS) {
        // A method alone is weak (HTTP has OPTIONS too): the first line must carry the
        // SIP version.
        Probe::Match => {
            let line_end = memchr::memchr(b'\n', data).unwrap_or(data.len());
            if data[..line_end].windows(7).any(|w| w == b"SIP/2.0") {
                Probe::Match
            } else if line_end == data.len() && data.len() < 512 {
                Probe::NeedMore
            } else {
                Probe::NoMatch
            }
        }
        other => other,
    }
}

/// One media stream a SIP dialog set up (from an SDP offer or answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaOffer {
    pub dialog: u64,
    pub media: Media,
}

/// FNV-1a, so a dialog has a stable id without keeping its Call-ID (which may hold
/// host names, addresses or numbers).
pub fn dialog_id(call_id: &[u8]) -> u64 {
    call_id.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub struct SipDissector {
    l4: L4,
    /// Unframed bytes of a TCP direction.
    pending: [Vec<u8>; 2],
    lost: [bool; 2],
    /// Per direction, what an incomplete message in `pending` waits for: its whole
    /// length once its head was read, or the end of its head, searched for only among
    /// bytes not searched before. A message sent a byte per segment is read once, not
    /// from its start on every byte.
    waiting: [Waiting; 2],
    dialogs: HashMap<u64, DigitCollector>,
}

/// What the pending bytes of a TCP direction wait for (offsets into `pending`).
#[derive(Clone, Copy, Debug)]
enum Waiting {
    Nothing,
    /// The message's whole length.
    Length(usize),
    /// The end of the head; the first `searched` bytes do not hold it.
    HeadEnd {
        searched: usize,
    },
}

impl SipDissector {
    pub fn new(l4: L4) -> Self {
        SipDissector {
            l4,
            pending: Default::default(),
            lost: [false; 2],
            waiting: [Waiting::Nothing; 2],
            dialogs: HashMap::new(),
        }
    }

    fn on_message(&mut self, message: &Message<'_>, ctx: &mut Ctx<'_>) {
        let dialog = dialog_id(message.header(&["call-id", "i"]).unwrap_or(b""));
        let mut found: Vec<Match> = Vec::new();
        for name in parser::IDENTITY_HEADERS {
            for value in message.headers_named(name) {
                for identity in parser::identities(value).take(MAX_IDENTITIES_PER_HEADER) {
                    if let Some(display) = identity.display {
                        ctx.find(Field::PersonName, display, &mut found);
                    }
                    if let Some(user) = identity.number {
                        ctx.find(Field::PhoneNumber, user, &mut found);
                    }
                }
            }
        }
        for (name, header) in [
            (&["authorization"][..], "Authorization"),
            (&["proxy-authorization"][..], "Proxy-Authorization"),
        ] {
            for value in message.headers_named(name) {
                if let Some(creds) = credentials(header, value) {
                    ctx.emit(Fact::Credential(Credential::from_header(
                        creds,
                        Some(dialog),
                    )));
                }
            }
        }
        let content_type = message
            .header(&["content-type", "c"])
            .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase());
        let content_type = content_type.as_deref().unwrap_or("");
        let body = message.body;
        if content_type.starts_with("application/sdp") {
            self.on_sdp(dialog, body, &mut found, ctx);
        } else if content_type.starts_with("message/x-aasp-signalling") {
            // Aastra phones' display text, callers and dialled numbers.
            for (field, value) in aasp::values(body) {
                ctx.find(field, value, &mut found);
            }
        } else if content_type.starts_with("text/") {
            // MESSAGE (RFC 3428) and other text bodies.
            ctx.find(Field::Text, body, &mut found);
        } else if content_type.starts_with("application/dtmf-relay")
            || content_type.starts_with("application/dtmf")
        {
            self.on_info_dtmf(dialog, body, ctx);
        }
        if !found.is_empty() {
            ctx.emit(Fact::PersonalData(PersonalData {
                matches: found,
                record: None,
                scope: Some(dialog),
            }));
        }
        if matches!(message.start, StartLine::Request { method: b"BYE", .. }) {
            if let Some(mut digits) = self.dialogs.remove(&dialog) {
                if let Some(fact) = digits.take(DtmfSource::SipInfo, Some(dialog)) {
                    ctx.emit(Fact::Dtmf(fact));
                }
            }
        }
    }

    fn on_sdp(&mut self, dialog: u64, body: &[u8], found: &mut Vec<Match>, ctx: &mut Ctx<'_>) {
        let Some(sdp) = sdp::parse(body) else { return };
        if let Some(user) = &sdp.origin_user {
            ctx.find(Field::PhoneNumber, user.as_bytes(), found);
        }
        for email in &sdp.emails {
            ctx.find(Field::Text, email.as_bytes(), found);
        }
        for phone in &sdp.phones {
            ctx.find(Field::Text, phone.as_bytes(), found);
        }
        for media in sdp.media {
            for crypto in &media.crypto {
                ctx.emit(Fact::KeyInClear(KeyInClear {
                    suite: crypto.suite.clone(),
                    key_len: crypto.key_len,
                    scope: Some(dialog),
                }));
            }
            if media.port != 0 && media.address.is_some() {
                ctx.offer_media(MediaOffer { dialog, media });
            }
        }
    }

    /// `application/dtmf-relay` (`Signal=5`) or `application/dtmf` (`5`).
    fn on_info_dtmf(&mut self, dialog: u64, body: &[u8], ctx: &mut Ctx<'_>) {
        let text = String::from_utf8_lossy(body);
        let signal = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Signal=")
                    .or_else(|| l.trim().strip_prefix("Signal ="))
            })
            .unwrap_or(text.trim());
        let Some(&key) = signal.trim().as_bytes().first() else {
            return;
        };
        if !(key.is_ascii_digit() || matches!(key, b'*' | b'#' | b'A'..=b'D')) {
            return;
        }
        if !self.dialogs.contains_key(&dialog)
            && self.dialogs.len() >= ctx.limits().sip_dialogs.max(1)
        {
            ctx.anomaly("sip.dialogs_evicted");
            // Bounded: a flood of dialogs loses the digits of an arbitrary old one.
            if let Some(old) = self.dialogs.keys().next().copied() {
                self.dialogs.remove(&old);
            }
        }
        self.dialogs.entry(dialog).or_default().push(key);
    }
}

impl Dissector for SipDissector {
    fn on_gap(&mut self, dir: Direction) {
        // Framing is lost until a new start line is found at the front of a segment.
        self.pending[dir.index()] = Vec::new();
        self.lost[dir.index()] = true;
        self.waiting[dir.index()] = Waiting::Nothing;
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        held_bytes(&self.pending)
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if self.l4 == L4::Udp {
            // One message per datagram (RFC 3261 §18.1.1).
            if let Some(message) = parse_message(data) {
                self.on_message(&message, ctx);
            }
            return;
        }
        let d = dir.index();
        if self.lost[d] {
            if probe_sip(data) != Probe::Match {
                return;
            }
            self.lost[d] = false;
        }
        let mut buffer = std::mem::take(&mut self.pending[d]);
        buffer.extend_from_slice(data);
        let waits = match self.waiting[d] {
            Waiting::Nothing => false,
            Waiting::Length(total) => buffer.len() < total,
            Waiting::HeadEnd { searched } => !parser::head_ends_after(&buffer, searched),
        };
        if waits && buffer.len() <= MAX_MESSAGE {
            if let Waiting::HeadEnd { searched } = &mut self.waiting[d] {
                *searched = buffer.len();
            }
            self.pending[d] = buffer;
            return;
        }
        self.waiting[d] = Waiting::Nothing;
        let mut used = 0;
        loop {
            let rest = &buffer[used..];
            // CRLF keep-alives between messages (RFC 5626 §3.5.1).
            let skip = rest
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            let rest = &rest[skip..];
            used += skip;
            match parser::frame_len(rest) {
                Some(Ok(len)) => {
                    if let Some(message) = parse_message(&rest[..len]) {
                        self.on_message(&message, ctx);
                    }
                    used += len;
                }
                Some(Err(())) => {
                    if rest.len() > MAX_MESSAGE {
                        // A head past our cap: counted, never silently skipped.
                        ctx.anomaly("sip.message_too_long");
                    }
                    self.lost[d] = true;
                    used = buffer.len();
                    break;
                }
                None => {
                    self.waiting[d] = match parser::frame_needs(rest) {
                        // Offsets into what stays pending: `rest`.
                        Some(total) => Waiting::Length(total),
                        None => Waiting::HeadEnd {
                            searched: rest.len(),
                        },
                    };
                    break;
                }
            }
        }
        buffer.drain(..used);
        if buffer.len() > MAX_MESSAGE {
            buffer = Vec::new();
            self.lost[d] = true;
            self.waiting[d] = Waiting::Nothing;
        }
        self.pending[d] = buffer;
    }

    /// The flow ends: digits of dialogs never closed by BYE still count.
    fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        let mut ids: Vec<u64> = self.dialogs.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(mut digits) = self.dialogs.remove(&id) {
                if let Some(fact) = digits.take(DtmfSource::SipInfo, Some(id)) {
                    ctx.emit(Fact::Dtmf(fact));
                }
            }
        }
    }
}

pub const SIP_UDP: Registration = Registration {
    app_proto: AppProto::Sip,
    l4: L4::Udp,
    ports: &[5060, 5080],
    probe: probe_sip,
    start: || Box::new(SipDissector::new(L4::Udp)),
};

pub const SIP_TCP: Registration = Registration {
    app_proto: AppProto::Sip,
    l4: L4::Tcp,
    ports: &[5060, 5080],
    probe: probe_sip,
    start: || Box::new(SipDissector::new(L4::Tcp)),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal_data::Kind;
    use crate::protocols::dtmf::DtmfFact;
    use crate::protocols::testing::with_ctx_output;
    use crate::protocols::AppProto;
    use crate::protocols::Output;

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 49170 RTP/SAVP 8 101\r\n\
a=rtpmap:101 telephone-event/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoJGRvb2xz\r\n";

    fn invite() -> Vec<u8> {
        format!(
            "INVITE sip:2001@10.0.0.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n\
f: \"Jane Doe\" <sip:+441632960961@10.0.0.1>;tag=1928301774\r\n\
To: <sip:2001@10.0.0.2>\r\n\
i: a84b4c76e66710@10.0.0.1\r\n\
CSeq: 314159 INVITE\r\n\
Authorization: Digest username=\"2001\", realm=\"pbx\", nonce=\"x\", uri=\"sip:2001@10.0.0.2\", response=\"0123456789abcdef0123456789abcdef\"\r\n\
Content-Type: application/sdp\r\n\
l: {}\r\n\
\r\n{SDP}",
            SDP.len()
        )
        .into_bytes()
    }

    fn facts_of(l4: L4, chunks: &[&[u8]]) -> Vec<Fact> {
        output_of(l4, chunks).facts
    }

    fn output_of(l4: L4, chunks: &[&[u8]]) -> Output {
        let mut d = SipDissector::new(l4);
        with_ctx_output(AppProto::Sip, |ctx| {
            for c in chunks {
                d.on_data(Direction::ToServer, c, ctx);
            }
            d.on_end(ctx);
        })
    }

    #[test]
    fn invite_gives_identities_digest_key_and_media() {
        let facts = facts_of(L4::Udp, &[&invite()]);
        let dialog = dialog_id(b"a84b4c76e66710@10.0.0.1");
        let kinds: Vec<(Kind, &str)> = facts
            .iter()
            .filter_map(|f| match f {
                Fact::PersonalData(PersonalData {
                    matches,
                    scope: Some(d),
                    ..
                }) if *d == dialog => Some(matches),
                _ => None,
            })
            .flatten()
            .map(|m| (m.kind, m.evidence.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::PersonName, "J*** D**"),
                (Kind::PhoneNumber, "+********0961"),
                (Kind::PhoneNumber, "**01")
            ]
        );
        assert!(facts.iter().any(|f| matches!(f, Fact::Credential(c) if c.user.as_deref() == Some("2001") && c.scope.is_some())));
        assert!(facts
            .iter()
            .any(|f| matches!(f, Fact::KeyInClear(KeyInClear { key_len: 52, .. }))));
        let offers = output_of(L4::Udp, &[&invite()]).offers;
        assert!(offers
            .iter()
            .any(|m| m.media.port == 49170 && m.media.secure()));
        assert!(!format!("{facts:?}").contains("WVNf"));
    }

    #[test]
    fn tcp_framing_split_and_coalesced() {
        let invite = invite();
        let (a, b) = invite.split_at(100);
        let one = output_of(L4::Tcp, &[a, b]).offers;
        let mut two = invite.clone();
        two.extend_from_slice(b"\r\n\r\n");
        two.extend_from_slice(&invite);
        let both = output_of(L4::Tcp, &[&two]).offers;
        assert_eq!((one.len(), both.len()), (1, 2));
    }

    #[test]
    fn info_digits_are_counted_per_dialog() {
        let info = |digit: char| {
            format!(
                "INFO sip:2001@10.0.0.2 SIP/2.0\r\nCall-ID: abc\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 26\r\n\r\nSignal={digit}\r\nDuration=160\r\n"
            )
        };
        let messages: Vec<String> = "4111111111111111".chars().map(info).collect();
        let chunks: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
        let facts = facts_of(L4::Udp, &chunks);
        let dtmf: Vec<&DtmfFact> = facts
            .iter()
            .filter_map(|f| match f {
                Fact::Dtmf(d) => Some(d),
                _ => None,
            })
            .collect();
        assert_eq!(dtmf.len(), 1);
        assert_eq!((dtmf[0].digits, dtmf[0].card_number), (16, true));
    }

    #[test]
    fn dialog_table_is_bounded_and_evictions_counted() {
        let messages: Vec<String> = (0..300)
            .map(|i| format!("INFO sip:a@b SIP/2.0\r\nCall-ID: d{i}\r\nContent-Type: application/dtmf\r\nContent-Length: 1\r\n\r\n5"))
            .collect();
        let chunks: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
        let Output {
            facts, anomalies, ..
        } = output_of(L4::Udp, &chunks);
        assert_eq!(anomalies.get("sip.dialogs_evicted"), Some(&(300 - 256)));
        assert_eq!(
            facts.iter().filter(|f| matches!(f, Fact::Dtmf(_))).count(),
            256
        );
    }

    #[test]
    fn probe() {
        assert_eq!(probe_sip(b"INVITE sip:a@b SIP/2.0\r\n"), Probe::Match);
        assert_eq!(probe_sip(b"SIP/2.0 200 OK\r\n"), Probe::Match);
        assert_eq!(probe_sip(b"OPTIONS * HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe_sip(b"INVI"), Probe::NeedMore);
        assert_eq!(probe_sip(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
