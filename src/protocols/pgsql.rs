//! PostgreSQL frontend/backend protocol 3 (PostgreSQL documentation, "Frontend/Backend
//! Protocol", message flow §55.2 and formats §55.7): whether the session went into TLS
//! (SSLRequest answered `S`) or stayed in clear, how the client authenticated, and the
//! statements and rows that crossed in clear.
//!
//! After `S` the TLS handshake is the TLS dissector's, as after STARTTLS.

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::Field;
use crate::protocols::framing::{Frame, Framer, Stop};
use crate::protocols::login::{challenge_login, login};
use crate::protocols::tls::TlsDissector;
use crate::protocols::{AppProto, Ctx, Dissector, Fact, Probe, Registration};

/// Request codes of the untyped first messages (§55.7: SSLRequest, GSSENCRequest,
/// CancelRequest); a StartupMessage carries the protocol version instead.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
const PROTOCOL_MAJOR_3: u32 = 3;
/// The server refuses longer startup packets (`MAX_STARTUP_PACKET_LENGTH`).
const MAX_STARTUP: usize = 10_000;
/// Our cap on one message held or read: longer ones (a big DataRow, a COPY chunk) are
/// read up to here and their rest skipped.
const MAX_MESSAGE: usize = 32 * 1024;

/// AuthenticationRequest codes (§55.7 `AuthenticationXXX`).
const AUTH_OK: u32 = 0;
const AUTH_CLEARTEXT: u32 = 3;
const AUTH_MD5: u32 = 5;
const AUTH_SASL: u32 = 10;

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be16(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

/// A C string at the start of `b`, and what follows its NUL.
fn cstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = memchr::memchr(0, b)?;
    Some((&b[..nul], &b[nul + 1..]))
}

/// A client's first message: SSLRequest, GSSENCRequest, CancelRequest or a protocol-3
/// StartupMessage whose first parameter name is printable.
pub fn probe_pgsql(data: &[u8]) -> Probe {
    let (Some(len), Some(code)) = (be32(data), data.get(4..).and_then(be32)) else {
        // Every such message is shorter than 64 KiB: its length starts with two zeros.
        return if data.iter().take(2).all(|b| *b == 0) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let len = len as usize;
    match code {
        SSL_REQUEST | GSSENC_REQUEST if len == 8 => Probe::Match,
        CANCEL_REQUEST if len == 16 => Probe::Match,
        _ if code >> 16 == PROTOCOL_MAJOR_3 && (9..=MAX_STARTUP).contains(&len) => {
            let params = &data[8..data.len().min(len)];
            match memchr::memchr(0, params) {
                Some(0) | None if params.len() >= 64 => Probe::NoMatch,
                None => Probe::NeedMore,
                Some(0) => Probe::NoMatch,
                Some(n) if params[..n].iter().all(u8::is_ascii_graphic) => Probe::Match,
                Some(_) => Probe::NoMatch,
            }
        }
        _ => Probe::NoMatch,
    }
}

/// What the client asked about encryption before its StartupMessage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upgrade {
    NotAsked,
    /// SSLRequest (or GSSENCRequest) sent, the server's one-byte answer not yet read.
    Asked {
        gss: bool,
    },
    Refused,
    /// GSSAPI encryption accepted (`G`): nothing after it is readable.
    GssAccepted,
}

/// The authentication the server asked for (its last AuthenticationRequest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    Unknown,
    Cleartext,
    Md5,
    Sasl,
    Done,
}

struct Session {
    upgrade: Upgrade,
    /// The StartupMessage has been read: client messages are typed from here on.
    started: bool,
    auth: Auth,
    /// From the StartupMessage; the policy masks it.
    user: Option<Vec<u8>>,
}

pub struct PgsqlDissector {
    framers: [Framer; 2],
    session: Session,
    /// After `S`: both directions are TLS.
    tls: Option<TlsDissector>,
}

impl Default for PgsqlDissector {
    fn default() -> Self {
        PgsqlDissector {
            framers: Default::default(),
            session: Session {
                upgrade: Upgrade::NotAsked,
                started: false,
                auth: Auth::Unknown,
                user: None,
            },
            tls: None,
        }
    }
}

