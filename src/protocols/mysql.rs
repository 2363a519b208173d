//! MySQL / MariaDB client/server protocol (MySQL Source Code Documentation, "Client/Server
//! Protocol": Connection Phase and Text Protocol; MariaDB Knowledge Base, "Connection"):
//! whether the client used the SSL capability, which authentication plugin carried the
//! login, and the queries and result rows that crossed in clear.
//!
//! After the client's SSL Request the TLS handshake is the TLS dissector's, as after
//! STARTTLS.

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::Field;
use crate::protocols::framing::{Frame, Framer, Stop};
use crate::protocols::login::{challenge_login, login};
use crate::protocols::tls::TlsDissector;
use crate::protocols::{AppProto, Ctx, Dissector, Fact, Probe, Registration};

/// Capability flags (`CLIENT_*`).
const CLIENT_CONNECT_WITH_DB: u32 = 0x0000_0008;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
const CLIENT_PLUGIN_AUTH_LENENC_DATA: u32 = 0x0020_0000;
const CLIENT_DEPRECATE_EOF: u32 = 0x0100_0000;
/// Status flag: another result set follows this one.
const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;

const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;

/// The handshake's protocol version (HandshakeV10).
const PROTOCOL_10: u8 = 10;
/// An SSL Request is a HandshakeResponse41 cut after its fixed part.
const SSL_REQUEST_LEN: usize = 32;
/// The packet header: a 3-byte little-endian payload length and a sequence number.
const HEADER: usize = 4;
/// Our cap on one packet held or read: longer ones (a big row, a LOAD DATA chunk) are
/// read up to here and their rest skipped.
const MAX_PACKET: usize = 32 * 1024;

fn le16(b: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(..2)?.try_into().ok()?))
}

fn le32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

fn cstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = memchr::memchr(0, b)?;
    Some((&b[..nul], &b[nul + 1..]))
}

/// A length-encoded integer (`int<lenenc>`): its value and the bytes after it.
/// `0xfb` (NULL in a row) reads as `None`.
fn lenenc(b: &[u8]) -> Option<(Option<u64>, &[u8])> {
    let (&first, rest) = b.split_first()?;
    let width = match first {
        0..=0xfa => return Some((Some(u64::from(first)), rest)),
        0xfb => return Some((None, rest)),
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        0xff => return None,
    };
    let bytes = rest.get(..width)?;
    let value = bytes
        .iter()
        .rev()
        .fold(0u64, |v, b| (v << 8) | u64::from(*b));
    Some((Some(value), &rest[width..]))
}

/// The server's first packet: a HandshakeV10 (protocol 10, then a printable version
/// string), or an ERR packet refusing the connection (host not allowed, too many
/// connections) with a readable message.
pub fn probe_mysql(data: &[u8]) -> Probe {
    let Some(header) = data.get(..HEADER + 1) else {
        return if data.get(3).is_none_or(|seq| *seq == 0) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if header[3] != 0 {
        return Probe::NoMatch;
    }
    let payload = &data[HEADER..data.len().min(HEADER + len)];
    let printable_to_nul = |text: &[u8], min: usize| match memchr::memchr(0, text) {
        Some(n) => n >= min && text[..n].iter().all(|b| (0x20..0x7f).contains(b)),
        None => false,
    };
    match header[4] {
        PROTOCOL_10 if (20..=1024).contains(&len) => {
            if payload.len() < 16.min(len) {
                Probe::NeedMore
            } else if printable_to_nul(&payload[1..], 3) {
                Probe::Match
            } else {
                Probe::NoMatch
            }
        }
        0xff if (8..=512).contains(&len) => {
            let code = le16(&payload[1..]).unwrap_or(0);
            let message = payload.get(3..).unwrap_or(b"");
            if !(1000..2000).contains(&code) {
                Probe::NoMatch
            } else if message.len() < 5 {
                Probe::NeedMore
            } else if message.iter().all(|b| (0x20..0x7f).contains(b)) {
                Probe::Match
            } else {
                Probe::NoMatch
            }
        }
        _ => Probe::NoMatch,
    }
}

/// An authentication plugin, as the evidence names it, and whether its response is
/// the password itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plugin {
    name: &'static str,
    cleartext: bool,
}

