//! The metrics endpoint: `/metrics` (OpenMetrics) and `/healthz`, on tokio. Requests
//! are parsed with httparse and bounded in size and time; anything else gets a 404.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::output::metrics::text_format;

/// A request head larger than this is refused (a scraper sends a few hundred bytes).
const MAX_REQUEST: usize = 8 * 1024;
/// Each connection's whole life, request and answer: a client that sends slowly or
/// reads slowly is cut off then.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at once. A Prometheus server or two
/// and an operator's curl need a handful; this bounds what idle or hostile clients
/// on the listening address can hold (each for at most `REQUEST_TIMEOUT`).
const MAX_CONNECTIONS: usize = 32;
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the endpoint asks of the sensor.
pub trait Status: Send + Sync + 'static {
    /// The exposition, or `None` if it could not be encoded.
    fn metrics(&self) -> Option<String>;
    /// Whether the capture is still running.
    fn healthy(&self) -> bool;
}

pub async fn serve(listener: TcpListener, status: Arc<dyn Status>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors and the like: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        // Over the cap the connection is dropped, i.e. closed, unanswered.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let status = Arc::clone(&status);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, status)).await;
            drop(slot);
        });
    }
}

enum Route {
    /// OpenMetrics when the scraper asks for it (Prometheus does), else text 0.0.4.
    Metrics {
        openmetrics: bool,
    },
    Health,
    NotFound,
    NotAllowed,
    Bad,
}

fn route(head: &[u8]) -> Option<Route> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return None,
        Err(_) => return Some(Route::Bad),
    }
    let path = request.path.unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let openmetrics = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("accept")
            && memchr::memmem::find(h.value, b"application/openmetrics-text").is_some()
    });
    Some(match (request.method, path) {
        (Some("GET" | "HEAD"), "/metrics") => Route::Metrics { openmetrics },
        (Some("GET" | "HEAD"), "/healthz") => Route::Health,
        (Some("GET" | "HEAD"), _) => Route::NotFound,
        _ => Route::NotAllowed,
    })
}

async fn answer(mut stream: TcpStream, status: Arc<dyn Status>) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let route = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(route) = route(&head) {
            break route;
        }
        if head.len() > MAX_REQUEST {
            break Route::Bad;
        }
    };
    let (code, content_type, body) = match route {
        Route::Metrics { openmetrics } => match status.metrics() {
            Some(text) if openmetrics => ("200 OK", OPENMETRICS, text),
            Some(text) => ("200 OK", TEXT_FORMAT, text_format(&text)),
            None => (
                "500 Internal Server Error",
                "text/plain",
                "metrics unavailable\n".into(),
            ),
        },
        Route::Health if status.healthy() => ("200 OK", "text/plain", "ok\n".into()),
        Route::Health => (
            "503 Service Unavailable",
            "text/plain",
            "capture stopped\n".into(),
        ),
        Route::NotFound => ("404 Not Found", "text/plain", "not found\n".into()),
        Route::NotAllowed => (
            "405 Method Not Allowed",
            "text/plain",
            "method not allowed\n".into(),
        ),
        Route::Bad => ("400 Bad Request", "text/plain", "bad request\n".into()),
    };
    let header = format!(
        "HTTP/1.1 {code}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if !head.starts_with(b"HEAD ") {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Status for Fixed {
        fn metrics(&self) -> Option<String> {
            Some("# EOF\n".into())
        }
        fn healthy(&self) -> bool {
            true
        }
    }

    #[test]
    fn connections_past_the_cap_are_closed_and_slots_come_back() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(serve(listener, Arc::new(Fixed)));
            // Clients that connect and say nothing hold every slot.
            let mut idle = Vec::new();
            for _ in 0..MAX_CONNECTIONS {
                idle.push(TcpStream::connect(address).await.unwrap());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut extra = TcpStream::connect(address).await.unwrap();
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(2), extra.read(&mut buf))
                .await
                .expect("closed at once, not left waiting");
            assert_eq!(read.unwrap_or(0), 0, "closed unanswered");
            // The idle clients leave: their slots serve the next scrape.
            drop(idle);
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut scrape = TcpStream::connect(address).await.unwrap();
            scrape
                .write_all(b"GET /healthz HTTP/1.1\r\n\r\n")
                .await
                .unwrap();
            let mut answer = Vec::new();
            scrape.read_to_end(&mut answer).await.unwrap();
            assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{answer:?}");
        });
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Route::Metrics { openmetrics: false })
        ));
        assert!(matches!(
            route(b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n"),
            Some(Route::Metrics { openmetrics: true })
        ));
        assert!(matches!(
            route(b"GET /healthz?x=1 HTTP/1.0\r\n\r\n"),
            Some(Route::Health)
        ));
        assert!(matches!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Some(Route::NotAllowed)
        ));
        assert!(matches!(
            route(b"GET /x HTTP/1.1\r\n\r\n"),
            Some(Route::NotFound)
        ));
        assert!(route(b"GET /metrics HTTP/1.1\r\n").is_none());
        assert!(matches!(
            route(b"\x00\x01garbage\r\n\r\n"),
            Some(Route::Bad)
        ));
    }

    /// Whoever reaches the port sends what they like: mutated and random request
    /// heads must get an answer or a wait for more, never a panic.
    #[test]
    fn hostile_request_heads() {
        let valid: &[u8] =
            b"GET /metrics HTTP/1.1\r\nHost: sensor\r\nAccept: application/openmetrics-text\r\n\r\n";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let mut head = valid.to_vec();
            for _ in 0..(next() % 6) {
                let at = (next() as usize) % head.len();
                match next() % 3 {
                    0 => head[at] = next() as u8,
                    1 => head.truncate(at.max(1)),
                    _ => head.insert(at, next() as u8),
                }
            }
            let _ = route(&head);
            let random: Vec<u8> = (0..(next() % 300)).map(|_| next() as u8).collect();
            let _ = route(&random);
        }
    }
}
