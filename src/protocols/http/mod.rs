//! HTTP/1.x in clear (httparse): request heads are read for credentials; bodies are
//! skipped by Content-Length so pipelined requests stay in step.

use base64::Engine as _;

use crate::flow::Direction;
use crate::protocols::{Fact, Probe};

/// Our own cap on a request head (Apache's default LimitRequestFieldSize × a few).
const MAX_HEAD: usize = 64 * 1024;
/// Headers read per request; more is treated as not-HTTP-we-follow.
const MAX_HEADERS: usize = 128;
/// Longest user name kept in a fact (it is masked before any output anyway).
const MAX_USER: usize = 256;

/// RFC 9110 §9 methods plus the WebDAV ones seen on provisioning servers.
const METHODS: [&[u8]; 13] = [
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
];

pub fn probe_http(data: &[u8]) -> Probe {
    let mut need_more = false;
    for token in METHODS.iter().copied().chain([&b"HTTP/1."[..]]) {
        let n = token.len().min(data.len());
        if data[..n] == token[..n] {
            if n == token.len() {
                return Probe::Match;
            }
            need_more = true;
        }
    }
    if need_more {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthScheme {
    Basic,
    Digest,
    Bearer,
    /// NTLM, Negotiate, vendor schemes: named, token length known.
    Other(String),
}

impl AuthScheme {
    pub fn as_str(&self) -> &str {
        match self {
            AuthScheme::Basic => "Basic",
            AuthScheme::Digest => "Digest",
            AuthScheme::Bearer => "Bearer",
            AuthScheme::Other(name) => name,
        }
    }
}

/// Credentials seen in an `Authorization` or `Proxy-Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCredentials {
    /// The header's name as RFC 9110 spells it.
    pub header: &'static str,
    pub scheme: AuthScheme,
    /// The user name (Basic's user-id, Digest's `username`), raw: mask before output.
    pub user: Option<String>,
    /// Length of the secret part: Basic password, bearer token, digest response.
    pub secret_len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpFact {
    Credentials(HttpCredentials),
}

fn credentials(header: &'static str, value: &[u8]) -> Option<HttpCredentials> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    let truncate = |s: &str| s.chars().take(MAX_USER).collect::<String>();
    let creds = if scheme.eq_ignore_ascii_case("basic") {
        // RFC 7617 §2: base64(user-id ":" password)
        match base64::engine::general_purpose::STANDARD.decode(rest) {
            Ok(decoded) => {
                let text = String::from_utf8_lossy(&decoded);
                let (user, password) = text.split_once(':').unwrap_or((&text, ""));
                HttpCredentials {
                    header,
                    scheme: AuthScheme::Basic,
                    user: Some(truncate(user)),
                    secret_len: password.chars().count(),
                }
            }
            Err(_) => HttpCredentials {
                header,
                scheme: AuthScheme::Basic,
                user: None,
                secret_len: rest.len(),
            },
        }
    } else if scheme.eq_ignore_ascii_case("digest") {
        // RFC 7616 §3.4: comma-separated auth-params; username="…", response="…"
        let param = |name: &str| {
            rest.split(',').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().trim_matches('"').to_string())
            })
        };
        HttpCredentials {
            header,
            scheme: AuthScheme::Digest,
            user: param("username").map(|u| truncate(&u)),
            secret_len: param("response").map_or(0, |r| r.len()),
        }
    } else if scheme.eq_ignore_ascii_case("bearer") {
        HttpCredentials {
            header,
            scheme: AuthScheme::Bearer,
            user: None,
            secret_len: rest.len(),
        }
    } else {
        HttpCredentials {
            header,
            scheme: AuthScheme::Other(truncate(scheme)),
            user: None,
            secret_len: rest.len(),
        }
    };
    Some(creds)
}

enum RequestState {
    Head,
    /// Body bytes still to skip.
    Body(u64),
    /// Chunked request bodies are not followed: they are rare from phones and
    /// provisioning clients, and skipping them wrongly would misread what follows.
    Stopped,
}

pub struct HttpDissector {
    head: Vec<u8>,
    state: RequestState,
}

impl Default for HttpDissector {
    fn default() -> Self {
        HttpDissector {
            head: Vec::new(),
            state: RequestState::Head,
        }
    }
}