impl Plugin {
    const NATIVE: Plugin = Plugin {
        name: "mysql_native_password",
        cleartext: false,
    };

    fn of(name: &[u8]) -> Plugin {
        let (name, cleartext) = match name {
            b"mysql_native_password" => ("mysql_native_password", false),
            b"caching_sha2_password" => ("caching_sha2_password", false),
            b"sha256_password" => ("sha256_password", false),
            b"client_ed25519" => ("client_ed25519", false),
            b"mysql_old_password" => ("mysql_old_password", false),
            // MariaDB's pam / LDAP accounts: the password itself, NUL-terminated.
            b"mysql_clear_password" => ("mysql_clear_password", true),
            // MariaDB's dialog plugin answers each prompt in clear.
            b"dialog" => ("dialog", true),
            _ => ("auth plugin", false),
        };
        Plugin { name, cleartext }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the server's handshake.
    Greeting,
    /// Waiting for the client's HandshakeResponse (or SSL Request).
    Login,
    /// Until the server's OK or ERR: auth switches and plugin exchanges.
    Auth,
    Command,
}

/// A text result set being read (Text Protocol, COM_QUERY Response).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Results {
    Idle,
    /// The first packet of a response: OK, ERR, LOCAL INFILE or a column count.
    Start,
    Columns(u64),
    /// The EOF after the column definitions (when CLIENT_DEPRECATE_EOF is off).
    ColumnsEof,
    Rows,
}

/// A login whose plugin is only known for sure once the server answers (it may switch
/// the client to another plugin).
struct PendingLogin {
    user: Vec<u8>,
    plugin: Plugin,
    response_len: usize,
}

struct Session {
    phase: Phase,
    server_caps: u32,
    deprecate_eof: bool,
    server_plugin: Option<Plugin>,
    user: Vec<u8>,
    login: Option<PendingLogin>,
    /// The server sent an Auth Switch Request: the client's next packet answers it.
    switched_to: Option<Plugin>,
    results: Results,
}

pub struct MysqlDissector {
    framers: [Framer; 2],
    session: Session,
    /// After the client's SSL Request: both directions are TLS.
    tls: Option<TlsDissector>,
}

impl Default for MysqlDissector {
    fn default() -> Self {
        MysqlDissector {
            framers: Default::default(),
            session: Session {
                phase: Phase::Greeting,
                server_caps: 0,
                deprecate_eof: false,
                server_plugin: None,
                user: Vec::new(),
                login: None,
                switched_to: None,
                results: Results::Idle,
            },
            tls: None,
        }
    }
}

impl Dissector for MysqlDissector {
    fn encrypted(&self) -> bool {
        self.tls.as_ref().is_some_and(TlsDissector::encrypted)
    }

    fn finished(&self) -> bool {
        match &self.tls {
            Some(tls) => tls.finished(),
            None => self.framers.iter().all(Framer::lost),
        }
    }

    fn on_gap(&mut self, dir: Direction) {
        match &mut self.tls {
            Some(tls) => tls.on_gap(dir),
            None => self.framers[dir.index()].lose(),
        }
    }

    /// Bytes of partial packets held (the engine's memory budget).
    fn buffered(&self) -> usize {
        self.framers.iter().map(Framer::buffered).sum::<usize>()
            + self.tls.as_ref().map_or(0, TlsDissector::buffered)
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if let Some(tls) = &mut self.tls {
            return tls.on_data(dir, data, ctx);
        }
        let mut rest = data;
        let framer = &mut self.framers[dir.index()];
        loop {
            let frame = framer.next(&mut rest, HEADER, MAX_PACKET, |h| {
                Some(
                    HEADER + (usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16),
                )
            });
            match frame {
                Ok(frame) => {
                    if frame.cut {
                        ctx.anomaly("mysql packet over the cap, read in part");
                    }
                    let upgrade = match dir {
                        Direction::ToServer => self.session.client_packet(&frame, ctx),
                        Direction::ToClient => {
                            self.session.server_packet(&frame, ctx);
                            false
                        }
                    };
                    if upgrade {
                        let mut tls = TlsDissector::stream();
                        if !rest.is_empty() {
                            tls.on_data(dir, rest, ctx);
                        }
                        self.tls = Some(tls);
                        return;
                    }
                }
                Err(Stop::NeedMore) => return,
                Err(Stop::Lost) => {
                    ctx.anomaly("mysql framing lost");
                    return;
                }
            }
        }
    }

