//! HTTP/1.x in clear (httparse). Request heads are read for credentials; heads and
//! textual bodies of both directions go through the personal-data scanner. Bodies are
//! framed by Content-Length or chunked coding (RFC 9112 §6–7) so pipelined messages
//! stay in step.

pub mod authorization;

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::flow::{Direction, L4};
use crate::personal_data::{looks_textual, Field};
use crate::protocols::sip::SipDissector;
use crate::protocols::websocket::Deframer;
use crate::protocols::{probe_prefixes, Ctx, Fact, Probe};
use crate::protocols::{AppProto, Dissector, Registration};

use crate::protocols::fact::Credential;
use authorization::credentials;

/// Our own cap on a message head held whole (Apache's default LimitRequestFieldSize ×
/// a few). A longer head is still read line by line for credentials and personal data,
/// but its body can no longer be followed.
const MAX_HEAD: usize = 64 * 1024;
/// Headers parsed on the stack; a head with more is parsed again with room for all.
const STACK_HEADERS: usize = 128;
/// Our own cap on one header line read past `MAX_HEAD`; the rest of a longer line is
/// skipped (its start, which names the header, is kept).
const MAX_LINE: usize = 8 * 1024;
/// Longest chunk-size line (hex size plus extensions) we accept.
const MAX_CHUNK_LINE: usize = 1024;
/// Requests awaiting their response, to know which responses answer HEAD.
const MAX_PENDING_REQUESTS: usize = 64;

/// A request line of RFC 9110 §9 methods (plus the WebDAV ones seen on provisioning
/// servers), or a status line.
pub fn probe_http(data: &[u8]) -> Probe {
    const TOKENS: [&[u8]; 14] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
        b"PROPFIND ",
        b"PROPPATCH ",
        b"MKCOL ",
        b"REPORT ",
        b"HTTP/1.",
    ];
    probe_prefixes(data, &TOKENS)
}

/// Chunked transfer coding (RFC 9112 §7.1): size line, data, CRLF, …, 0, trailers.
#[derive(Debug)]
enum Chunked {
    SizeLine(Vec<u8>),
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd(u8),
    /// Trailer lines after the last chunk, up to the empty line.
    Trailers(Vec<u8>),
}

#[derive(Debug)]
enum Body {
    Length(u64),
    Chunked(Chunked),
    /// A response without length: the body runs to the end of the connection.
    UntilClose,
}

/// How a body is scanned for personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// Compressed, media, binary: not read.
    Skip,
    Text,
    /// `application/x-www-form-urlencoded`: percent-decoded first, as the server will.
    Form,
}

/// `%40` → `@`, `+` → space (WHATWG URL, application/x-www-form-urlencoded). Invalid
/// escapes stay as they are.
fn form_decoded(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(bytes);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

#[derive(Debug, Default)]
enum Framing {
    #[default]
    Head,
    Body {
        body: Body,
        scan: Scan,
    },
    /// A head longer than `MAX_HEAD`: its remaining lines are read as they pass, up
    /// to the empty line that ends it; `line` holds the start of the current one.
    LongHead {
        line: Vec<u8>,
        skipping: bool,
    },
    /// Not HTTP we can follow any more (garbage, gap, the end of an oversize head).
    Lost,
}

/// One direction: requests (to server) or responses (to client).
#[derive(Default)]
struct Half {
    head: Vec<u8>,
    /// Bytes of `head` already read for line ends: each byte is looked at once, however
    /// finely the head is segmented (a header sent a byte per segment is not re-parsed
    /// from its start on every byte).
    scanned: usize,
    framing: Framing,
}

impl Half {
    fn buffered(&self) -> usize {
        self.head.capacity()
            + match &self.framing {
                Framing::Body {
                    body: Body::Chunked(Chunked::SizeLine(l) | Chunked::Trailers(l)),
                    ..
                }
                | Framing::LongHead { line: l, .. } => l.capacity(),
                _ => 0,
            }
    }
}

/// The header an `Authorization`-style line carries credentials in, if it is one.
fn credential_header(line: &[u8]) -> Option<(&'static str, &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    let name = line[..colon].trim_ascii();
    let header = if name.eq_ignore_ascii_case(b"authorization") {
        "Authorization"
    } else if name.eq_ignore_ascii_case(b"proxy-authorization") {
        "Proxy-Authorization"
    } else {
        return None;
    };
    Some((header, &line[colon + 1..]))
}

/// One complete header line of a request, read as it arrives: credentials are found
/// whatever the number or size of the headers around them.
fn request_line_read(line: &[u8], ctx: &mut Ctx<'_>) {
    if let Some((header, value)) = credential_header(line) {
        if let Some(c) = credentials(header, value) {
            ctx.emit(Fact::Credential(Credential::from_header(c, None)));
        }
    }
}

/// What a parsed head says about the body that follows.
struct HeadInfo {
    body: Option<Body>,
    scan_body: Scan,
}

/// An HTTP connection upgraded to WebSocket (101 Switching Protocols, RFC 6455 §4).
struct Upgraded {
    frames: [Deframer; 2],
    /// SIP over WebSocket (RFC 7118): one SIP message per frame.
    sip: Option<SipDissector>,
}

#[derive(Default)]
pub struct HttpDissector {
    halves: [Half; 2],
    /// For each request not yet answered: was it HEAD (whose response has no body)?
    pending_head: VecDeque<bool>,
    upgraded: Option<Upgraded>,
}

fn header_is(name: &str, wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted)
}

