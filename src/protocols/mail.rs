//! SMTP (RFC 5321, STARTTLS RFC 3207, AUTH RFC 4954), POP3 (RFC 1939, STLS RFC 2595),
//! IMAP (RFC 3501) and FTP (RFC 959, AUTH TLS RFC 4217): logins, mail content and
//! the TLS upgrade. Framing and the upgrade itself are `lines::LineDissector`'s.

use base64::Engine as _;

use crate::personal_data::Field;
use crate::protocols::lines::{
    argument, login, starts_with_ci, user_pass, LineProtocol, Next, Session,
};
use crate::protocols::{Ctx, Probe};

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

/// `220 … FTP` greeting, or a client's AUTH TLS / FEAT.
pub fn probe_ftp(data: &[u8]) -> Probe {
    let line = data.split(|b| *b == b'\n').next().unwrap_or(b"");
    if (data.starts_with(b"220") && contains_ci(line, b"FTP"))
        || starts_with_any(data, &[b"AUTH TLS", b"AUTH SSL", b"FEAT\r\n"])
    {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum SmtpAuth {
    #[default]
    None,
    PlainPending,
    LoginUser,
    LoginPass,
}

#[derive(Default)]
pub struct Smtp {
    session: Session,
    in_data: bool,
    auth: SmtpAuth,
    login_user: Option<Vec<u8>>,
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
        match self.auth {
            SmtpAuth::PlainPending => {
                self.auth = SmtpAuth::None;
                if let Some((user, len)) = b64(line).as_deref().and_then(sasl_plain) {
                    ctx.emit(login("smtp", "AUTH PLAIN", Some(&user), len));
                }
                return Next::Continue;
            }
            SmtpAuth::LoginUser => {
                self.login_user = b64(line);
                self.auth = SmtpAuth::LoginPass;
                return Next::Continue;
            }
            SmtpAuth::LoginPass => {
                self.auth = SmtpAuth::None;
                let len =
                    b64(line).map_or(line.len(), |p| String::from_utf8_lossy(&p).chars().count());
                ctx.emit(login(
                    "smtp",
                    "AUTH LOGIN",
                    self.login_user.take().as_deref(),
                    len,
                ));
                return Next::Continue;
            }
            SmtpAuth::None => {}
        }
        if starts_with_ci(line, b"STARTTLS") {
            return Next::UpgradeRequested;
        }
        if starts_with_ci(line, b"AUTH PLAIN") {
            self.session.sensitive_in_clear = true;
            let initial = argument(line, b"AUTH PLAIN");
            match b64(initial).as_deref().and_then(sasl_plain) {
                Some((user, len)) => ctx.emit(login("smtp", "AUTH PLAIN", Some(&user), len)),
                None => self.auth = SmtpAuth::PlainPending,
            }
        } else if starts_with_ci(line, b"AUTH LOGIN") {
            self.session.sensitive_in_clear = true;
            let initial = argument(line, b"AUTH LOGIN");
            if initial.is_empty() {
                self.auth = SmtpAuth::LoginUser;
            } else {
                self.login_user = b64(initial);
                self.auth = SmtpAuth::LoginPass;
            }
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
}

impl LineProtocol for Pop3 {
    const NAME: &'static str = "pop3";

    fn client_line(&mut self, line: &[u8], ctx: &mut Ctx<'_>) -> Next {
        if starts_with_ci(line, b"STLS") {
            return Next::UpgradeRequested;
        }
        if user_pass("pop3", &mut self.user, line, ctx) {
            self.session.sensitive_in_clear = true;
        } else if starts_with_ci(line, b"APOP ") {
            self.session.sensitive_in_clear = true;
            let mut args = argument(line, b"APOP").splitn(2, |b| *b == b' ');
            let name = args.next();
            let digest = args.next().map_or(0, <[u8]>::len);
            ctx.emit(login("pop3", "APOP", name, digest));
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
    authenticate_plain: bool,
}

impl LineProtocol for Imap {
    const NAME: &'static str = "imap";

    fn client_line(&mut self, line: &[u8], ctx: &mut Ctx<'_>) -> Next {
        if std::mem::take(&mut self.authenticate_plain) {
            if let Some((user, len)) = b64(line).as_deref().and_then(sasl_plain) {
                ctx.emit(login("imap", "AUTHENTICATE PLAIN", Some(&user), len));
            }
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
        } else if starts_with_ci(command, b"AUTHENTICATE PLAIN") {
            self.session.sensitive_in_clear = true;
            match b64(argument(command, b"AUTHENTICATE PLAIN"))
                .as_deref()
                .and_then(sasl_plain)
            {
                Some((user, len)) => {
                    ctx.emit(login("imap", "AUTHENTICATE PLAIN", Some(&user), len))
                }
                None => self.authenticate_plain = true,
            }
        } else if starts_with_ci(command, b"FETCH") || starts_with_ci(command, b"UID FETCH") {
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
        // Anonymous FTP sends an e-mail address as password by convention: still a
        // password field on the wire.
        if user_pass("ftp", &mut self.user, line, ctx) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Direction::{ToClient as DOWN, ToServer as UP};
    use crate::protocols::lines::LineDissector;
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
                Fact::Login(l) => Some((l.method, l.user.as_deref(), l.secret_len)),
                _ => None,
            })
            .collect()
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
        assert!(facts
            .iter()
            .any(|f| matches!(f, Fact::StartTlsNotUsed { protocol: "smtp" })));
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
        assert!(!facts
            .iter()
            .any(|f| matches!(f, Fact::StartTlsNotUsed { .. })));
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
        assert_eq!(logins(&facts), vec![("USER/PASS", Some("anonymous"), 5)]);
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