    /// The flow ends during a login the server never answered: it still crossed.
    fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        self.session.report_login(ctx);
    }
}

impl Session {
    fn server_packet(&mut self, frame: &Frame<'_>, ctx: &mut Ctx<'_>) {
        let payload = &frame.bytes[HEADER..];
        let Some(&first) = payload.first() else {
            return;
        };
        match self.phase {
            Phase::Greeting if first == PROTOCOL_10 => {
                self.greeting(payload);
                self.phase = Phase::Login;
            }
            Phase::Greeting | Phase::Login => {}
            Phase::Auth => match first {
                // Auth Switch Request: plugin name, then its challenge.
                0xfe => {
                    let name = cstr(&payload[1..]).map_or(&payload[1..], |(n, _)| n);
                    self.switched_to = Some(Plugin::of(name));
                    // The first response was for a plugin the server did not want.
                    self.login = None;
                }
                0x00 | 0xff => {
                    self.report_login(ctx);
                    self.phase = Phase::Command;
                }
                // Auth More Data (caching_sha2 fast / full authentication, a key).
                _ => self.report_login(ctx),
            },
            Phase::Command => self.result_packet(payload, ctx),
        }
    }

    /// HandshakeV10: version, thread id, scramble part 1, filler, capabilities (low),
    /// charset, status, capabilities (high), scramble length, reserved, scramble part 2,
    /// plugin name.
    fn greeting(&mut self, payload: &[u8]) {
        let Some((_version, rest)) = cstr(&payload[1..]) else {
            return;
        };
        let Some(low) = rest.get(13..).and_then(le16) else {
            return;
        };
        let high = rest.get(18..).and_then(le16).unwrap_or(0);
        self.server_caps = u32::from(low) | u32::from(high) << 16;
        let scramble_len = rest
            .get(20)
            .map_or(0, |n| usize::from(*n).saturating_sub(8));
        let plugin_at = 31 + scramble_len.max(13);
        if self.server_caps & CLIENT_PLUGIN_AUTH != 0 {
            if let Some((name, _)) = rest.get(plugin_at..).and_then(cstr) {
                self.server_plugin = Some(Plugin::of(name));
            }
        }
    }

    /// A client packet; true when it was an SSL Request (TLS follows at once).
    fn client_packet(&mut self, frame: &Frame<'_>, ctx: &mut Ctx<'_>) -> bool {
        let payload = &frame.bytes[HEADER..];
        match self.phase {
            Phase::Greeting => {}
            Phase::Login => {
                let Some(caps) = le32(payload) else {
                    return false;
                };
                if caps & CLIENT_SSL != 0 && payload.len() == SSL_REQUEST_LEN {
                    return true;
                }
                self.phase = Phase::Auth;
                let detail = if self.server_caps & CLIENT_SSL != 0 {
                    "the server offers SSL, the client did not ask for it: session in clear"
                } else {
                    "the server does not offer SSL: session in clear"
                };
                ctx.emit(Fact::clear_channel(format!("mysql: {detail}")));
                self.deprecate_eof = caps & self.server_caps & CLIENT_DEPRECATE_EOF != 0;
                self.handshake_response(caps, payload, ctx);
            }
            Phase::Auth => {
                if let Some(plugin) = self.switched_to.take() {
                    let response = payload.strip_suffix(&[0]).unwrap_or(payload);
                    self.login = Some(PendingLogin {
                        user: std::mem::take(&mut self.user),
                        plugin,
                        response_len: response.len(),
                    });
                    self.report_login(ctx);
                }
            }
            Phase::Command => {
                // A command starts a new exchange (sequence number 0).
                if frame.bytes[3] != 0 {
                    return false;
                }
                self.results = Results::Idle;
                match payload.split_first() {
                    Some((&COM_QUERY, text)) => {
                        ctx.scan(Field::Text, text);
                        self.results = Results::Start;
                    }
                    Some((&COM_STMT_PREPARE, text)) => ctx.scan(Field::Text, text),
                    _ => {}
                }
            }
        }
        false
    }

