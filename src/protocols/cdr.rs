//! Call detail records (CDR / SMDR) streamed by PBXs to call-accounting systems: text
//! lines, fixed-width and digit-heavy, starting with a date and a time, on vendor or
//! site-specific TCP ports. Each line goes to the personal-data scanner.

use crate::flow::Direction;
use crate::flow::L4;
use crate::personal_data::Field;
use crate::protocols::{AppProto, Dissector, Registration};
use crate::protocols::{Ctx, Probe};

/// Our own cap on one record line.
const MAX_LINE: usize = 4096;

/// `yyyy/mm/dd`, `dd/mm/yy`, `yyyy-mm-dd` … : digits and one separator kind.
fn looks_like_date(word: &str) -> bool {
    let sep = if word.contains('/') { '/' } else { '-' };
    let parts: Vec<&str> = word.split(sep).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| (1..=4).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()))
}

fn looks_like_time(word: &str) -> bool {
    let parts: Vec<&str> = word.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_digit()))
}

/// A first line with a date, a time and at least a third of its characters digits.
pub fn probe_cdr(data: &[u8]) -> Probe {
    let Some(end) = memchr::memchr(b'\n', data) else {
        return if data.len() < 256 {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    // Digits are ASCII: the bytes hold as many as the text read from them, which is
    // never shorter. Most lines probed (every TCP flow's first) fail this, and need no
    // copy.
    let digits = data[..end].iter().filter(|b| b.is_ascii_digit()).count();
    if digits * 3 < end {
        return Probe::NoMatch;
    }
    let line = String::from_utf8_lossy(&data[..end]);
    let words: Vec<&str> = line.split_whitespace().take(4).collect();
    let dated =
        words.iter().any(|w| looks_like_date(w)) && words.iter().any(|w| looks_like_time(w));
    if dated && digits * 3 >= line.len() {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

#[derive(Default)]
pub struct CdrDissector {
    pending: Vec<u8>,
}

impl Dissector for CdrDissector {
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
        self.pending.extend_from_slice(data);
        let mut used = 0;
        while let Some(nl) = memchr::memchr(b'\n', &self.pending[used..]) {
            ctx.scan(Field::Text, &self.pending[used..used + nl]);
            used += nl + 1;
        }
        self.pending.drain(..used);
        if self.pending.len() > MAX_LINE {
            self.pending.clear();
        }
    }
}

pub const CDR: Registration = Registration {
    app_proto: AppProto::Cdr,
    l4: L4::Tcp,
    ports: &[1752],
    probe: probe_cdr,
    start: || Box::new(CdrDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smdr_lines() {
        assert_eq!(
            probe_cdr(b"2026/11/22 20:51 00:02:31 T001 +441632960961 EXT 2001\r\n"),
            Probe::Match
        );
        assert_eq!(probe_cdr(b"GET /2026/11/22 HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe_cdr(b"2026/11/22"), Probe::NeedMore);
    }
}
