//! SIP message syntax (RFC 3261 §7, §20, §25): start line, headers with their compact
//! forms, body; framing of a TCP stream by Content-Length; name-addr values.

use super::MAX_MESSAGE;

#[derive(Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a [u8] },
    Response { code: u16 },
}

#[derive(Debug)]
pub struct Message<'a> {
    pub start: StartLine<'a>,
    /// (name, value) in order; folded lines are joined by the parser's caller seeing
    /// only the first line (rare in practice, deprecated by RFC 3261 §7.3.1).
    headers: Vec<(&'a [u8], &'a [u8])>,
    pub body: &'a [u8],
}

/// RFC 3261 §7.3.3 compact forms.
const COMPACT: [(&str, &str); 13] = [
    ("f", "from"),
    ("t", "to"),
    ("m", "contact"),
    ("i", "call-id"),
    ("c", "content-type"),
    ("l", "content-length"),
    ("b", "referred-by"),
    ("v", "via"),
    ("k", "supported"),
    ("s", "subject"),
    ("o", "event"),
    ("u", "allow-events"),
    ("r", "refer-to"),
];

/// Headers whose values name or number a party (RFC 3261, 3325, 5806, 7044, 3892).
pub const IDENTITY_HEADERS: [&[&str]; 9] = [
    &["from", "f"],
    &["to", "t"],
    &["p-asserted-identity"],
    &["p-preferred-identity"],
    &["remote-party-id"],
    &["contact", "m"],
    &["diversion"],
    &["history-info"],
    &["referred-by", "b"],
];

/// Display names that stand for "no identity" (RFC 3323 §4.1.1.3 and common usage).
const PLACEHOLDER_NAMES: [&str; 7] = [
    "anonymous",
    "unknown",
    "unavailable",
    "restricted",
    "private",
    "withheld",
    "asterisk",
];

impl<'a> Message<'a> {
    /// Values of the headers called any of `names` (lower case, compact forms included
    /// by the caller).
    pub fn headers_named<'s>(
        &'s self,
        names: &'s [&'s str],
    ) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| names.iter().any(|w| n.eq_ignore_ascii_case(w.as_bytes())))
            .map(|(_, v)| *v)
    }

    pub fn header(&self, names: &[&str]) -> Option<&'a [u8]> {
        self.headers_named(names).next()
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn parse_start(line: &[u8]) -> Option<StartLine<'_>> {
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        let code = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
        return Some(StartLine::Response { code });
    }
    let mut parts = line.split(|b| *b == b' ');
    let method = parts.next()?;
    let _uri = parts.next()?;
    let version = parts.next()?;
    if method.is_empty()
        || !method.iter().all(u8::is_ascii_uppercase)
        || !version.starts_with(b"SIP/2.0")
    {
        return None;
    }
    Some(StartLine::Request { method })
}

/// End of the head (after the blank line), accepting bare LF line ends.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    head.split(|b| *b == b'\n').find_map(|line| {
        let (name, value) = split_header(line)?;
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            std::str::from_utf8(value).ok()?.trim().parse().ok()
        } else {
            None
        }
    })
}

fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    let name = trim(&line[..colon]);
    if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    Some((name, trim(&line[colon + 1..])))
}

/// Length of the first message of a TCP stream: `None` until it is all there,
/// `Err` when the bytes are not SIP or exceed our cap.
pub fn frame_len(buf: &[u8]) -> Option<Result<usize, ()>> {
    let Some(end) = head_end(buf) else {
        return (buf.len() > MAX_MESSAGE).then_some(Err(()));
    };
    let first_line = buf.split(|b| *b == b'\n').next().map(trim)?;
    if parse_start(first_line).is_none() {
        return Some(Err(()));
    }
    // RFC 3261 §18.3: Content-Length is mandatory on stream transports; absent means 0.
    let total = end.checked_add(content_length(&buf[..end]).unwrap_or(0))?;
    if total > MAX_MESSAGE {
        return Some(Err(()));
    }
    (buf.len() >= total).then_some(Ok(total))
}

/// What an incomplete frame (`frame_len` gave `None`) waits for: `Some(total)` once
/// its head is there, `None` while the head's end is still to come.
pub fn frame_needs(buf: &[u8]) -> Option<usize> {
    let end = head_end(buf)?;
    Some(end.saturating_add(content_length(&buf[..end]).unwrap_or(0)))
}

/// Whether the end of a head is in `buf` at or after `from` (minus the three bytes a
/// terminator may straddle).
pub fn head_ends_after(buf: &[u8], from: usize) -> bool {
    buf.get(from.saturating_sub(3)..)
        .is_some_and(|tail| head_end(tail).is_some())
}

