//! TLS and DTLS framing over tls-parser: records, handshake messages, and the hellos
//! turned into facts. SSLv2's own record format is the one thing parsed by hand, since
//! tls-parser does not read it.

use tls_parser::{
    parse_dtls_message_handshake, parse_dtls_record_header, parse_tls_client_hello_extensions,
    parse_tls_handshake_client_hello, parse_tls_handshake_server_hello, parse_tls_raw_record,
    parse_tls_server_hello_extensions, DTLSMessage, DTLSMessageHandshakeBody, TlsExtension,
    TlsServerHelloContents,
};

use super::facts::{Cipher, TlsFact, TlsVersion};

pub const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CONTENT_HANDSHAKE: u8 = 22;
pub const CONTENT_APPLICATION_DATA: u8 = 23;

pub const HANDSHAKE_CLIENT_HELLO: u8 = 1;
pub const HANDSHAKE_SERVER_HELLO: u8 = 2;

/// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// One TLS record at the front of a buffer.
pub enum Record<'a> {
    Complete {
        content_type: u8,
        body: &'a [u8],
        /// Header plus body.
        len: usize,
    },
    Incomplete,
    /// Not a TLS record (too long, or not parseable): the stream is not, or no
    /// longer, TLS we can follow.
    Invalid,
}

/// RFC 5246 §6.2.1: `struct { ContentType type; ProtocolVersion version; uint16 length;
/// opaque fragment[length]; } TLSPlaintext;`
pub fn next_record(buf: &[u8]) -> Record<'_> {
    match parse_tls_raw_record(buf) {
        Ok((rest, record)) => Record::Complete {
            content_type: record.hdr.record_type.0,
            body: record.data,
            len: buf.len() - rest.len(),
        },
        Err(tls_parser::nom::Err::Incomplete(_)) => Record::Incomplete,
        Err(_) => Record::Invalid,
    }
}

/// RFC 5246 §7.4: `struct { HandshakeType msg_type; uint24 length; body } Handshake;`
/// Returns (type, body, bytes used) once the whole message is in `buf`.
pub fn next_handshake(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
    let header = buf.get(..4)?;
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    let body = buf.get(4..4 + len)?;
    Some((header[0], body, 4 + len))
}

/// The handshake length field, to reject messages larger than we are willing to hold.
pub fn handshake_len(buf: &[u8]) -> Option<usize> {
    let header = buf.get(..4)?;
    Some(usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]))
}

fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a
}

/// The client's highest version: `supported_versions` (RFC 8446 §4.2.1) when present,
/// GREASE values (RFC 8701) ignored; the legacy field otherwise.
fn client_hello_fact(legacy_version: u16, ext: Option<&[u8]>) -> TlsFact {
    let mut max_version = TlsVersion::from_wire(legacy_version);
    let mut sni = None;
    if let Some(Ok((_, extensions))) = ext.map(parse_tls_client_hello_extensions) {
        for extension in extensions {
            match extension {
                TlsExtension::SupportedVersions(versions) => {
                    if let Some(best) = versions
                        .iter()
                        .filter(|v| !is_grease(v.0))
                        .map(|v| TlsVersion::from_wire(v.0))
                        .max_by_key(|v| v.rank())
                    {
                        max_version = best;
                    }
                }
                TlsExtension::SNI(names) => {
                    sni = names
                        .iter()
                        .find(|(kind, _)| kind.0 == 0)
                        .map(|(_, name)| String::from_utf8_lossy(name).into_owned());
                }
                _ => {}
            }
        }
    }
    TlsFact::ClientHello { max_version, sni }
}

/// The negotiated version: `supported_versions` first (RFC 8446 §4.2.1), then the
/// legacy field. `None` for a HelloRetryRequest, which negotiates nothing yet.
fn server_hello_fact(hello: &TlsServerHelloContents<'_>) -> Option<TlsFact> {
    if hello.random == HELLO_RETRY_REQUEST_RANDOM {
        return None;
    }
    let mut version = TlsVersion::from_wire(hello.version.0);
    if let Some(Ok((_, extensions))) = hello.ext.map(parse_tls_server_hello_extensions) {
        for extension in extensions {
            if let TlsExtension::SupportedVersions(selected) = extension {
                if let Some(v) = selected.first() {
                    version = TlsVersion::from_wire(v.0);
                }
            }
        }
    }
    Some(TlsFact::ServerHello {
        version,
        cipher: Cipher::Tls(hello.cipher.0),
    })
}