/// Body framing and scan decision common to requests and responses.
fn body_of(headers: &[httparse::Header<'_>], default: Option<Body>) -> (Option<Body>, Scan) {
    let mut length = None;
    let mut chunked = false;
    let mut encoded = false;
    let mut textual_type = true;
    let mut form = false;
    for h in headers {
        if header_is(h.name, "content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        } else if header_is(h.name, "transfer-encoding") {
            chunked = h
                .value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"chunked"));
        } else if header_is(h.name, "content-encoding") {
            encoded = !h.value.eq_ignore_ascii_case(b"identity");
        } else if header_is(h.name, "content-type") {
            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            form = v.contains("x-www-form-urlencoded");
            textual_type = v.starts_with("text/")
                || [
                    "json",
                    "xml",
                    "x-www-form-urlencoded",
                    "csv",
                    "javascript",
                    "ldif",
                    "vcard",
                    "sdp",
                    "multipart/form-data",
                ]
                .iter()
                .any(|t| v.contains(t));
        }
    }
    let body = if chunked {
        Some(Body::Chunked(Chunked::SizeLine(Vec::new())))
    } else {
        match length {
            Some(0) => None,
            Some(n) => Some(Body::Length(n)),
            None => default,
        }
    };
    let scan = match (textual_type && !encoded, form) {
        (false, _) => Scan::Skip,
        (true, true) => Scan::Form,
        (true, false) => Scan::Text,
    };
    (body, scan)
}

impl HttpDissector {
    /// WebSocket frames: SIP messages to the SIP dissector, other text frames scanned.
    fn on_frames(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        let Some(up) = self.upgraded.as_mut() else {
            return;
        };
        let Upgraded { frames, sip } = up;
        frames[dir.index()].push(data, &mut |payload| match sip.as_mut() {
            Some(sip) => sip.on_data(dir, payload, ctx),
            None if looks_textual(payload) => ctx.scan(Field::Text, payload),
            None => {}
        });
    }

    /// Parses a complete head (up to and including its empty line); `Err` if it is not
    /// HTTP. Credentials were read from its lines as they came (`head_end`).
    fn parse_head(
        &mut self,
        dir: Direction,
        buf: &[u8],
        ctx: &mut Ctx<'_>,
    ) -> Result<HeadInfo, ()> {
        let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
        match self.parse_head_with(dir, buf, &mut stack, ctx) {
            Err(httparse::Error::TooManyHeaders) => {
                // Room for every line: a head is at most MAX_HEAD bytes.
                let lines = memchr::memchr_iter(b'\n', buf).count();
                let mut heap = vec![httparse::EMPTY_HEADER; lines];
                self.parse_head_with(dir, buf, &mut heap, ctx)
                    .map_err(|_| ())
            }
            parsed => parsed.map_err(|_| ()),
        }
    }

