//! Telnet (RFC 854): option negotiation stripped, the login dialogue followed so that
//! a user name and password typed in clear are reported (never shown).

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::Field;
use crate::protocols::login::login;
use crate::protocols::{AppProto, Dissector, Registration};
use crate::protocols::{Ctx, Probe};

const IAC: u8 = 255;
/// Our own cap on a line of keystrokes or output.
const MAX_LINE: usize = 4096;

/// Option negotiation first: IAC followed by WILL, WONT, DO or DONT.
pub fn probe_telnet(data: &[u8]) -> Probe {
    match data {
        [IAC, 251..=254, ..] => Probe::Match,
        [IAC] => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Prompt {
    #[default]
    None,
    Login,
    Password,
}

#[derive(Default)]
pub struct TelnetDissector {
    lines: [Vec<u8>; 2],
    /// Bytes of an IAC sequence still to skip per direction.
    skip: [usize; 2],
    prompt: Prompt,
    user: Option<Vec<u8>>,
}

impl TelnetDissector {
    fn push(&mut self, dir: Direction, b: u8, ctx: &mut Ctx<'_>) {
        let d = dir.index();
        if b == b'\r' || b == b'\n' || b == 0 {
            if !self.lines[d].is_empty() {
                let line = std::mem::take(&mut self.lines[d]);
                self.on_line(dir, &line, ctx);
            }
            return;
        }
        if self.lines[d].len() < MAX_LINE {
            self.lines[d].push(b);
        }
    }

    fn on_line(&mut self, dir: Direction, line: &[u8], ctx: &mut Ctx<'_>) {
        match (dir, self.prompt) {
            (Direction::ToServer, Prompt::Login) => {
                self.user = Some(line.to_vec());
                self.prompt = Prompt::None;
            }
            (Direction::ToServer, Prompt::Password) => {
                ctx.emit(login(
                    "telnet",
                    "login",
                    self.user.take().as_deref(),
                    String::from_utf8_lossy(line).chars().count(),
                ));
                self.prompt = Prompt::None;
            }
            (Direction::ToClient, _) => ctx.scan(Field::Text, line),
            _ => {}
        }
    }
}

impl Dissector for TelnetDissector {
    /// A hole in the stream: the partial line is gone.
    fn on_gap(&mut self, dir: Direction) {
        self.lines[dir.index()] = Vec::new();
        self.skip[dir.index()] = 0;
    }

    /// Bytes of partial lines held (the engine's memory budget).
    fn buffered(&self) -> usize {
        crate::protocols::held_bytes(&self.lines)
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        let d = dir.index();
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            i += 1;
            if self.skip[d] > 0 {
                self.skip[d] -= 1;
                continue;
            }
            if b == IAC {
                // IAC cmd [option]; subnegotiation (SB … IAC SE) skipped up to SE.
                match data.get(i).copied() {
                    Some(251..=254) => self.skip[d] = 2,
                    Some(250) => {
                        let end = data[i..]
                            .windows(2)
                            .position(|w| w == [IAC, 240])
                            .map_or(data.len(), |p| i + p + 2);
                        i = end;
                    }
                    Some(IAC) => {
                        self.push(dir, IAC, ctx);
                        i += 1;
                    }
                    _ => self.skip[d] = 1,
                }
                continue;
            }
            self.push(dir, b, ctx);
        }
        // Prompts come without a line end.
        if dir == Direction::ToClient {
            let pending = String::from_utf8_lossy(&self.lines[d]).to_ascii_lowercase();
            let pending = pending.trim_end();
            if pending.ends_with("login:")
                || pending.ends_with("username:")
                || pending.ends_with("user:")
            {
                self.prompt = Prompt::Login;
            } else if pending.ends_with("password:") {
                self.prompt = Prompt::Password;
            }
        }
    }
}

pub const TELNET: Registration = Registration {
    app_proto: AppProto::Telnet,
    l4: L4::Tcp,
    ports: &[23, 2323],
    probe: probe_telnet,
    start: || Box::new(TelnetDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::{testing::with_ctx, AppProto, Fact};

    #[test]
    fn login_dialogue() {
        let mut d = TelnetDissector::default();
        let facts = with_ctx(AppProto::Failed, |ctx| {
            d.on_data(
                Direction::ToClient,
                &[IAC, 253, 24, IAC, 250, 24, 1, IAC, 240],
                ctx,
            );
            d.on_data(Direction::ToClient, b"\r\nhost login: ", ctx);
            for b in b"jane\r\n" {
                d.on_data(Direction::ToServer, std::slice::from_ref(b), ctx);
            }
            d.on_data(Direction::ToClient, b"Password: ", ctx);
            d.on_data(Direction::ToServer, b"s3cret!\r\n", ctx);
        });
        let logins: Vec<(Option<&str>, usize)> = facts
            .iter()
            .filter_map(|f| match f {
                Fact::Credential(l) => Some((l.user.as_deref(), l.secret_len)),
                _ => None,
            })
            .collect();
        assert_eq!(logins, vec![(Some("jane"), 7)]);
        assert_eq!(probe_telnet(&[IAC, 253, 1]), Probe::Match);
    }
}