/// Parses one whole message (a datagram, or a frame from `frame_len`).
pub fn parse_message(buf: &[u8]) -> Option<Message<'_>> {
    let end = head_end(buf).unwrap_or(buf.len());
    let head = &buf[..end];
    let mut lines = head.split(|b| *b == b'\n').map(trim);
    let start = parse_start(lines.next()?)?;
    let headers: Vec<(&[u8], &[u8])> = lines
        .filter_map(split_header)
        .map(|(name, value)| {
            let full = COMPACT
                .iter()
                .find(|(c, _)| name.eq_ignore_ascii_case(c.as_bytes()))
                .map_or(name, |(_, f)| f.as_bytes());
            (full, value)
        })
        .collect();
    let body = &buf[end..];
    let body = match content_length(head) {
        Some(n) => &body[..n.min(body.len())],
        None => body,
    };
    Some(Message {
        start,
        headers,
        body,
    })
}

/// A party named in an identity header: display name and, if the URI's user part is
/// a number, that number.
#[derive(Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    pub display: Option<&'a [u8]>,
    pub number: Option<&'a [u8]>,
}

/// Splits a header value at commas outside quotes and angle brackets.
fn split_values(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut angle) = (0, false, false);
    for (i, &b) in value.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().map(trim).filter(|p| !p.is_empty())
}

/// RFC 3261 §25.1 name-addr / addr-spec, leniently.
pub fn identities(value: &[u8]) -> impl Iterator<Item = Identity<'_>> {
    split_values(value).map(|part| {
        let (display, uri) = if let Some(rest) = part.strip_prefix(b"\"") {
            let close = memchr::memchr(b'"', rest).unwrap_or(rest.len());
            let after = rest.get(close + 1..).unwrap_or(b"");
            (Some(&rest[..close]), after)
        } else if let Some(lt) = memchr::memchr(b'<', part) {
            let name = trim(&part[..lt]);
            (if name.is_empty() { None } else { Some(name) }, &part[lt..])
        } else {
            (None, part)
        };
        let uri = trim(uri);
        let uri = uri.strip_prefix(b"<").unwrap_or(uri);
        let display = display.filter(|d| {
            let d = String::from_utf8_lossy(d).to_ascii_lowercase();
            !d.trim().is_empty() && !PLACEHOLDER_NAMES.contains(&d.trim())
        });
        Identity {
            display,
            number: number_user(uri),
        }
    })
}

/// The user part of a `sip:`, `sips:` or `tel:` URI when it is a telephone number
/// (digits, with `+` and visual separators; RFC 3966 §3).
fn number_user(uri: &[u8]) -> Option<&[u8]> {
    let lower = |p: &[u8]| uri.len() >= p.len() && uri[..p.len()].eq_ignore_ascii_case(p);
    let rest = if lower(b"sips:") {
        &uri[5..]
    } else if lower(b"sip:") || lower(b"tel:") {
        &uri[4..]
    } else {
        return None;
    };
    let end = rest
        .iter()
        .position(|b| matches!(b, b'@' | b';' | b'>' | b'?' | b':'))
        .unwrap_or(rest.len());
    let user = &rest[..end];
    let digits = user.iter().filter(|b| b.is_ascii_digit()).count();
    let numeric = user
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'(' | b')'));
    (numeric && digits > 0).then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let ids: Vec<Identity<'_>> = identities(b"\"Jane, Doe\" <sip:+44 1632@h;user=phone>;tag=1, Bob <sips:alice@h>, sip:2001@h;tag=2, <tel:+4930901820;phone-context=x>, \"Anonymous\" <sip:anonymous@anonymous.invalid>").collect();
        assert_eq!(ids.len(), 5);
        assert_eq!(ids[0].display, Some(&b"Jane, Doe"[..]));
        assert_eq!(ids[0].number, None, "a space is no number");
        assert_eq!((ids[1].display, ids[1].number), (Some(&b"Bob"[..]), None));
        assert_eq!(ids[2].number, Some(&b"2001"[..]));
        assert_eq!(ids[3].number, Some(&b"+4930901820"[..]));
        assert_eq!(ids[4].display, None, "placeholder");
    }

    #[test]
    fn framing() {
        let msg = b"SIP/2.0 200 OK\r\nl: 4\r\n\r\nabcdSIP/2.0 100 Trying\r\n";
        assert_eq!(frame_len(msg), Some(Ok(28)));
        assert_eq!(frame_len(&msg[..20]), None);
        assert_eq!(frame_len(b"GET / HTTP/1.1\r\n\r\n"), Some(Err(())));
        assert_eq!(
            frame_len(b"SIP/2.0 200 OK\r\nContent-Length: 99999999\r\n\r\n"),
            Some(Err(()))
        );
        let parsed = parse_message(&msg[..28]).expect("message");
        assert_eq!(parsed.start, StartLine::Response { code: 200 });
        assert_eq!(parsed.body, b"abcd");
        assert_eq!(parsed.header(&["content-length"]), Some(&b"4"[..]));
    }
}