    /// HandshakeResponse41 (capabilities, max packet, charset, 23 reserved, user,
    /// auth response, database, plugin name) or the pre-4.1 HandshakeResponse320.
    fn handshake_response(&mut self, caps: u32, payload: &[u8], ctx: &mut Ctx<'_>) {
        let (user, response, plugin) = if caps & CLIENT_PROTOCOL_41 != 0 {
            let Some((user, rest)) = payload.get(32..).and_then(cstr) else {
                return;
            };
            let (response, rest) = if caps & CLIENT_PLUGIN_AUTH_LENENC_DATA != 0 {
                match lenenc(rest) {
                    Some((Some(n), after)) => {
                        let n = usize::try_from(n).unwrap_or(usize::MAX).min(after.len());
                        (&after[..n], &after[n..])
                    }
                    _ => (&b""[..], &b""[..]),
                }
            } else if caps & CLIENT_SECURE_CONNECTION != 0 {
                let n = usize::from(rest.first().copied().unwrap_or(0))
                    .min(rest.len().saturating_sub(1));
                (
                    &rest[1.min(rest.len())..1.min(rest.len()) + n],
                    &rest[(1 + n).min(rest.len())..],
                )
            } else {
                cstr(rest).unwrap_or((rest, b""))
            };
            let rest = if caps & CLIENT_CONNECT_WITH_DB != 0 {
                cstr(rest).map_or(&b""[..], |(_, r)| r)
            } else {
                rest
            };
            let plugin = if caps & CLIENT_PLUGIN_AUTH != 0 {
                cstr(rest).map(|(name, _)| Plugin::of(name))
            } else {
                None
            };
            (user, response, plugin)
        } else {
            // Capabilities (2), max packet (3), user, the old scramble.
            let Some((user, rest)) = payload.get(5..).and_then(cstr) else {
                return;
            };
            let old = Plugin::of(b"mysql_old_password");
            (user, cstr(rest).map_or(rest, |(r, _)| r), Some(old))
        };
        let plugin = plugin.or(self.server_plugin).unwrap_or(Plugin::NATIVE);
        let response = if plugin.cleartext {
            response.strip_suffix(&[0]).unwrap_or(response)
        } else {
            response
        };
        self.user = user.to_vec();
        self.login = Some(PendingLogin {
            user: user.to_vec(),
            plugin,
            response_len: response.len(),
        });
        // A password sent in clear has crossed whatever the server answers.
        if plugin.cleartext {
            self.report_login(ctx);
        }
    }

    fn report_login(&mut self, ctx: &mut Ctx<'_>) {
        let Some(l) = self.login.take() else {
            return;
        };
        let user = Some(l.user.as_slice());
        let fact = if l.plugin.cleartext {
            let secret = l.response_len;
            login("mysql", l.plugin.name, user, secret)
        } else {
            challenge_login("mysql", l.plugin.name, user, l.response_len)
        };
        ctx.emit(fact);
    }