    fn parse_head_with<'h, 'b: 'h>(
        &mut self,
        dir: Direction,
        buf: &'b [u8],
        headers: &'h mut [httparse::Header<'b>],
        ctx: &mut Ctx<'_>,
    ) -> Result<HeadInfo, httparse::Error> {
        let incomplete = httparse::Error::Token;
        match dir {
            Direction::ToServer => {
                let mut request = httparse::Request::new(headers);
                let httparse::Status::Complete(len) = request.parse(buf)? else {
                    return Err(incomplete);
                };
                let is_head = request
                    .method
                    .is_some_and(|m| m.eq_ignore_ascii_case("HEAD"));
                if self.pending_head.len() < MAX_PENDING_REQUESTS {
                    self.pending_head.push_back(is_head);
                }
                // The request line and header values: query strings, Referer, From.
                ctx.scan(Field::Text, &form_decoded(&buf[..len]));
                let (body, scan_body) = body_of(request.headers, None);
                Ok(HeadInfo { body, scan_body })
            }
            Direction::ToClient => {
                let mut response = httparse::Response::new(headers);
                let httparse::Status::Complete(len) = response.parse(buf)? else {
                    return Err(incomplete);
                };
                let code = response.code.unwrap_or(0);
                if code == 101 {
                    let value = |name: &str| {
                        response
                            .headers
                            .iter()
                            .find(|h| header_is(h.name, name))
                            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
                    };
                    if value("upgrade").is_some_and(|v| v.contains("websocket")) {
                        let sip = value("sec-websocket-protocol")
                            .is_some_and(|v| v.split(',').any(|p| p.trim() == "sip"));
                        self.upgraded = Some(Upgraded {
                            frames: Default::default(),
                            // Datagram mode: a frame holds exactly one message.
                            sip: sip.then(|| SipDissector::new(L4::Udp)),
                        });
                        return Ok(HeadInfo {
                            body: None,
                            scan_body: Scan::Skip,
                        });
                    }
                }
                let interim = (100..200).contains(&code);
                let answers_head = if interim {
                    false
                } else {
                    self.pending_head.pop_front().unwrap_or(false)
                };
                ctx.scan(Field::Text, &buf[..len]);
                // RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304.
                if answers_head || interim || code == 204 || code == 304 {
                    return Ok(HeadInfo {
                        body: None,
                        scan_body: Scan::Skip,
                    });
                }
                let (body, scan_body) = body_of(response.headers, Some(Body::UntilClose));
                Ok(HeadInfo { body, scan_body })
            }
        }
    }
}

impl Dissector for HttpDissector {
    /// A connection that carries SIP over WebSocket is SIP.
    fn refine_app_proto(&self, detected: AppProto) -> AppProto {
        if self.upgraded.as_ref().is_some_and(|u| u.sip.is_some()) {
            AppProto::Sip
        } else {
            detected
        }
    }

    fn on_gap(&mut self, dir: Direction) {
        self.halves[dir.index()] = Half {
            framing: Framing::Lost,
            ..Half::default()
        };
    }

    /// Bytes of partial heads, chunk lines and WebSocket frames held.
    fn buffered(&self) -> usize {
        self.halves.iter().map(Half::buffered).sum::<usize>()
            + self.upgraded.as_ref().map_or(0, |u| {
                u.frames.iter().map(Deframer::buffered).sum::<usize>()
                    + u.sip.as_ref().map_or(0, SipDissector::buffered)
            })
    }

    fn on_end(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(sip) = self.upgraded.as_mut().and_then(|u| u.sip.as_mut()) {
            sip.on_end(ctx);
        }
    }