/// A ServerHello of TLS 1.3 drafts 16–21, which tls-parser reads only for draft 18:
///
/// ```text
/// struct {
///     ProtocolVersion version;       /* the draft's code, e.g. 0x7f12 */
///     Random random;                 /* 32 bytes */
///     CipherSuite cipher_suite;
///     Extension extensions<0..2^16-1>;
/// } ServerHello;                     /* draft-ietf-tls-tls13-21 §4.1.3 */
/// ```
///
/// No session id and no compression method: the draft's code itself is the
/// negotiated version (drafts 22 and later moved it into `supported_versions`).
fn draft_server_hello_fact(body: &[u8]) -> Option<TlsFact> {
    let version = TlsVersion::from_wire(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    if !matches!(version, TlsVersion::Tls13Draft(_)) {
        return None;
    }
    let cipher = body.get(34..36)?;
    Some(TlsFact::ServerHello {
        version,
        cipher: Cipher::Tls(u16::from_be_bytes([cipher[0], cipher[1]])),
    })
}

/// Facts from one complete TLS handshake message, if it is a hello.
pub fn handshake_fact(msg_type: u8, body: &[u8]) -> Option<TlsFact> {
    match msg_type {
        HANDSHAKE_CLIENT_HELLO => {
            let (_, hello) = parse_tls_handshake_client_hello(body).ok()?;
            Some(client_hello_fact(hello.version.0, hello.ext))
        }
        HANDSHAKE_SERVER_HELLO => match parse_tls_handshake_server_hello(body) {
            Ok((_, hello)) => server_hello_fact(&hello),
            Err(_) => draft_server_hello_fact(body),
        },
        _ => None,
    }
}

/// SSLv2 record with a 2-byte header (SSL 2.0 draft §1.2): high bit set, 15-bit length.
pub fn sslv2_record(buf: &[u8]) -> Option<(&[u8], usize)> {
    let (b0, b1) = (*buf.first()?, *buf.get(1)?);
    if b0 & 0x80 == 0 {
        return None;
    }
    let len = usize::from(b0 & 0x7f) << 8 | usize::from(b1);
    Some((buf.get(2..2 + len)?, 2 + len))
}

const SSLV2_CLIENT_HELLO: u8 = 1;
const SSLV2_SERVER_HELLO: u8 = 4;

/// CLIENT-HELLO: type, version(2) … The version is 0x0002 for SSLv2 itself or the
/// highest TLS version of a v2-compatible hello (RFC 5246 appendix E.2).
/// SERVER-HELLO: type, session-id-hit, cert type, version(2), cert len(2),
/// cipher-specs len(2), connection-id len(2), cert, cipher specs (3 bytes each) …
pub fn sslv2_fact(msg: &[u8]) -> Option<TlsFact> {
    match *msg.first()? {
        SSLV2_CLIENT_HELLO => {
            let version = u16::from_be_bytes([*msg.get(1)?, *msg.get(2)?]);
            Some(TlsFact::ClientHello {
                max_version: TlsVersion::from_wire(version),
                sni: None,
            })
        }
        SSLV2_SERVER_HELLO => {
            let field = |at: usize| {
                Some(usize::from(u16::from_be_bytes([
                    *msg.get(at)?,
                    *msg.get(at + 1)?,
                ])))
            };
            let cert_len = field(5)?;
            let specs_len = field(7)?;
            let specs = msg.get(11 + cert_len..11 + cert_len + specs_len)?;
            let first = specs.get(..3)?;
            Some(TlsFact::ServerHello {
                version: TlsVersion::Ssl2,
                cipher: Cipher::Ssl2(
                    u32::from(first[0]) << 16 | u32::from(first[1]) << 8 | u32::from(first[2]),
                ),
            })
        }
        _ => None,
    }
}

/// Whether this looks like the start of an SSLv2 hello (client or server).
pub fn looks_like_sslv2_hello(buf: &[u8]) -> bool {
    match (buf.first(), buf.get(2), buf.get(3), buf.get(4)) {
        (Some(b0), Some(&SSLV2_CLIENT_HELLO), Some(&major), Some(_)) => {
            b0 & 0x80 != 0 && (major == 0 || major == 3)
        }
        (Some(b0), Some(&SSLV2_SERVER_HELLO), _, _) => {
            b0 & 0x80 != 0 && buf.get(5..7) == Some(&[0x00, 0x02][..])
        }
        _ => false,
    }
}

/// What one DTLS datagram told us.
#[derive(Default)]
pub struct DtlsDatagram {
    pub facts: Vec<TlsFact>,
    /// A ChangeCipherSpec, application data, or any record of a later epoch was seen.
    pub encrypted: bool,
}

/// RFC 6347 §4.1: a datagram holds one or more records of 13-byte header + fragment.
/// Only unfragmented epoch-0 hellos are read; fragments are skipped.
pub fn dtls_datagram(mut datagram: &[u8]) -> DtlsDatagram {
    let mut out = DtlsDatagram::default();
    while !datagram.is_empty() {
        let Ok((rest, header)) = parse_dtls_record_header(datagram) else {
            break;
        };
        let Some(fragment) = rest.get(..usize::from(header.length)) else {
            break;
        };
        datagram = &rest[usize::from(header.length)..];
        match header.content_type.0 {
            CONTENT_HANDSHAKE if header.epoch == 0 => {
                let mut messages = fragment;
                while let Ok((more, DTLSMessage::Handshake(msg))) =
                    parse_dtls_message_handshake(messages)
                {
                    messages = more;
                    match msg.body {
                        DTLSMessageHandshakeBody::ClientHello(hello) => {
                            out.facts
                                .push(client_hello_fact(hello.version.0, hello.ext));
                        }
                        DTLSMessageHandshakeBody::ServerHello(hello) => {
                            out.facts.extend(server_hello_fact(&hello));
                        }
                        _ => {}
                    }
                }
            }
            CONTENT_CHANGE_CIPHER_SPEC | CONTENT_APPLICATION_DATA => out.encrypted = true,
            _ if header.epoch > 0 => out.encrypted = true,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal TLS 1.2 ServerHello body choosing 0xc02f, with a
    /// supported_versions extension selecting TLS 1.3.
    fn server_hello(random: [u8; 32], with_sv: bool) -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&random);
        b.push(0); // session id
        b.extend_from_slice(&[0xc0, 0x2f, 0x00]);
        if with_sv {
            b.extend_from_slice(&[0x00, 0x06, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
        }
        b
    }

    #[test]
    fn server_hello_prefers_supported_versions() {
        let fact = handshake_fact(HANDSHAKE_SERVER_HELLO, &server_hello([7; 32], true));
        assert_eq!(
            fact,
            Some(TlsFact::ServerHello {
                version: TlsVersion::Tls13,
                cipher: Cipher::Tls(0xc02f)
            })
        );
        let fact = handshake_fact(HANDSHAKE_SERVER_HELLO, &server_hello([7; 32], false));
        assert_eq!(
            fact,
            Some(TlsFact::ServerHello {
                version: TlsVersion::Tls12,
                cipher: Cipher::Tls(0xc02f)
            })
        );
    }

    /// Issue 14: a server on TLS 1.3 draft 18 (0x7f12, the draft ServerHello layout)
    /// and one picking Facebook's 0xfb1a in `supported_versions` are both named.
    #[test]
    fn tls13_draft_and_vendor_server_hellos() {
        let mut draft = vec![0x7f, 0x12];
        draft.extend_from_slice(&[9; 32]);
        draft.extend_from_slice(&[0x13, 0x01, 0x00, 0x00]);
        let fact = handshake_fact(HANDSHAKE_SERVER_HELLO, &draft);
        assert_eq!(
            fact,
            Some(TlsFact::ServerHello {
                version: TlsVersion::Tls13Draft(0x7f12),
                cipher: Cipher::Tls(0x1301)
            })
        );
        // Cut short: nothing, never a panic.
        assert_eq!(handshake_fact(HANDSHAKE_SERVER_HELLO, &draft[..35]), None);
        // Not a draft code: not read in the draft layout.
        draft[0] = 0x05;
        assert_eq!(handshake_fact(HANDSHAKE_SERVER_HELLO, &draft), None);

        let mut fb = server_hello([7; 32], true);
        let len = fb.len();
        fb[len - 2..].copy_from_slice(&[0xfb, 0x1a]);
        match handshake_fact(HANDSHAKE_SERVER_HELLO, &fb) {
            Some(TlsFact::ServerHello { version, .. }) => {
                assert_eq!(version.to_string(), "TLS 1.3 draft-26-fb");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hello_retry_request_is_skipped() {
        assert_eq!(
            handshake_fact(
                HANDSHAKE_SERVER_HELLO,
                &server_hello(HELLO_RETRY_REQUEST_RANDOM, true)
            ),
            None
        );
    }

    #[test]
    fn handshake_framing_rejects_short() {
        assert!(next_handshake(&[2, 0, 0, 5, 1, 2]).is_none());
        assert_eq!(
            next_handshake(&[2, 0, 0, 1, 9, 7]),
            Some((2, &[9u8][..], 5))
        );
        assert!(matches!(next_record(&[22, 3, 3, 0]), Record::Incomplete));
        assert!(matches!(
            next_record(&[22, 3, 3, 0xff, 0xff]),
            Record::Invalid
        ));
    }

    #[test]
    fn sslv2_server_hello() {
        // type 4, hit 0, cert type 1, version 0x0002, cert len 1, specs len 3, conn id 0
        let msg = [4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 0, 0xaa, 0x01, 0x00, 0x80];
        assert_eq!(
            sslv2_fact(&msg),
            Some(TlsFact::ServerHello {
                version: TlsVersion::Ssl2,
                cipher: Cipher::Ssl2(0x010080)
            })
        );
        assert_eq!(sslv2_fact(&msg[..12]), None);
    }
}