    /// The server's answer to COM_QUERY: column count, column definitions, (EOF,) rows,
    /// then EOF or OK; the rows' values are scanned.
    fn result_packet(&mut self, payload: &[u8], ctx: &mut Ctx<'_>) {
        let first = payload[0];
        let terminator = first == 0xfe && payload.len() < 0xff_ffff && !self.row_like(payload);
        self.results = match self.results {
            Results::Idle => Results::Idle,
            Results::Start => match first {
                0x00 => self.after_status(ok_status(payload)),
                0xff | 0xfb => Results::Idle,
                _ => match lenenc(payload) {
                    Some((Some(n), _)) if n > 0 => Results::Columns(n),
                    _ => Results::Idle,
                },
            },
            Results::Columns(n) if n > 1 => Results::Columns(n - 1),
            Results::Columns(_) if self.deprecate_eof => Results::Rows,
            Results::Columns(_) => Results::ColumnsEof,
            Results::ColumnsEof => Results::Rows,
            Results::Rows if first == 0xff => Results::Idle,
            Results::Rows if terminator => {
                let status = if self.deprecate_eof {
                    ok_status(payload)
                } else {
                    payload.get(3..).and_then(le16)
                };
                self.after_status(status)
            }
            Results::Rows => {
                let mut rest = payload;
                while let Some((len, after)) = lenenc(rest) {
                    let Some(len) = len else {
                        rest = after;
                        continue;
                    };
                    let len = usize::try_from(len).unwrap_or(usize::MAX).min(after.len());
                    ctx.scan(Field::Text, &after[..len]);
                    rest = &after[len..];
                }
                Results::Rows
            }
        };
    }

    /// An EOF packet is shorter than 9 bytes; an OK packet standing in for it (with
    /// CLIENT_DEPRECATE_EOF) is any length, so a `0xfe` row (a value of 2^24 bytes or
    /// more) is told apart only by length when EOF packets are in use.
    fn row_like(&self, payload: &[u8]) -> bool {
        !self.deprecate_eof && payload.len() >= 9
    }

    fn after_status(&self, status: Option<u16>) -> Results {
        match status {
            Some(s) if s & SERVER_MORE_RESULTS_EXISTS != 0 => Results::Start,
            _ => Results::Idle,
        }
    }
}

/// The status flags of an OK packet: header, affected rows, last insert id, status.
fn ok_status(payload: &[u8]) -> Option<u16> {
    let (_, rest) = lenenc(payload.get(1..)?)?;
    let (_, rest) = lenenc(rest)?;
    le16(rest)
}