impl Dissector for PgsqlDissector {
    fn encrypted(&self) -> bool {
        self.session.upgrade == Upgrade::GssAccepted
            || self.tls.as_ref().is_some_and(TlsDissector::encrypted)
    }

    /// Nothing more to learn: TLS has taken over and finished, GSSAPI encrypts, or
    /// neither direction can be framed any more.
    fn finished(&self) -> bool {
        match &self.tls {
            Some(tls) => tls.finished(),
            None => {
                self.session.upgrade == Upgrade::GssAccepted
                    || self.framers.iter().all(Framer::lost)
            }
        }
    }

    fn on_gap(&mut self, dir: Direction) {
        match &mut self.tls {
            Some(tls) => tls.on_gap(dir),
            None => self.framers[dir.index()].lose(),
        }
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        self.framers.iter().map(Framer::buffered).sum::<usize>()
            + self.tls.as_ref().map_or(0, TlsDissector::buffered)
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if let Some(tls) = &mut self.tls {
            return tls.on_data(dir, data, ctx);
        }
        if self.session.upgrade == Upgrade::GssAccepted {
            return;
        }
        let mut rest = data;
        let session = &mut self.session;
        let framer = &mut self.framers[dir.index()];
        loop {
            if dir == Direction::ToClient {
                if let Upgrade::Asked { gss } = session.upgrade {
                    // The one-byte answer to SSLRequest / GSSENCRequest (an old server
                    // may answer with an ErrorResponse instead: read on as typed).
                    match rest.first() {
                        None => return,
                        Some(b'S') if !gss => {
                            let mut tls = TlsDissector::stream();
                            if rest.len() > 1 {
                                tls.on_data(dir, &rest[1..], ctx);
                            }
                            self.tls = Some(tls);
                            return;
                        }
                        Some(b'G') if gss => {
                            session.upgrade = Upgrade::GssAccepted;
                            return;
                        }
                        Some(b'N') => {
                            session.upgrade = Upgrade::Refused;
                            rest = &rest[1..];
                        }
                        Some(_) => session.upgrade = Upgrade::Refused,
                    }
                }
            }
            let typed = dir == Direction::ToClient || session.started;
            let frame = if typed {
                framer.next(&mut rest, 5, MAX_MESSAGE, |h| {
                    Some(1 + usize::try_from(be32(&h[1..])?).ok()?)
                })
            } else {
                framer.next(&mut rest, 4, MAX_MESSAGE, |h| {
                    usize::try_from(be32(h)?)
                        .ok()
                        .filter(|len| (8..=MAX_STARTUP).contains(len))
                })
            };
            match frame {
                Ok(frame) => {
                    if frame.cut {
                        ctx.anomaly("pgsql message over the cap, read in part");
                    }
                    match (dir, typed) {
                        (Direction::ToServer, false) => session.first_message(&frame, ctx),
                        (Direction::ToServer, true) => session.client_message(&frame, ctx),
                        (Direction::ToClient, _) => session.server_message(&frame, ctx),
                    }
                }
                Err(Stop::NeedMore) => return,
                Err(Stop::Lost) => {
                    ctx.anomaly("pgsql framing lost");
                    return;
                }
            }
        }
    }
}

impl Session {
    /// An untyped client message: SSLRequest, GSSENCRequest, CancelRequest, StartupMessage.
    fn first_message(&mut self, frame: &Frame<'_>, ctx: &mut Ctx<'_>) {
        let Some(code) = frame.bytes.get(4..).and_then(be32) else {
            return;
        };
        match code {
            SSL_REQUEST => self.upgrade = Upgrade::Asked { gss: false },
            GSSENC_REQUEST => self.upgrade = Upgrade::Asked { gss: true },
            CANCEL_REQUEST => {}
            _ => {
                self.started = true;
                let mut params = &frame.bytes[8..];
                while let Some((name, after)) = cstr(params) {
                    let Some((value, next)) = cstr(after) else {
                        break;
                    };
                    if name == b"user" {
                        self.user = Some(value.to_vec());
                    }
                    params = next;
                }
                let detail = match self.upgrade {
                    Upgrade::Refused => "SSLRequest refused by the server ('N'), session in clear",
                    _ => "no SSLRequest, session in clear",
                };
                ctx.emit(Fact::clear_channel(format!("pgsql: {detail}")));
            }
        }
    }