    fn on_data(&mut self, dir: Direction, mut data: &[u8], ctx: &mut Ctx<'_>) {
        while !data.is_empty() {
            if self.upgraded.is_some() {
                return self.on_frames(dir, data, ctx);
            }
            let framing = std::mem::take(&mut self.halves[dir.index()].framing);
            match framing {
                Framing::Lost => {
                    self.halves[dir.index()].framing = Framing::Lost;
                    return;
                }
                Framing::Body { body, scan } => {
                    let (used, next) = body_step(body, data, scan, ctx);
                    data = &data[used..];
                    self.halves[dir.index()].framing = match next {
                        Some(body) => Framing::Body { body, scan },
                        None => Framing::Head,
                    };
                }
                Framing::LongHead { line, skipping } => {
                    let (used, next) = long_head_step(dir, line, skipping, data, ctx);
                    data = &data[used..];
                    self.halves[dir.index()].framing = next;
                }
                Framing::Head => {
                    let half = &mut self.halves[dir.index()];
                    let before = half.head.len();
                    let take = data.len().min(MAX_HEAD.saturating_sub(before));
                    half.head.extend_from_slice(&data[..take]);
                    let Some(len) = head_end(dir, half, ctx) else {
                        if take == data.len() {
                            return;
                        }
                        // Full, and no end in sight: read on line by line.
                        data = &data[take..];
                        let head = std::mem::take(&mut half.head);
                        let (lines, partial) = head.split_at(half.scanned);
                        half.scanned = 0;
                        ctx.anomaly("http.head_too_long");
                        ctx.scan(Field::Text, lines);
                        half.framing = Framing::LongHead {
                            line: partial[..partial.len().min(MAX_LINE)].to_vec(),
                            skipping: partial.len() > MAX_LINE,
                        };
                        continue;
                    };
                    let head = std::mem::take(&mut half.head);
                    half.scanned = 0;
                    data = &data[len.saturating_sub(before).min(data.len())..];
                    let parsed = self.parse_head(dir, &head[..len], ctx);
                    let lost = parsed.is_err();
                    self.halves[dir.index()].framing = match parsed {
                        Ok(HeadInfo {
                            body: Some(body),
                            scan_body,
                        }) => Framing::Body {
                            body,
                            scan: scan_body,
                        },
                        Ok(HeadInfo { body: None, .. }) => Framing::Head,
                        Err(()) => Framing::Lost,
                    };
                    if lost {
                        return;
                    }
                }
            }
        }
    }
}

