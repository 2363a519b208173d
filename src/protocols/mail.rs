//! SMTP (RFC 5321, STARTTLS RFC 3207, AUTH RFC 4954), POP3 (RFC 1939, STLS RFC 2595),
//! IMAP (RFC 3501) and FTP (RFC 959, AUTH TLS RFC 4217): logins, mail content and
//! the TLS upgrade. Framing and the upgrade itself are `lines::LineDissector`'s.

use base64::Engine as _;

use crate::flow::L4;
use crate::personal_data::Field;
use crate::protocols::lines::{
    argument, starts_with_ci, user_pass, LineDissector, LineProtocol, Next, Session,
};
use crate::protocols::login::{challenge_login, login};
use crate::protocols::Registration;
use crate::protocols::{AppProto, Ctx, Probe};

fn b64(data: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim_ascii())
        .ok()
}

/// SASL PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd` → (authcid, password length).
pub fn sasl_plain(decoded: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut parts = decoded.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let authcid = parts.next()?;
    let passwd = parts.next()?;
    Some((
        authcid.to_vec(),
        String::from_utf8_lossy(passwd).chars().count(),
    ))
}

fn starts_with_any(data: &[u8], tokens: &[&[u8]]) -> bool {
    tokens.iter().any(|t| starts_with_ci(data, t))
}

