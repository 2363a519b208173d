//! Syslog: RFC 3164 and RFC 5424 messages over UDP, and over TCP with octet counting
//! or LF framing (RFC 6587). Message text goes to the personal-data scanner.

use crate::flow::{Direction, L4};
use crate::personal_data::Field;
use crate::protocols::{AppProto, Dissector, Registration};
use crate::protocols::{Ctx, Probe};

/// Our own cap on one message (RFC 5425 §4.3.1 requires 2048, allows more).
const MAX_MESSAGE: usize = 64 * 1024;

/// `<PRI>` with PRI 0–191 (RFC 5424 §6.2.1), optionally after an octet count.
fn priority_at(data: &[u8]) -> Option<usize> {
    let rest = data.strip_prefix(b"<")?;
    let end = rest.iter().take(4).position(|b| *b == b'>')?;
    let pri: u16 = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    (end > 0 && pri <= 191).then_some(end + 2)
}

pub fn probe_syslog(data: &[u8]) -> Probe {
    let body = match data.iter().position(|b| *b == b' ') {
        // Octet counting: "123 <34>1 …"
        Some(sp) if sp > 0 && data[..sp].iter().all(u8::is_ascii_digit) => &data[sp + 1..],
        _ => data,
    };
    match priority_at(body) {
        Some(_) => Probe::Match,
        None if body.len() < 5 && body.first().is_none_or(|b| *b == b'<') => Probe::NeedMore,
        None => Probe::NoMatch,
    }
}

pub struct SyslogDissector {
    l4: L4,
    pending: Vec<u8>,
}

impl SyslogDissector {
    pub fn new(l4: L4) -> Self {
        SyslogDissector {
            l4,
            pending: Vec::new(),
        }
    }

    fn message(msg: &[u8], ctx: &mut Ctx<'_>) {
        let text = priority_at(msg).map_or(msg, |at| &msg[at..]);
        ctx.scan(Field::Text, text);
    }
}

impl Dissector for SyslogDissector {
    fn on_gap(&mut self, _dir: Direction) {
        self.pending = Vec::new();
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        self.pending.capacity()
    }

    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if dir != Direction::ToServer {
            return;
        }
        if self.l4 == L4::Udp {
            return Self::message(data, ctx);
        }
        self.pending.extend_from_slice(data);
        let mut used = 0;
        loop {
            let rest = &self.pending[used..];
            let rest_trimmed = rest
                .iter()
                .position(|b| !matches!(b, b'\n' | b'\r' | 0))
                .map_or(&rest[rest.len()..], |p| &rest[p..]);
            used += rest.len() - rest_trimmed.len();
            let rest = rest_trimmed;
            if rest.is_empty() {
                break;
            }
            let sp = rest.iter().take(8).position(|b| *b == b' ');
            let counted = sp.filter(|&sp| sp > 0 && rest[..sp].iter().all(u8::is_ascii_digit));
            if let Some(sp) = counted {
                // RFC 6587 §3.4.1 octet counting.
                let len: usize = std::str::from_utf8(&rest[..sp])
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(usize::MAX);
                if len > MAX_MESSAGE {
                    self.pending.clear();
                    return;
                }
                let Some(msg) = rest.get(sp + 1..sp + 1 + len) else {
                    break;
                };
                Self::message(msg, ctx);
                used += sp + 1 + len;
            } else {
                // RFC 6587 §3.4.2 non-transparent framing: LF (or NUL) ends a message.
                let Some(end) = rest.iter().position(|b| matches!(b, b'\n' | 0)) else {
                    break;
                };
                Self::message(&rest[..end], ctx);
                used += end + 1;
            }
        }
        self.pending.drain(..used.min(self.pending.len()));
        if self.pending.len() > MAX_MESSAGE {
            self.pending.clear();
        }
    }
}

pub const SYSLOG_UDP: Registration = Registration {
    app_proto: AppProto::Syslog,
    l4: L4::Udp,
    ports: &[514],
    probe: probe_syslog,
    start: || Box::new(SyslogDissector::new(L4::Udp)),
};

pub const SYSLOG_TCP: Registration = Registration {
    app_proto: AppProto::Syslog,
    l4: L4::Tcp,
    ports: &[514, 601, 6601],
    probe: probe_syslog,
    start: || Box::new(SyslogDissector::new(L4::Tcp)),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::{testing::with_ctx, AppProto, Fact};

    #[test]
    fn framings() {
        assert_eq!(
            probe_syslog(b"<34>Oct 11 22:14:15 host su: x"),
            Probe::Match
        );
        assert_eq!(
            probe_syslog(b"87 <165>1 2003-10-11T22:14:15Z h a - - - x"),
            Probe::Match
        );
        assert_eq!(probe_syslog(b"<999>x"), Probe::NoMatch);
        let mut d = SyslogDissector::new(L4::Tcp);
        let first = b"<13>1 - h a - - - mail jane.doe@example.com";
        let mut stream = format!("{} ", first.len()).into_bytes();
        stream.extend_from_slice(first);
        stream.extend_from_slice(b"<13>Oct 1 h a: call +44 1632 960961\n");
        let facts = with_ctx(AppProto::Failed, |ctx| {
            let (a, b) = stream.split_at(30);
            d.on_data(Direction::ToServer, a, ctx);
            d.on_data(Direction::ToServer, b, ctx);
        });
        assert_eq!(
            facts
                .iter()
                .filter(|f| matches!(f, Fact::PersonalData(_)))
                .count(),
            2
        );
    }
}