/// Reads the lines of `half.head` not read yet: credential lines of a request are
/// reported as they complete; returns the head's length once its empty line is there.
fn head_end(dir: Direction, half: &mut Half, ctx: &mut Ctx<'_>) -> Option<usize> {
    let mut start = half.scanned;
    let found = loop {
        let Some(nl) = memchr::memchr(b'\n', &half.head[start..]) else {
            break None;
        };
        let line = &half.head[start..start + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() && start > 0 {
            break Some(start + nl + 1);
        }
        if dir == Direction::ToServer && start > 0 {
            request_line_read(line, ctx);
        }
        start += nl + 1;
    };
    half.scanned = start;
    found
}

/// Past `MAX_HEAD`: reads whole lines for credentials (requests) and personal data up
/// to the empty line; then the direction is lost (its body cannot be framed).
fn long_head_step(
    dir: Direction,
    mut line: Vec<u8>,
    mut skipping: bool,
    data: &[u8],
    ctx: &mut Ctx<'_>,
) -> (usize, Framing) {
    let mut used = 0;
    while let Some(nl) = memchr::memchr(b'\n', &data[used..]) {
        if !skipping {
            let room = MAX_LINE.saturating_sub(line.len());
            line.extend_from_slice(&data[used..used + nl.min(room)]);
        }
        used += nl + 1;
        let text = line.strip_suffix(b"\r").unwrap_or(&line);
        if text.is_empty() {
            return (used, Framing::Lost);
        }
        if dir == Direction::ToServer {
            request_line_read(text, ctx);
        }
        ctx.scan(Field::Text, text);
        line.clear();
        skipping = false;
    }
    let rest = &data[used..];
    let room = MAX_LINE.saturating_sub(line.len());
    skipping |= rest.len() > room;
    line.extend_from_slice(&rest[..rest.len().min(room)]);
    (data.len(), Framing::LongHead { line, skipping })
}

/// Consumes body bytes; returns bytes used and the body state left (`None`: done).
fn body_step(body: Body, data: &[u8], scan: Scan, ctx: &mut Ctx<'_>) -> (usize, Option<Body>) {
    let content = |bytes: &[u8], ctx: &mut Ctx<'_>| match scan {
        Scan::Skip => {}
        _ if !looks_textual(bytes) => {}
        Scan::Text => ctx.scan(Field::Text, bytes),
        Scan::Form => ctx.scan(Field::Text, &form_decoded(bytes)),
    };
    match body {
        Body::UntilClose => {
            content(data, ctx);
            (data.len(), Some(Body::UntilClose))
        }
        Body::Length(left) => {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
            content(&data[..n], ctx);
            let left = left - n as u64;
            (n, (left > 0).then_some(Body::Length(left)))
        }
        Body::Chunked(state) => {
            let mut used = 0;
            let mut state = state;
            loop {
                let rest = &data[used..];
                if rest.is_empty() {
                    return (used, Some(Body::Chunked(state)));
                }
                state = match state {
                    Chunked::SizeLine(mut line) => match memchr::memchr(b'\n', rest) {
                        Some(nl) => {
                            line.extend_from_slice(&rest[..nl]);
                            used += nl + 1;
                            let text = String::from_utf8_lossy(&line);
                            let hex = text.split(';').next().unwrap_or("").trim();
                            match u64::from_str_radix(hex, 16) {
                                Ok(0) => Chunked::Trailers(Vec::new()),
                                Ok(size) => Chunked::Data(size),
                                // Not chunked coding after all: give the rest up.
                                Err(_) => return (data.len(), None),
                            }
                        }
                        None if line.len() + rest.len() > MAX_CHUNK_LINE => {
                            return (data.len(), None)
                        }
                        None => {
                            line.extend_from_slice(rest);
                            used += rest.len();
                            Chunked::SizeLine(line)
                        }
                    },
                    Chunked::Data(left) => {
                        let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                        content(&rest[..n], ctx);
                        used += n;
                        let left = left - n as u64;
                        if left == 0 {
                            Chunked::DataEnd(2)
                        } else {
                            Chunked::Data(left)
                        }
                    }
                    Chunked::DataEnd(left) => {
                        let n = usize::from(left).min(rest.len());
                        used += n;
                        if left as usize == n {
                            Chunked::SizeLine(Vec::new())
                        } else {
                            Chunked::DataEnd(left - n as u8)
                        }
                    }
                    Chunked::Trailers(mut line) => match memchr::memchr(b'\n', rest) {
                        Some(nl) => {
                            line.extend_from_slice(&rest[..nl]);
                            used += nl + 1;
                            if line.iter().all(|b| *b == b'\r') {
                                return (used, None);
                            }
                            Chunked::Trailers(Vec::new())
                        }
                        None if line.len() + rest.len() > MAX_CHUNK_LINE => {
                            return (data.len(), None)
                        }
                        None => {
                            line.extend_from_slice(rest);
                            used += rest.len();
                            Chunked::Trailers(line)
                        }
                    },
                };
            }
        }
    }
}

