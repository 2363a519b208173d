//! Line-based protocols with a TLS upgrade: SMTP, POP3, IMAP, FTP. The framing
//! (CRLF lines, bounded), the hand-over to TLS after STARTTLS / STLS / AUTH TLS (the same
//! TLS dissector as on any port), and the "offered but not used" check live here once;
//! each protocol only says what its lines mean.

use crate::flow::Direction;
use crate::protocols::login::login;
use crate::protocols::tls::TlsDissector;
use crate::protocols::{held_bytes, Ctx, Dissector, Fact};

/// Our own cap on one line (RFC 5321 §4.5.3.1.6: 1000 octets for SMTP text lines; IMAP
/// literals and FTP are longer at times).
const MAX_LINE: usize = 8192;

/// What a protocol asks of the framework after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// The client asked to start TLS; wait for the server's answer.
    UpgradeRequested,
    /// The server accepted: everything after this line, both ways, is TLS.
    Upgrade,
}

/// What every line protocol tracks for rule 6003.
#[derive(Clone, Copy, Debug, Default)]
pub struct Session {
    /// The server advertised the upgrade (EHLO STARTTLS, CAPA STLS, CAPABILITY
    /// STARTTLS, FEAT AUTH TLS).
    pub upgrade_offered: bool,
    /// The client did something that should have happened inside TLS (login, mail).
    pub sensitive_in_clear: bool,
}

/// The meaning of lines, per protocol.
pub trait LineProtocol: Send {
    const NAME: &'static str;
    fn client_line(&mut self, line: &[u8], ctx: &mut Ctx<'_>) -> Next;
    fn server_line(&mut self, line: &[u8], upgrade_pending: bool, ctx: &mut Ctx<'_>) -> Next;
    fn session(&self) -> Session;
}

/// `USER name` then `PASS secret` (POP3 RFC 1939 §7, FTP RFC 959 §4.1.1): true when
/// the line was one of them.
pub fn user_pass(
    protocol: &'static str,
    user: &mut Option<Vec<u8>>,
    line: &[u8],
    ctx: &mut Ctx<'_>,
) -> bool {
    if starts_with_ci(line, b"USER ") {
        *user = Some(argument(line, b"USER").to_vec());
        true
    } else if starts_with_ci(line, b"PASS") {
        let pass = argument(line, b"PASS");
        ctx.emit(login(
            protocol,
            "USER/PASS",
            user.take().as_deref(),
            String::from_utf8_lossy(pass).chars().count(),
        ));
        true
    } else {
        false
    }
}

pub struct LineDissector<P> {
    pub protocol: P,
    pending: [Vec<u8>; 2],
    upgrade_requested: bool,
    tls: Option<TlsDissector>,
    lost: [bool; 2],
}

impl<P: LineProtocol> LineDissector<P> {
    pub fn new(protocol: P) -> Self {
        LineDissector {
            protocol,
            pending: Default::default(),
            upgrade_requested: false,
            tls: None,
            lost: [false; 2],
        }
    }
}

impl<P: LineProtocol> Dissector for LineDissector<P> {
    fn encrypted(&self) -> bool {
        self.tls.as_ref().is_some_and(TlsDissector::encrypted)
    }

    fn finished(&self) -> bool {
        self.tls.as_ref().is_some_and(TlsDissector::finished)
    }

    fn on_gap(&mut self, dir: Direction) {
        match &mut self.tls {
            Some(tls) => tls.on_gap(dir),
            None => {
                self.pending[dir.index()] = Vec::new();
                self.lost[dir.index()] = true;
            }
        }
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        held_bytes(&self.pending) + self.tls.as_ref().map_or(0, TlsDissector::buffered)
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if let Some(tls) = &mut self.tls {
            return tls.on_data(dir, data, ctx);
        }
        let d = dir.index();
        let mut rest = data;
        while !rest.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                let pending = &mut self.pending[d];
                if pending.len() + rest.len() > MAX_LINE {
                    // An over-long line: drop it, resume at the next line end.
                    pending.clear();
                    self.lost[d] = true;
                } else {
                    pending.extend_from_slice(rest);
                }
                return;
            };
            let mut line = std::mem::take(&mut self.pending[d]);
            line.extend_from_slice(&rest[..nl]);
            rest = &rest[nl + 1..];
            if std::mem::take(&mut self.lost[d]) {
                continue;
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let next = match dir {
                Direction::ToServer => self.protocol.client_line(&line, ctx),
                Direction::ToClient => {
                    self.protocol
                        .server_line(&line, self.upgrade_requested, ctx)
                }
            };
            match next {
                // The server answered the upgrade request with anything but yes.
                Next::Continue if dir == Direction::ToClient => self.upgrade_requested = false,
                Next::Continue => {}
                Next::UpgradeRequested => self.upgrade_requested = true,
                Next::Upgrade => {
                    let mut tls = TlsDissector::stream();
                    // Bytes after the accepting line already belong to TLS.
                    if !rest.is_empty() {
                        tls.on_data(dir, rest, ctx);
                    }
                    self.tls = Some(tls);
                    return;
                }
            }
        }
    }

    /// The session ended: an upgrade the server offered and the client never took,
    /// while logging in or sending mail in clear, is rule 6003.
    fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        let session = self.protocol.session();
        if self.tls.is_none() && session.upgrade_offered && session.sensitive_in_clear {
            ctx.emit(Fact::UpgradeRefused);
        }
    }
}

/// Case-insensitive prefix test for protocol keywords.
pub fn starts_with_ci(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The rest of a line after a keyword and spaces.
pub fn argument<'a>(line: &'a [u8], keyword: &[u8]) -> &'a [u8] {
    let rest = line.get(keyword.len()..).unwrap_or(b"");
    let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    &rest[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(starts_with_ci(b"ehlo x", b"EHLO"));
        assert_eq!(argument(b"USER   jane", b"USER"), b"jane");
        assert_eq!(argument(b"PASS", b"PASS"), b"");
    }
}
