//! TLS over TCP and DTLS over UDP: the hellos are read, the rest is counted as
//! encrypted. Once the server has chosen and gone encrypted the dissector reports
//! itself finished, so the engine stops handing it bytes (early exit).

pub mod facts;
mod parser;

use crate::flow::Direction;
use crate::flow::L4;
use crate::protocols::{AppProto, Dissector, Registration};
use crate::protocols::{Ctx, Fact, Probe};

pub use facts::{Cipher, CipherWeakness, TlsFact, TlsVersion};

/// Our own cap on a handshake message we reassemble (a ClientHello with post-quantum
/// key shares is ~2 KiB; certificate chains are skipped, not held).
const MAX_HANDSHAKE_MESSAGE: usize = 64 * 1024;
/// Record header plus the largest TLSCiphertext (RFC 5246 §6.2.3: 2^14 + 2048).
const MAX_RECORD_BUFFER: usize = 5 + (1 << 14) + 2048;

/// A TLS record header: handshake, alert, CCS or application data, SSL 3.0 … TLS 1.3
/// record versions (TLS 1.3 keeps 0x0301/0x0303 on the wire), or an SSLv2 hello.
pub fn probe_tls(data: &[u8]) -> Probe {
    match data {
        [] | [_] | [_, _] => Probe::NeedMore,
        [20..=23, 3, 0..=4, ..] => Probe::Match,
        _ if data.len() < 7 => Probe::NeedMore,
        _ if parser::looks_like_sslv2_hello(data) => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// A DTLS record of DTLS 1.0, 1.2 or 1.3 (RFC 6347 §4.1, RFC 9147 §4), or of the
/// pre-standard DTLS OpenSSL and Cisco AnyConnect speak (version 0x0100): a handshake
/// record, or, picked up mid-session, records under a later epoch (alert, change
/// cipher spec, application data) that fill the datagram exactly.
pub fn probe_dtls(data: &[u8]) -> Probe {
    let &[content, major, minor, epoch_hi, epoch_lo, ..] = data else {
        return Probe::NoMatch;
    };
    let version = matches!((major, minor), (0xfe, 0xff | 0xfd | 0xfc) | (0x01, 0x00));
    if !version || data.len() < DTLS_RECORD_HEADER {
        return Probe::NoMatch;
    }
    let later_epoch = epoch_hi != 0 || epoch_lo != 0;
    match content {
        22 => Probe::Match,
        20 | 21 | 23 if later_epoch && dtls_records_fill(data) => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// DTLS record header: type, version, epoch, sequence number (6), length.
const DTLS_RECORD_HEADER: usize = 13;

/// Whether `data` is whole DTLS records end to end (a few per datagram at most).
fn dtls_records_fill(data: &[u8]) -> bool {
    let mut at = 0;
    for _ in 0..16 {
        let Some(header) = data.get(at..at + DTLS_RECORD_HEADER) else {
            return false;
        };
        at += DTLS_RECORD_HEADER + usize::from(u16::from_be_bytes([header[11], header[12]]));
        if at == data.len() {
            return true;
        }
    }
    false
}

#[derive(Default)]
struct HalfState {
    /// Bytes of an incomplete record.
    record: Vec<u8>,
    /// Bytes of an incomplete handshake message (it may span records).
    handshake: Vec<u8>,
    /// After ChangeCipherSpec / application data: nothing more to read.
    encrypted: bool,
    /// Not TLS we can follow any more.
    broken: bool,
    /// No record seen yet (an SSLv2 hello can only come first).
    started: bool,
}

pub struct TlsDissector {
    datagram: bool,
    halves: [HalfState; 2],
    server_hello: Option<Cipher>,
    /// Datagrams with RTP/RTCP version-2 headers after a DTLS handshake: DTLS-SRTP
    /// media (RFC 5764 §5.1.2 demultiplexes by the first byte: 128–191).
    srtp_packets: u64,
}

impl TlsDissector {
    pub fn stream() -> Self {
        TlsDissector {
            datagram: false,
            halves: Default::default(),
            server_hello: None,
            srtp_packets: 0,
        }
    }

    pub fn datagram() -> Self {
        TlsDissector {
            datagram: true,
            ..Self::stream()
        }
    }

    fn emit(&mut self, dir: Direction, fact: TlsFact, ctx: &mut Ctx<'_>) {
        if let TlsFact::ServerHello { version, cipher } = &fact {
            self.server_hello = Some(*cipher);
            // TLS 1.3 encrypts everything the server sends after its hello.
            if version.rank() >= TlsVersion::Tls13.rank() {
                self.halves[dir.index()].encrypted = true;
            }
        }
        ctx.emit(Fact::Encryption(fact));
    }

    /// Reads whole records from `input`, returns how many bytes were used.
    fn read_records(&mut self, dir: Direction, input: &[u8], ctx: &mut Ctx<'_>) -> usize {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            let half = &mut self.halves[dir.index()];
            if !half.started && parser::looks_like_sslv2_hello(rest) {
                let Some((msg, len)) = parser::sslv2_record(rest) else {
                    break;
                };
                half.started = true;
                // After the hellos SSLv2 is encrypted; there is nothing else to learn.
                half.encrypted = true;
                used += len;
                if let Some(fact) = parser::sslv2_fact(msg) {
                    self.emit(dir, fact, ctx);
                }
                continue;
            }
            half.started = true;
            match parser::next_record(rest) {
                parser::Record::Complete {
                    content_type,
                    body,
                    len,
                } => {
                    used += len;
                    self.read_record(dir, content_type, body, ctx);
                }
                parser::Record::Incomplete => break,
                parser::Record::Invalid => {
                    self.halves[dir.index()].broken = true;
                    return input.len();
                }
            }
        }
        used
    }

    fn read_record(&mut self, dir: Direction, content_type: u8, body: &[u8], ctx: &mut Ctx<'_>) {
        let half = &mut self.halves[dir.index()];
        match content_type {
            parser::CONTENT_HANDSHAKE if !half.encrypted => {
                let mut pending = std::mem::take(&mut half.handshake);
                pending.extend_from_slice(body);
                let mut used = 0;
                while let Some((msg_type, msg, len)) = parser::next_handshake(&pending[used..]) {
                    used += len;
                    if let Some(fact) = parser::handshake_fact(msg_type, msg) {
                        self.emit(dir, fact, ctx);
                    }
                }
                pending.drain(..used);
                let half = &mut self.halves[dir.index()];
                if parser::handshake_len(&pending).is_some_and(|l| l > MAX_HANDSHAKE_MESSAGE) {
                    half.broken = true;
                } else if !half.encrypted {
                    half.handshake = pending;
                }
            }
            // In TLS 1.3 middlebox-compatibility mode (RFC 8446 §D.4) a ChangeCipherSpec
            // also follows a HelloRetryRequest and precedes the second ClientHello, so it
            // only means "encrypted from here" once a real ServerHello was seen.
            parser::CONTENT_CHANGE_CIPHER_SPEC if self.server_hello.is_none() => {}
            parser::CONTENT_CHANGE_CIPHER_SPEC | parser::CONTENT_APPLICATION_DATA => {
                half.encrypted = true;
                half.handshake = Vec::new();
            }
            _ => {}
        }
    }
}

impl Dissector for TlsDissector {
    /// Media keyed by this DTLS handshake follows on the same 5-tuple: SRTP.
    fn refine_app_proto(&self, detected: AppProto) -> AppProto {
        if self.srtp_packets > 0 {
            AppProto::Srtp
        } else {
            detected
        }
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if self.datagram {
            if self.server_hello.is_some() && matches!(data.first(), Some(128..=191)) {
                self.srtp_packets += 1;
                return;
            }
            let read = parser::dtls_datagram(data);
            for fact in read.facts {
                self.emit(dir, fact, ctx);
            }
            self.halves[dir.index()].encrypted |= read.encrypted;
            return;
        }
        let half = &self.halves[dir.index()];
        if half.broken || half.encrypted {
            return;
        }
        if half.record.is_empty() {
            // Fast path: whole records straight from the segment, no copy.
            let used = self.read_records(dir, data, ctx);
            let half = &mut self.halves[dir.index()];
            if !half.broken && !half.encrypted {
                half.record.extend_from_slice(&data[used..]);
            }
        } else {
            let mut pending = std::mem::take(&mut self.halves[dir.index()].record);
            pending.extend_from_slice(data);
            let used = self.read_records(dir, &pending, ctx);
            pending.drain(..used);
            let half = &mut self.halves[dir.index()];
            if !half.broken && !half.encrypted {
                half.record = pending;
            }
        }
        let half = &mut self.halves[dir.index()];
        if half.record.len() > MAX_RECORD_BUFFER {
            half.record = Vec::new();
            half.broken = true;
        }
    }

    /// A hole in the stream: record boundaries are lost for good.
    fn on_gap(&mut self, dir: Direction) {
        let half = &mut self.halves[dir.index()];
        half.record = Vec::new();
        half.handshake = Vec::new();
        half.broken = true;
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        self.halves
            .iter()
            .map(|h| h.record.capacity() + h.handshake.capacity())
            .sum()
    }

    /// Payload is protected: a server hello chose a cipher that encrypts, or (DTLS
    /// picked up mid-session, no hello seen) records arrive under a later epoch.
    fn encrypted(&self) -> bool {
        match self.server_hello {
            Some(cipher) => cipher.weakness() != Some(CipherWeakness::Null),
            None => self.datagram && self.halves.iter().any(|h| h.encrypted),
        }
    }

    /// The server has answered and gone quiet-encrypted, or neither side can be read.
    /// Datagram flows keep going: DTLS-SRTP media may follow on the same 5-tuple.
    fn finished(&self) -> bool {
        if self.datagram {
            return false;
        }
        let server = &self.halves[Direction::ToClient.index()];
        let client = &self.halves[Direction::ToServer.index()];
        (self.server_hello.is_some() && server.encrypted) || (client.broken && server.broken)
    }
}

pub const TLS: Registration = Registration {
    app_proto: AppProto::Tls,
    l4: L4::Tcp,
    ports: &[
        443, 465, 636, 802, 853, 990, 993, 995, 3269, 5061, 6514, 8443, 8883, 12622,
    ],
    probe: probe_tls,
    start: || Box::new(TlsDissector::stream()),
};

pub const DTLS: Registration = Registration {
    app_proto: AppProto::Dtls,
    l4: L4::Udp,
    ports: &[443, 4433, 5061, 5684],
    probe: probe_dtls,
    start: || Box::new(TlsDissector::datagram()),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        assert_eq!(probe_tls(&[22, 3, 1, 0, 5]), Probe::Match);
        assert_eq!(probe_tls(&[22, 3]), Probe::NeedMore);
        assert_eq!(probe_tls(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe_tls(&[0x80, 0x2e, 1, 3, 1, 0, 0x15]), Probe::Match);
        assert_eq!(
            probe_dtls(&[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]),
            Probe::Match
        );
        assert_eq!(probe_dtls(&[22, 3, 3]), Probe::NoMatch);
        // Pre-standard DTLS (0x0100) handshake; application data mid-session (epoch 1,
        // one record filling the datagram), but not under epoch 0 or cut short.
        assert_eq!(
            probe_dtls(&[22, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]),
            Probe::Match
        );
        let mut app = vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4];
        app.extend_from_slice(&[0xaa; 4]);
        assert_eq!(probe_dtls(&app), Probe::Match);
        app[4] = 0;
        assert_eq!(probe_dtls(&app), Probe::NoMatch, "epoch 0");
        app[4] = 1;
        assert_eq!(probe_dtls(&app[..15]), Probe::NoMatch, "record cut short");
        let mut d = TlsDissector::datagram();
        crate::protocols::testing::with_ctx(crate::protocols::AppProto::Dtls, |ctx| {
            d.on_data(Direction::ToServer, &app, ctx)
        });
        assert!(d.encrypted(), "mid-session DTLS is protected");
    }

    #[test]
    fn record_split_over_segments_and_garbage() {
        use crate::protocols::{testing::with_ctx, AppProto};
        // ServerHello (TLS 1.2, 0xc02f) in one record, delivered a byte at a time.
        let record = crate::build::tls::server_hello(0x0303, 0xc02f);
        let mut d = TlsDissector::stream();
        let facts = with_ctx(AppProto::Tls, |ctx| {
            for b in &record {
                d.on_data(Direction::ToClient, std::slice::from_ref(b), ctx);
            }
            d.on_data(Direction::ToClient, &[20, 3, 3, 0, 1, 1], ctx);
        });
        assert_eq!(
            facts,
            vec![Fact::Encryption(TlsFact::ServerHello {
                version: TlsVersion::Tls12,
                cipher: Cipher::Tls(0xc02f)
            })]
        );
        assert!(d.finished() && d.encrypted());

        let mut junk = TlsDissector::stream();
        with_ctx(AppProto::Tls, |ctx| {
            junk.on_data(Direction::ToServer, &[22, 3, 3, 0xff, 0xff, 0, 0], ctx);
            junk.on_data(Direction::ToClient, &[0x47; 40], ctx);
        });
        assert!(junk.finished());
    }
}