pub const HTTP: Registration = Registration {
    app_proto: AppProto::Http,
    l4: L4::Tcp,
    ports: &[80, 8000, 8008, 8080, 8088, 3128],
    probe: probe_http,
    start: || Box::new(HttpDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::authorization::AuthScheme;
    use super::*;
    use crate::personal_data::Kind;
    use crate::protocols::fact::{CredentialForm, PersonalData};
    use crate::protocols::{testing::with_ctx, AppProto};

    fn run(chunks: &[(Direction, &[u8])]) -> Vec<Fact> {
        let mut d = HttpDissector::default();
        with_ctx(AppProto::Http, |ctx| {
            for (dir, chunk) in chunks {
                d.on_data(*dir, chunk, ctx);
            }
        })
    }

    fn creds(facts: &[Fact]) -> Vec<&Credential> {
        facts
            .iter()
            .filter_map(|f| match f {
                Fact::Credential(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn kinds(facts: &[Fact]) -> Vec<Kind> {
        facts
            .iter()
            .filter_map(|f| match f {
                Fact::PersonalData(PersonalData { matches: m, .. }) => {
                    Some(m.iter().map(|m| m.kind))
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    const UP: Direction = Direction::ToServer;
    const DOWN: Direction = Direction::ToClient;

    #[test]
    fn basic_split_and_pipelined_after_body() {
        // "u:pw" and "x:secret"
        let facts = run(&[
            (
                UP,
                b"POST /a HTTP/1.1\r\nAuthorization: Basic dTpwdw==\r\nContent-Length: 5\r\n",
            ),
            (
                UP,
                b"\r\nhelloGET /b HTTP/1.1\r\nProxy-Authorization: basic eDpzZWNyZXQ=\r\n\r\n",
            ),
        ]);
        let c = creds(&facts);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].user.as_deref(), Some("u"));
        assert_eq!(c[0].secret_len, 2);
        assert!(matches!(
            c[1].form,
            CredentialForm::Header {
                header: "Proxy-Authorization",
                ..
            }
        ));
        assert_eq!(c[1].secret_len, 6);
    }

    #[test]
    fn digest_username_and_garbage() {
        let facts = run(&[(
            UP,
            b"GET / HTTP/1.1\r\nAuthorization: Digest username=\"bob\", realm=\"r\", response=\"0123456789abcdef0123456789abcdef\"\r\n\r\n",
        )]);
        let c = creds(&facts);
        assert!(matches!(
            c[0].form,
            CredentialForm::Header {
                scheme: AuthScheme::Digest,
                ..
            }
        ));
        assert_eq!(c[0].user.as_deref(), Some("bob"));
        assert_eq!(c[0].secret_len, 32);
        assert!(creds(&run(&[(
            UP,
            b"GET / HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n"
        )]))[0]
            .user
            .is_none());
        let lost = run(&[
            (UP, b"\x00\x01garbage\r\n\r\n"),
            (
                UP,
                b"GET / HTTP/1.1\r\nAuthorization: Basic dTpwdw==\r\n\r\n",
            ),
        ]);
        assert!(creds(&lost).is_empty());
    }

    #[test]
    fn form_body_and_chunked_response_are_scanned() {
        let facts = run(&[
            (UP, b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 34\r\n\r\n"),
            (UP, b"user=alice&password=Tr0ub4dor-9999"),
            (DOWN, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"),
            (DOWN, b"1a\r\nmail alice@example.com ok\r\n"),
            (DOWN, b"0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
        ]);
        assert_eq!(kinds(&facts), vec![Kind::Credential, Kind::Email]);
    }

    #[test]
    fn compressed_and_binary_bodies_are_not_scanned() {
        let facts = run(&[
            (UP, b"HEAD / HTTP/1.1\r\n\r\n"),
            (DOWN, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
            (UP, b"GET /x HTTP/1.1\r\n\r\n"),
            (
                DOWN,
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 28\r\n\r\n",
            ),
            (DOWN, b"card 4111 1111 1111 1111 xx!"),
        ]);
        assert!(kinds(&facts).is_empty(), "{facts:?}");
    }

    #[test]
    fn form_decoding() {
        assert_eq!(
            &*form_decoded(b"a=jane.doe%40example.com&p=%2B44+1632"),
            b"a=jane.doe@example.com&p=+44 1632"
        );
        assert_eq!(&*form_decoded(b"bad%4g%"), b"bad%4g%");
        let facts = run(&[
            (UP, b"POST /s HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 31\r\n\r\n"),
            (UP, b"email=jane.doe%40example.com&x="),
        ]);
        assert_eq!(kinds(&facts), vec![Kind::Email]);
    }

    #[test]
    fn probe() {
        assert_eq!(probe_http(b"GET / HTTP/1.1"), Probe::Match);
        assert_eq!(probe_http(b"GE"), Probe::NeedMore);
        assert_eq!(probe_http(b"HTTP/1.1 200 OK"), Probe::Match);
        assert_eq!(probe_http(b"\x16\x03\x01"), Probe::NoMatch);
    }
}