    fn client_message(&mut self, frame: &Frame<'_>, ctx: &mut Ctx<'_>) {
        let (kind, body) = (frame.bytes[0], &frame.bytes[5..]);
        match kind {
            // PasswordMessage, SASLInitialResponse or SASLResponse: which one the
            // server's last AuthenticationRequest says.
            b'p' => {
                let user = self.user.as_deref();
                let secret = cstr(body).map_or(body, |(s, _)| s);
                let fact = match self.auth {
                    Auth::Cleartext => login(
                        "pgsql",
                        "cleartext password",
                        user,
                        String::from_utf8_lossy(secret).chars().count(),
                    ),
                    Auth::Md5 => challenge_login("pgsql", "MD5", user, secret.len()),
                    Auth::Sasl => {
                        let method = match secret {
                            b"SCRAM-SHA-256" => "SCRAM-SHA-256",
                            b"SCRAM-SHA-256-PLUS" => "SCRAM-SHA-256-PLUS",
                            _ => "SASL",
                        };
                        // The client-first-message follows the mechanism name: its
                        // nonce, never the password.
                        let response = cstr(body).map_or(0, |(_, r)| r.len().saturating_sub(4));
                        challenge_login("pgsql", method, user, response)
                    }
                    Auth::Unknown | Auth::Done => return,
                };
                // One login per authentication request (SASLResponse continues it).
                self.auth = Auth::Done;
                ctx.emit(fact);
            }
            b'Q' => ctx.scan(Field::Text, cstr(body).map_or(body, |(q, _)| q)),
            // Parse: statement name, then the query text.
            b'P' => {
                if let Some((query, _)) = cstr(body).and_then(|(_, r)| cstr(r)) {
                    ctx.scan(Field::Text, query);
                }
            }
            // Bind: portal, statement, parameter formats, then the parameter values.
            b'B' => {
                let values = cstr(body).and_then(|(_, r)| cstr(r)).and_then(|(_, r)| {
                    let formats = usize::from(be16(r)?);
                    r.get(2 + 2 * formats..)
                });
                if let Some(values) = values {
                    scan_values(values, ctx);
                }
            }
            b'd' => ctx.scan(Field::Text, body),
            _ => {}
        }
    }

    fn server_message(&mut self, frame: &Frame<'_>, ctx: &mut Ctx<'_>) {
        let (kind, body) = (frame.bytes[0], &frame.bytes[5..]);
        match kind {
            b'R' => {
                self.auth = match be32(body) {
                    Some(AUTH_CLEARTEXT) => Auth::Cleartext,
                    Some(AUTH_MD5) => Auth::Md5,
                    Some(AUTH_SASL) => Auth::Sasl,
                    Some(AUTH_OK) => Auth::Done,
                    // SASLContinue / SASLFinal, GSSAPI, SSPI: no secret to report.
                    _ => self.auth,
                };
            }
            // DataRow: a count, then each column's length (-1: NULL) and value.
            b'D' => scan_values(body, ctx),
            b'd' => ctx.scan(Field::Text, body),
            _ => {}
        }
    }
}

/// A 16-bit count of values, each a 32-bit length (-1: NULL) and its bytes (DataRow,
/// Bind parameters).
fn scan_values(data: &[u8], ctx: &mut Ctx<'_>) {
    let Some(count) = be16(data) else {
        return;
    };
    let mut rest = &data[2..];
    for _ in 0..count {
        let Some(len) = be32(rest) else {
            return;
        };
        rest = &rest[4..];
        if len == u32::MAX {
            continue;
        }
        let len = (len as usize).min(rest.len());
        ctx.scan(Field::Text, &rest[..len]);
        rest = &rest[len..];
    }
}