pub const MYSQL: Registration = Registration {
    app_proto: AppProto::Mysql,
    l4: L4::Tcp,
    ports: &[3306],
    probe: probe_mysql,
    start: || Box::new(MysqlDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::fact::{Credential, CredentialForm};
    use crate::protocols::testing::with_ctx;
    use crate::protocols::AppProto;

    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        p.push(seq);
        p.extend_from_slice(payload);
        p
    }

    fn greeting(caps: u32, plugin: &str) -> Vec<u8> {
        let mut g = vec![PROTOCOL_10];
        g.extend_from_slice(b"10.11.19-MariaDB\0");
        g.extend_from_slice(&[1, 0, 0, 0]);
        g.extend_from_slice(b"abcdefgh\0");
        g.extend_from_slice(&(caps as u16).to_le_bytes());
        g.extend_from_slice(&[8, 2, 0]);
        g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        g.push(21);
        g.extend_from_slice(&[0; 10]);
        g.extend_from_slice(b"ijklmnopqrst\0");
        g.extend_from_slice(plugin.as_bytes());
        g.push(0);
        packet(0, &g)
    }

    fn response(caps: u32, user: &str, auth: &[u8], plugin: &str) -> Vec<u8> {
        let mut r = caps.to_le_bytes().to_vec();
        r.extend_from_slice(&[0, 0, 0, 1, 8]);
        r.extend_from_slice(&[0; 23]);
        r.extend_from_slice(user.as_bytes());
        r.push(0);
        r.push(auth.len() as u8);
        r.extend_from_slice(auth);
        r.extend_from_slice(plugin.as_bytes());
        r.push(0);
        packet(1, &r)
    }

    const CAPS: u32 = CLIENT_PROTOCOL_41
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH
        | CLIENT_SSL
        | CLIENT_DEPRECATE_EOF;

    fn run(steps: &[(Direction, Vec<u8>)]) -> (Vec<Fact>, bool) {
        let mut d = MysqlDissector::default();
        let facts = with_ctx(AppProto::Mysql, |ctx| {
            for (dir, bytes) in steps {
                for b in bytes.chunks(3) {
                    d.on_data(*dir, b, ctx);
                }
            }
            d.on_end(ctx);
        });
        (facts, d.tls.is_some())
    }

    fn logins(facts: &[Fact]) -> Vec<(&'static str, bool, usize)> {
        facts
            .iter()
            .filter_map(|f| match f {
                Fact::Credential(Credential {
                    form: CredentialForm::Login { method, .. },
                    challenge_response,
                    secret_len,
                    ..
                }) => Some((*method, *challenge_response, *secret_len)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn probe_reads_the_greeting() {
        let g = greeting(CAPS, "mysql_native_password");
        assert_eq!(probe_mysql(&g), Probe::Match);
        assert_eq!(probe_mysql(&g[..3]), Probe::NeedMore);
        let refused = packet(
            0,
            b"\xff\x6a\x04Host '192.168.1.3' is not allowed to connect",
        );
        assert_eq!(probe_mysql(&refused), Probe::Match);
        assert_eq!(probe_mysql(b"SSH-2.0-OpenSSH_9.2\r\n"), Probe::NoMatch);
        assert_eq!(probe_mysql(&packet(0, &[10; 40])), Probe::NoMatch);
    }

    #[test]
    fn caching_sha2_is_challenge_response_and_rows_are_scanned() {
        let row = b"\x14jane.doe@example.com\xfb\x134111 1111 1111 1111";
        let (facts, tls) = run(&[
            (Direction::ToClient, greeting(CAPS, "caching_sha2_password")),
            (
                Direction::ToServer,
                response(
                    CAPS & !CLIENT_SSL,
                    "jane",
                    &[7; 32],
                    "caching_sha2_password",
                ),
            ),
            (Direction::ToClient, packet(2, &[1, 3])),
            (Direction::ToClient, packet(3, &[0, 0, 0, 2, 0, 0, 0])),
            (Direction::ToServer, packet(0, b"\x03SELECT email FROM t")),
            (Direction::ToClient, packet(1, &[2])),
            (Direction::ToClient, packet(2, b"\x03def")),
            (Direction::ToClient, packet(3, b"\x03def")),
            (Direction::ToClient, packet(4, row)),
            (Direction::ToClient, packet(5, &[0xfe, 0, 0, 2, 0, 0, 0])),
        ]);
        assert!(!tls);
        assert_eq!(logins(&facts), vec![("caching_sha2_password", true, 32)]);
        assert!(facts.contains(&Fact::clear_channel(
            "mysql: the server offers SSL, the client did not ask for it: session in clear"
        )));
        let pd = facts
            .iter()
            .filter(|f| matches!(f, Fact::PersonalData(_)))
            .count();
        assert_eq!(pd, 2, "{facts:?}");
    }

    #[test]
    fn auth_switch_to_clear_password_is_a_password_in_clear() {
        let (facts, _) = run(&[
            (Direction::ToClient, greeting(CAPS, "mysql_native_password")),
            (
                Direction::ToServer,
                response(
                    CAPS & !CLIENT_SSL,
                    "jane",
                    &[7; 20],
                    "mysql_native_password",
                ),
            ),
            (
                Direction::ToClient,
                packet(2, b"\xfemysql_clear_password\0"),
            ),
            (Direction::ToServer, packet(3, b"Secret-LEAKCHECK\0")),
            (Direction::ToClient, packet(4, &[0, 0, 0, 2, 0, 0, 0])),
        ]);
        assert_eq!(logins(&facts), vec![("mysql_clear_password", false, 16)]);
    }

    #[test]
    fn ssl_request_hands_over_to_tls() {
        let mut ssl = CAPS.to_le_bytes().to_vec();
        ssl.extend_from_slice(&[0; 28]);
        let mut hello = packet(1, &ssl);
        hello.extend_from_slice(&[22, 3, 1, 0, 1, 1]);
        let (facts, tls) = run(&[
            (Direction::ToClient, greeting(CAPS, "mysql_native_password")),
            (Direction::ToServer, hello),
        ]);
        assert!(tls);
        assert!(logins(&facts).is_empty());
        assert!(!facts.iter().any(|f| matches!(f, Fact::ClearChannel(_))));
    }
}