fn contains_ci(data: &[u8], needle: &[u8]) -> bool {
    data.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A greeting line `220 … SMTP`, or a client's EHLO / HELO.
pub fn probe_smtp(data: &[u8]) -> Probe {
    let line = data.split(|b| *b == b'\n').next().unwrap_or(b"");
    if starts_with_any(data, &[b"EHLO ", b"HELO "])
        || (data.starts_with(b"220") && (contains_ci(line, b"SMTP") || contains_ci(line, b" mail")))
    {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// `+OK` greeting, or a client's CAPA / USER / APOP.
pub fn probe_pop3(data: &[u8]) -> Probe {
    if data.starts_with(b"+OK") || starts_with_any(data, &[b"CAPA\r\n", b"APOP ", b"STLS\r\n"]) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// `* OK` greeting, or a tagged IMAP command.
pub fn probe_imap(data: &[u8]) -> Probe {
    let line = data.split(|b| *b == b'\n').next().unwrap_or(b"");
    let tagged = line.iter().position(|b| *b == b' ').is_some_and(|sp| {
        let command = &line[sp + 1..];
        starts_with_any(
            command,
            &[
                b"CAPABILITY",
                b"LOGIN ",
                b"STARTTLS",
                b"AUTHENTICATE ",
                b"SELECT ",
            ],
        ) && line[..sp].iter().all(u8::is_ascii_alphanumeric)
    });
    if data.starts_with(b"* OK") || data.starts_with(b"* PREAUTH") || tagged {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// `220 … FTP` greeting, or a client's AUTH TLS / FEAT. A `220` greeting that names
/// neither FTP nor SMTP asks for more: the client's first command settles it
/// (`settle_bare_greeting`).
pub fn probe_ftp(data: &[u8]) -> Probe {
    let line = data.split(|b| *b == b'\n').next().unwrap_or(b"");
    if (data.starts_with(b"220") && contains_ci(line, b"FTP"))
        || starts_with_any(data, &[b"AUTH TLS", b"AUTH SSL", b"FEAT\r\n"])
    {
        Probe::Match
    } else if bare_greeting(data) {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

/// A `220` service-ready greeting that says neither FTP nor SMTP (`220 Welcome`):
/// both protocols greet so.
pub fn bare_greeting(data: &[u8]) -> bool {
    if !matches!(data.get(..4), Some(b"220 " | b"220-")) {
        return false;
    }
    let line = data.split(|b| *b == b'\n').next().unwrap_or(b"");
    ![&b"FTP"[..], b"SMTP", b" mail"]
        .iter()
        .any(|word| contains_ci(line, word))
}

/// After a bare `220` greeting, the protocol the client's first command names:
/// `USER`, `PASS`, `SYST`, `FEAT`, `AUTH TLS` → FTP; `EHLO`, `HELO` → SMTP.
pub fn settle_bare_greeting(client: &[u8]) -> Option<AppProto> {
    if starts_with_any(
        client,
        &[
            b"USER ",
            b"PASS ",
            b"SYST",
            b"FEAT",
            b"AUTH TLS",
            b"AUTH SSL",
        ],
    ) {
        Some(AppProto::Ftp)
    } else if starts_with_any(client, &[b"EHLO ", b"HELO "]) {
        Some(AppProto::Smtp)
    } else {
        None
    }
}

/// SASL mechanisms read off the wire (RFC 4422): PLAIN and LOGIN carry the password,
/// CRAM-MD5 (RFC 2195) only the user name and an HMAC of the server's challenge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Plain,
    Login,
    CramMd5,
}

impl Mechanism {
    fn of(name: &[u8]) -> Option<Self> {
        [
            (&b"PLAIN"[..], Mechanism::Plain),
            (b"LOGIN", Mechanism::Login),
            (b"CRAM-MD5", Mechanism::CramMd5),
        ]
        .into_iter()
        .find_map(|(n, m)| name.eq_ignore_ascii_case(n).then_some(m))
    }
}

/// Which client line a SASL exchange waits for.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum SaslStep {
    #[default]
    Idle,
    /// PLAIN without an initial response, or CRAM-MD5: the client's next line.
    Response(Mechanism),
    LoginUser,
    LoginPass,
}

/// A SASL login in SMTP `AUTH`, POP3 `AUTH` (RFC 5034) or IMAP `AUTHENTICATE`: the
/// command starts it, the client's continuation lines finish it.
#[derive(Default)]
struct SaslLogin {
    step: SaslStep,
    user: Option<Vec<u8>>,
    /// `AUTH` or `AUTHENTICATE`, for the evidence.
    verb: &'static [u8],
}

impl SaslLogin {
    /// `AUTH PLAIN` … as each protocol names it in the evidence.
    fn method(verb: &[u8], mechanism: Mechanism) -> &'static str {
        match (verb == b"AUTHENTICATE", mechanism) {
            (false, Mechanism::Plain) => "AUTH PLAIN",
            (false, Mechanism::Login) => "AUTH LOGIN",
            (false, Mechanism::CramMd5) => "AUTH CRAM-MD5",
            (true, Mechanism::Plain) => "AUTHENTICATE PLAIN",
            (true, Mechanism::Login) => "AUTHENTICATE LOGIN",
            (true, Mechanism::CramMd5) => "AUTHENTICATE CRAM-MD5",
        }
    }

    /// `verb mechanism [initial-response]`; false when `command` is no SASL start.
    fn start(
        &mut self,
        protocol: &'static str,
        verb: &'static [u8],
        command: &[u8],
        ctx: &mut Ctx<'_>,
    ) -> bool {
        if !starts_with_ci(command, verb) || command.get(verb.len()) != Some(&b' ') {
            return false;
        }
        let mut args = argument(command, verb).splitn(2, |b| *b == b' ');
        let Some(mechanism) = args.next().and_then(Mechanism::of) else {
            return false;
        };
        let initial = args.next().unwrap_or(b"").trim_ascii();
        self.step = match mechanism {
            _ if initial.is_empty() || initial == b"=" => match mechanism {
                Mechanism::Login => SaslStep::LoginUser,
                other => SaslStep::Response(other),
            },
            Mechanism::Login => {
                self.user = b64(initial);
                SaslStep::LoginPass
            }
            other => {
                self.finish(protocol, Self::method(verb, other), other, initial, ctx);
                SaslStep::Idle
            }
        };
        self.verb = verb;
        true
    }

    /// A client line while an exchange waits for one; false when none does.
    fn continue_with(&mut self, protocol: &'static str, line: &[u8], ctx: &mut Ctx<'_>) -> bool {
        let step = std::mem::take(&mut self.step);
        if line == b"*" {
            // The client cancelled the exchange (RFC 4954 §4).
            return step != SaslStep::Idle;
        }
        let verb = self.verb;
        match step {
            SaslStep::Idle => return false,
            SaslStep::Response(mechanism) => self.finish(
                protocol,
                Self::method(verb, mechanism),
                mechanism,
                line,
                ctx,
            ),
            SaslStep::LoginUser => {
                self.user = b64(line);
                self.step = SaslStep::LoginPass;
            }
            SaslStep::LoginPass => {
                let len =
                    b64(line).map_or(line.len(), |p| String::from_utf8_lossy(&p).chars().count());
                let method = Self::method(verb, Mechanism::Login);
                ctx.emit(login(protocol, method, self.user.take().as_deref(), len));
            }
        }
        true
    }

    /// A complete client response of PLAIN or CRAM-MD5.
    fn finish(
        &mut self,
        protocol: &'static str,
        method: &'static str,
        mechanism: Mechanism,
        response: &[u8],
        ctx: &mut Ctx<'_>,
    ) {
        let Some(decoded) = b64(response) else {
            return;
        };
        match mechanism {
            Mechanism::Plain => {
                if let Some((user, len)) = sasl_plain(&decoded) {
                    ctx.emit(login(protocol, method, Some(&user), len));
                }
            }
            // `user SP hex-digest`: the user name in clear, the digest unusable.
            Mechanism::CramMd5 => {
                let (user, digest) = match decoded.iter().rposition(|b| *b == b' ') {
                    Some(sp) => (&decoded[..sp], decoded.len() - sp - 1),
                    None => (&decoded[..], 0),
                };
                ctx.emit(challenge_login(protocol, method, Some(user), digest));
            }
            Mechanism::Login => {}
        }
    }
}

#[derive(Default)]
pub struct Smtp {
    session: Session,
    in_data: bool,
    sasl: SaslLogin,
}

impl LineProtocol for Smtp {
    const NAME: &'static str = "smtp";

    fn client_line(&mut self, line: &[u8], ctx: &mut Ctx<'_>) -> Next {
        if self.in_data {
            if line == b"." {
                self.in_data = false;
            } else {
                ctx.scan(Field::Text, line);
            }
            return Next::Continue;
        }
        if self.sasl.continue_with("smtp", line, ctx) {
            return Next::Continue;
        }
        if starts_with_ci(line, b"STARTTLS") {
            return Next::UpgradeRequested;
        }
        if self.sasl.start("smtp", b"AUTH", line, ctx) {
            self.session.sensitive_in_clear = true;
        } else if starts_with_ci(line, b"MAIL FROM") || starts_with_ci(line, b"RCPT TO") {
            self.session.sensitive_in_clear = true;
            ctx.scan(Field::Text, line);
        } else if starts_with_ci(line, b"DATA") {
            self.in_data = true;
        }
        Next::Continue
    }

    fn server_line(&mut self, line: &[u8], upgrade_pending: bool, _ctx: &mut Ctx<'_>) -> Next {
        if line.len() >= 4 && line.starts_with(b"250") && starts_with_ci(&line[4..], b"STARTTLS") {
            self.session.upgrade_offered = true;
        }
        if upgrade_pending && line.starts_with(b"220") {
            return Next::Upgrade;
        }
        Next::Continue
    }

    fn session(&self) -> Session {
        self.session
    }
}

#[derive(Default)]
pub struct Pop3 {
    session: Session,
    user: Option<Vec<u8>>,
    sasl: SaslLogin,
}

impl LineProtocol for Pop3 {
    const NAME: &'static str = "pop3";

    fn client_line(&mut self, line: &[u8], ctx: &mut Ctx<'_>) -> Next {
        if self.sasl.continue_with("pop3", line, ctx) {
            return Next::Continue;
        }
        if starts_with_ci(line, b"STLS") {
            return Next::UpgradeRequested;
        }
        if user_pass("pop3", &mut self.user, line, ctx)
            || self.sasl.start("pop3", b"AUTH", line, ctx)
        {
            self.session.sensitive_in_clear = true;
        } else if starts_with_ci(line, b"APOP ") {
            // RFC 1939 §7: an MD5 digest of the server's timestamp and the secret.
            self.session.sensitive_in_clear = true;
            let mut args = argument(line, b"APOP").splitn(2, |b| *b == b' ');
            let name = args.next();
            let digest = args.next().map_or(0, <[u8]>::len);
            ctx.emit(challenge_login("pop3", "APOP", name, digest));
        } else if starts_with_ci(line, b"RETR ") || starts_with_ci(line, b"TOP ") {
            self.session.sensitive_in_clear = true;
        }
        Next::Continue
    }

    fn server_line(&mut self, line: &[u8], upgrade_pending: bool, ctx: &mut Ctx<'_>) -> Next {
        if line == b"STLS" {
            self.session.upgrade_offered = true;
        }
        if upgrade_pending && line.starts_with(b"+OK") {
            return Next::Upgrade;
        }
        if !line.starts_with(b"+OK") && !line.starts_with(b"-ERR") {
            // Message content (RETR, TOP).
            ctx.scan(Field::Text, line);
        }
        Next::Continue
    }

    fn session(&self) -> Session {
        self.session
    }
}

/// An IMAP astring: quoted or atom. Returns (value, rest).
fn astring(data: &[u8]) -> (&[u8], &[u8]) {
    let data = data.trim_ascii_start();
    if let Some(rest) = data.strip_prefix(b"\"") {
        let end = rest.iter().position(|b| *b == b'"').unwrap_or(rest.len());
        (&rest[..end], rest.get(end + 1..).unwrap_or(b""))
    } else {
        let end = data.iter().position(|b| *b == b' ').unwrap_or(data.len());
        (&data[..end], &data[end..])
    }
}

#[derive(Default)]
pub struct Imap {
    session: Session,
    starttls_tag: Option<Vec<u8>>,
    sasl: SaslLogin,
}

impl LineProtocol for Imap {
    const NAME: &'static str = "imap";

    fn client_line(&mut self, line: &[u8], ctx: &mut Ctx<'_>) -> Next {
        if self.sasl.continue_with("imap", line, ctx) {
            return Next::Continue;
        }
        let Some(sp) = line.iter().position(|b| *b == b' ') else {
            return Next::Continue;
        };
        let (tag, command) = (&line[..sp], &line[sp + 1..]);
        if starts_with_ci(command, b"STARTTLS") {
            self.starttls_tag = Some(tag.to_vec());
            return Next::UpgradeRequested;
        }
        if starts_with_ci(command, b"LOGIN ") {
            self.session.sensitive_in_clear = true;
            let (user, rest) = astring(argument(command, b"LOGIN"));
            let (pass, _) = astring(rest);
            ctx.emit(login(
                "imap",
                "LOGIN",
                Some(user),
                String::from_utf8_lossy(pass).chars().count(),
            ));
        } else if self.sasl.start("imap", b"AUTHENTICATE", command, ctx)
            || starts_with_ci(command, b"FETCH")
            || starts_with_ci(command, b"UID FETCH")
        {
            self.session.sensitive_in_clear = true;
        }
        Next::Continue
    }

    fn server_line(&mut self, line: &[u8], upgrade_pending: bool, ctx: &mut Ctx<'_>) -> Next {
        if (line.starts_with(b"* ") || line.starts_with(b"* OK")) && contains_ci(line, b"STARTTLS")
        {
            self.session.upgrade_offered = true;
        }
        if upgrade_pending {
            if let Some(tag) = &self.starttls_tag {
                if line.starts_with(tag) && contains_ci(&line[tag.len()..], b" OK") {
                    return Next::Upgrade;
                }
            }
        }
        if !line.starts_with(b"* ") {
            ctx.scan(Field::Text, line);
        }
        Next::Continue
    }

    fn session(&self) -> Session {
        self.session
    }
}

#[derive(Default)]
pub struct Ftp {
    session: Session,
    user: Option<Vec<u8>>,
}

impl LineProtocol for Ftp {
    const NAME: &'static str = "ftp";

    fn client_line(&mut self, line: &[u8], ctx: &mut Ctx<'_>) -> Next {
        if starts_with_ci(line, b"AUTH TLS") || starts_with_ci(line, b"AUTH SSL") {
            return Next::UpgradeRequested;
        }
        // Anonymous FTP sends an e-mail address as its password by convention (RFC
        // 1635): no secret, but personal data in clear.
        let anonymous = self.user.as_deref().is_some_and(|u| {
            u.eq_ignore_ascii_case(b"anonymous") || u.eq_ignore_ascii_case(b"ftp")
        });
        if anonymous && starts_with_ci(line, b"PASS") {
            self.user = None;
            ctx.scan(Field::Text, argument(line, b"PASS"));
        } else if user_pass("ftp", &mut self.user, line, ctx) {
            self.session.sensitive_in_clear = true;
        }
        Next::Continue
    }

    fn server_line(&mut self, line: &[u8], upgrade_pending: bool, _ctx: &mut Ctx<'_>) -> Next {
        if contains_ci(line, b"AUTH TLS") && (line.starts_with(b" ") || line.starts_with(b"211")) {
            self.session.upgrade_offered = true;
        }
        if upgrade_pending && line.starts_with(b"234") {
            return Next::Upgrade;
        }
        Next::Continue
    }

    fn session(&self) -> Session {
        self.session
    }
}

pub const SMTP: Registration = Registration {
    app_proto: AppProto::Smtp,
    l4: L4::Tcp,
    ports: &[25, 587, 2525],
    probe: probe_smtp,
    start: || Box::new(LineDissector::new(Smtp::default())),
};

pub const FTP: Registration = Registration {
    app_proto: AppProto::Ftp,
    l4: L4::Tcp,
    ports: &[21],
    probe: probe_ftp,
    start: || Box::new(LineDissector::new(Ftp::default())),
};

pub const POP3: Registration = Registration {
    app_proto: AppProto::Pop3,
    l4: L4::Tcp,
    ports: &[110],
    probe: probe_pop3,
    start: || Box::new(LineDissector::new(Pop3::default())),
};

pub const IMAP: Registration = Registration {
    app_proto: AppProto::Imap,
    l4: L4::Tcp,
    ports: &[143],
    probe: probe_imap,
    start: || Box::new(LineDissector::new(Imap::default())),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Direction::{ToClient as DOWN, ToServer as UP};
    use crate::protocols::fact::{Credential, CredentialForm, PersonalData};
    use crate::protocols::Dissector;
    use crate::protocols::{testing::with_ctx, AppProto, Fact};

    fn run<P: LineProtocol>(p: P, script: &[(crate::flow::Direction, &[u8])]) -> (Vec<Fact>, bool) {
        let mut d = LineDissector::new(p);
        let facts = with_ctx(AppProto::Failed, |ctx| {
            for (dir, data) in script {
                d.on_data(*dir, data, ctx);
            }
            d.on_end(ctx);
        });
        let tls = d.finished() || d.encrypted();
        (facts, tls)
    }

    fn logins(facts: &[Fact]) -> Vec<(&str, Option<&str>, usize)> {
        facts
            .iter()
            .filter_map(|f| match f {
                Fact::Credential(Credential {
                    form: CredentialForm::Login { method, .. },
                    user,
                    secret_len,
                    ..
                }) => Some((*method, user.as_deref(), *secret_len)),
                _ => None,
            })
            .collect()
    }

    fn challenge(facts: &[Fact]) -> Vec<bool> {
        facts
            .iter()
            .filter_map(|f| match f {
                Fact::Credential(l) => Some(l.challenge_response),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn anonymous_ftp_password_is_personal_data_not_a_credential() {
        let (facts, _) = run(
            Ftp::default(),
            &[
                (DOWN, b"220 Welcome\r\n"),
                (UP, b"USER anonymous\r\n"),
                (UP, b"PASS jane.doe@example.com\r\n"),
            ],
        );
        assert!(logins(&facts).is_empty(), "{facts:?}");
        assert!(
            matches!(facts.as_slice(), [Fact::PersonalData(PersonalData { matches: m, .. })] if m[0].evidence == "j***@example.com"),
            "{facts:?}"
        );
        let (facts, _) = run(
            Ftp::default(),
            &[(UP, b"USER jane\r\n"), (UP, b"PASS s3cret\r\n")],
        );
        assert_eq!(logins(&facts), vec![("USER/PASS", Some("jane"), 6)]);
    }

    #[test]
    fn pop3_sasl_and_cram_md5_everywhere() {
        // POP3 AUTH PLAIN (initial response on the next line) and AUTH LOGIN (RFC 5034).
        let (facts, _) = run(
            Pop3::default(),
            &[
                (DOWN, b"+OK ready\r\n"),
                (UP, b"AUTH PLAIN\r\n"),
                (DOWN, b"+ \r\n"),
                (UP, b"AGphbmUAc2VjcmV0\r\n"),
                (UP, b"AUTH LOGIN\r\namFuZQ==\r\ncHcxMg==\r\n"),
            ],
        );
        assert_eq!(
            logins(&facts),
            vec![
                ("AUTH PLAIN", Some("jane"), 6),
                ("AUTH LOGIN", Some("jane"), 4)
            ]
        );
        assert_eq!(challenge(&facts), vec![false, false]);
        // CRAM-MD5 (RFC 2195 §2): base64("tim b913a602c7eda7a495b4e6e7334d3890").
        let cram = b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n";
        for (facts, method) in [
            (
                run(
                    Smtp::default(),
                    &[
                        (UP, b"AUTH CRAM-MD5\r\n"),
                        (
                            DOWN,
                            b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
                        ),
                        (UP, cram),
                    ],
                )
                .0,
                "AUTH CRAM-MD5",
            ),
            (
                run(
                    Imap::default(),
                    &[(UP, b"a1 AUTHENTICATE CRAM-MD5\r\n"), (UP, cram)],
                )
                .0,
                "AUTHENTICATE CRAM-MD5",
            ),
            (
                run(Pop3::default(), &[(UP, b"AUTH CRAM-MD5\r\n"), (UP, cram)]).0,
                "AUTH CRAM-MD5",
            ),
        ] {
            assert_eq!(logins(&facts), vec![(method, Some("tim"), 32)]);
            assert_eq!(challenge(&facts), vec![true]);
        }
        // A cancelled exchange ("*") leaves nothing behind.
        let (facts, _) = run(Smtp::default(), &[(UP, b"AUTH LOGIN\r\n*\r\nQUIT\r\n")]);
        assert!(logins(&facts).is_empty());
    }

    #[test]
    fn smtp_auth_plain_and_login_then_mail() {
        // \0jane\0secret and LOGIN jane / pw12
        let (facts, _) = run(
            Smtp::default(),
            &[
                (DOWN, b"220 mx ESMTP\r\n"),
                (UP, b"EHLO c\r\n"),
                (DOWN, b"250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"),
                (UP, b"AUTH PLAIN AGphbmUAc2VjcmV0\r\n"),
                (UP, b"AUTH LOGIN\r\n"),
                (UP, b"amFuZQ==\r\ncHcxMg==\r\n"),
                (UP, b"MAIL FROM:<jane.doe@example.com>\r\nDATA\r\n"),
                (
                    UP,
                    b"Subject: hi\r\n\r\ncard 4111 1111 1111 1111\r\n.\r\nQUIT\r\n",
                ),
            ],
        );
        assert_eq!(
            logins(&facts),
            vec![
                ("AUTH PLAIN", Some("jane"), 6),
                ("AUTH LOGIN", Some("jane"), 4)
            ]
        );
        assert!(facts.iter().any(|f| matches!(f, Fact::UpgradeRefused)));
        assert_eq!(
            facts
                .iter()
                .filter(|f| matches!(f, Fact::PersonalData(_)))
                .count(),
            2
        );
    }

    #[test]
    fn smtp_starttls_hands_over_to_tls() {
        let (facts, tls) = run(
            Smtp::default(),
            &[
                (DOWN, b"220 mx ESMTP\r\n"),
                (UP, b"EHLO c\r\n"),
                (DOWN, b"250-mx\r\n250 STARTTLS\r\n"),
                (UP, b"STARTTLS\r\n"),
                (DOWN, b"220 go ahead\r\n"),
                (UP, &[22, 3, 1, 0, 5, 1, 0, 0, 1, 0]),
            ],
        );
        assert!(!facts.iter().any(|f| matches!(f, Fact::UpgradeRefused)));
        let _ = tls;
    }

    #[test]
    fn pop3_imap_ftp_logins() {
        let (facts, _) = run(
            Pop3::default(),
            &[
                (DOWN, b"+OK ready\r\n"),
                (UP, b"USER jane\r\nPASS hunter22\r\n"),
            ],
        );
        assert_eq!(logins(&facts), vec![("USER/PASS", Some("jane"), 8)]);
        let (facts, _) = run(
            Imap::default(),
            &[(UP, b"a1 LOGIN \"jane doe\" \"pw pw\"\r\n")],
        );
        assert_eq!(logins(&facts), vec![("LOGIN", Some("jane doe"), 5)]);
        let (facts, _) = run(
            Ftp::default(),
            &[
                (DOWN, b"220 FTP\r\n"),
                (UP, b"USER anonymous\r\nPASS a@b.c\r\n"),
            ],
        );
        // Anonymous: the e-mail "password" is personal data, not a credential.
        assert!(logins(&facts).is_empty());
    }

    #[test]
    fn probes() {
        assert_eq!(
            probe_smtp(b"220 mx.example ESMTP Postfix\r\n"),
            Probe::Match
        );
        assert_eq!(probe_ftp(b"220 ProFTPD Server\r\n"), Probe::Match);
        assert_eq!(probe_smtp(b"220 ProFTPD Server\r\n"), Probe::NoMatch);
        assert_eq!(probe_pop3(b"+OK POP3 ready\r\n"), Probe::Match);
        assert_eq!(probe_imap(b"* OK IMAP4rev1\r\n"), Probe::Match);
        assert_eq!(probe_imap(b"a001 LOGIN x y\r\n"), Probe::Match);
        assert_eq!(probe_imap(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