impl HttpDissector {
    pub fn on_data(&mut self, dir: Direction, mut data: &[u8], facts: &mut Vec<Fact>) {
        if dir != Direction::ToServer {
            return;
        }
        while !data.is_empty() {
            match self.state {
                RequestState::Stopped => return,
                RequestState::Body(left) => {
                    let skip = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    data = &data[skip..];
                    let left = left - skip as u64;
                    self.state = if left == 0 {
                        RequestState::Head
                    } else {
                        RequestState::Body(left)
                    };
                }
                RequestState::Head => {
                    let before = self.head.len();
                    let take = data.len().min(MAX_HEAD + 4 - before.min(MAX_HEAD));
                    self.head.extend_from_slice(&data[..take]);
                    match self.parse_head(facts) {
                        Some(head_len) => {
                            // Bytes of this chunk beyond the head belong to the body or the next request.
                            let used = head_len.saturating_sub(before).min(data.len());
                            data = &data[used..];
                            self.head.clear();
                        }
                        None if self.head.len() > MAX_HEAD => {
                            self.head = Vec::new();
                            self.state = RequestState::Stopped;
                        }
                        None => return,
                    }
                }
            }
        }
    }

    /// Parses a complete request head from `self.head`; returns its length.
    fn parse_head(&mut self, facts: &mut Vec<Fact>) -> Option<usize> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let len = match request.parse(&self.head) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return None,
            Err(_) => {
                self.state = RequestState::Stopped;
                return Some(self.head.len());
            }
        };
        let mut body = 0u64;
        let mut chunked = false;
        for header in request.headers.iter() {
            let name = header.name;
            if name.eq_ignore_ascii_case("authorization") {
                facts.extend(
                    credentials("Authorization", header.value)
                        .map(|c| Fact::Http(HttpFact::Credentials(c))),
                );
            } else if name.eq_ignore_ascii_case("proxy-authorization") {
                facts.extend(
                    credentials("Proxy-Authorization", header.value)
                        .map(|c| Fact::Http(HttpFact::Credentials(c))),
                );
            } else if name.eq_ignore_ascii_case("content-length") {
                body = std::str::from_utf8(header.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = header
                    .value
                    .windows(7)
                    .any(|w| w.eq_ignore_ascii_case(b"chunked"));
            }
        }
        self.state = if chunked {
            RequestState::Stopped
        } else if body > 0 {
            RequestState::Body(body)
        } else {
            RequestState::Head
        };
        Some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds_of(stream: &[&[u8]]) -> Vec<HttpCredentials> {
        let mut d = HttpDissector::default();
        let mut facts = Vec::new();
        for chunk in stream {
            d.on_data(Direction::ToServer, chunk, &mut facts);
        }
        facts
            .into_iter()
            .map(|f| match f {
                Fact::Http(HttpFact::Credentials(c)) => c,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn basic_split_and_pipelined_after_body() {
        // "u:pw" and "x:secret"
        let creds = creds_of(&[
            b"POST /a HTTP/1.1\r\nAuthorization: Basic dTpwdw==\r\nContent-Length: 5\r\n",
            b"\r\nhelloGET /b HTTP/1.1\r\nProxy-Authorization: basic eDpzZWNyZXQ=\r\n\r\n",
        ]);
        assert_eq!(creds.len(), 2);
        assert_eq!(creds[0].user.as_deref(), Some("u"));
        assert_eq!(creds[0].secret_len, 2);
        assert_eq!(creds[1].header, "Proxy-Authorization");
        assert_eq!(creds[1].secret_len, 6);
    }

    #[test]
    fn digest_username_and_garbage() {
        let creds = creds_of(&[
            b"GET / HTTP/1.1\r\nAuthorization: Digest username=\"bob\", realm=\"r\", response=\"0123456789abcdef0123456789abcdef\"\r\n\r\n",
        ]);
        assert_eq!(creds[0].scheme, AuthScheme::Digest);
        assert_eq!(creds[0].user.as_deref(), Some("bob"));
        assert_eq!(creds[0].secret_len, 32);
        assert!(
            creds_of(&[b"GET / HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n"])[0]
                .user
                .is_none()
        );
        assert!(creds_of(&[
            b"\x00\x01garbage\r\n\r\n",
            b"GET / HTTP/1.1\r\nAuthorization: Basic dTpwdw==\r\n\r\n"
        ])
        .is_empty());
    }

    #[test]
    fn probe() {
        assert_eq!(probe_http(b"GET / HTTP/1.1"), Probe::Match);
        assert_eq!(probe_http(b"GE"), Probe::NeedMore);
        assert_eq!(probe_http(b"HTTP/1.1 200 OK"), Probe::Match);
        assert_eq!(probe_http(b"\x16\x03\x01"), Probe::NoMatch);
    }
}