pub const PGSQL: Registration = Registration {
    app_proto: AppProto::Pgsql,
    l4: L4::Tcp,
    ports: &[5432],
    probe: probe_pgsql,
    start: || Box::new(PgsqlDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::fact::{Credential, CredentialForm};
    use crate::protocols::testing::with_ctx;
    use crate::protocols::AppProto;

    fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn startup(user: &str) -> Vec<u8> {
        let mut body = 0x0003_0000u32.to_be_bytes().to_vec();
        body.extend_from_slice(format!("user\0{user}\0database\0x\0\0").as_bytes());
        let mut m = (body.len() as u32 + 4).to_be_bytes().to_vec();
        m.extend_from_slice(&body);
        m
    }

    fn run(steps: &[(Direction, Vec<u8>)]) -> (Vec<Fact>, bool) {
        let mut d = PgsqlDissector::default();
        let facts = with_ctx(AppProto::Pgsql, |ctx| {
            for (dir, bytes) in steps {
                // A byte at a time: framing must not depend on segment boundaries.
                for b in bytes.chunks(1) {
                    d.on_data(*dir, b, ctx);
                }
            }
        });
        (facts, d.tls.is_some())
    }

    #[test]
    fn probe_reads_first_messages_only() {
        assert_eq!(
            probe_pgsql(&[0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]),
            Probe::Match
        );
        assert_eq!(probe_pgsql(&startup("jane")), Probe::Match);
        assert_eq!(probe_pgsql(&startup("jane")[..10]), Probe::NeedMore);
        assert_eq!(probe_pgsql(&[0, 0]), Probe::NeedMore);
        assert_eq!(probe_pgsql(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe_pgsql(&[0, 0, 0, 8, 0, 3, 0, 0]), Probe::NoMatch);
    }

    #[test]
    fn cleartext_password_and_rows_in_clear() {
        let to_s = Direction::ToServer;
        let to_c = Direction::ToClient;
        let mut row = 2u16.to_be_bytes().to_vec();
        for v in [&b"jane.doe@example.com"[..], b"4111 1111 1111 1111"] {
            row.extend_from_slice(&(v.len() as u32).to_be_bytes());
            row.extend_from_slice(v);
        }
        let (facts, tls) = run(&[
            (to_s, vec![0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]),
            (to_c, b"N".to_vec()),
            (to_s, startup("jane")),
            (to_c, typed(b'R', &3u32.to_be_bytes())),
            (to_s, typed(b'p', b"Secret-LEAKCHECK\0")),
            (to_c, typed(b'R', &0u32.to_be_bytes())),
            (to_s, typed(b'Q', b"SELECT 1\0")),
            (to_c, typed(b'D', &row)),
        ]);
        assert!(!tls);
        assert!(facts.contains(&Fact::clear_channel(
            "pgsql: SSLRequest refused by the server ('N'), session in clear"
        )));
        assert!(facts.contains(&login("pgsql", "cleartext password", Some(b"jane"), 16)));
        let pd = facts
            .iter()
            .filter(|f| matches!(f, Fact::PersonalData(_)))
            .count();
        assert_eq!(pd, 2, "{facts:?}");
    }

    #[test]
    fn accepted_ssl_hands_over_to_tls() {
        let (facts, tls) = run(&[
            (Direction::ToServer, vec![0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]),
            (Direction::ToClient, b"S".to_vec()),
            (Direction::ToServer, vec![22, 3, 1, 0, 1, 1]),
        ]);
        assert!(tls);
        assert!(!facts.iter().any(|f| matches!(f, Fact::ClearChannel(_))));
    }

    #[test]
    fn md5_is_challenge_response() {
        let (facts, _) = run(&[
            (Direction::ToServer, startup("jane")),
            (Direction::ToClient, typed(b'R', &[0, 0, 0, 5, 1, 2, 3, 4])),
            (
                Direction::ToServer,
                typed(b'p', b"md5d47dfe4b3c0e9cbf539949db664f528b\0"),
            ),
        ]);
        assert!(facts.iter().any(|f| matches!(
            f,
            Fact::Credential(Credential {
                form: CredentialForm::Login { method: "MD5", .. },
                challenge_response: true,
                secret_len: 35,
                ..
            })
        )));
    }
}
