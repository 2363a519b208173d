//! The application layer: content-based detection, one dissector per protocol, and
//! the facts they emit.
//!
//! Detection asks every candidate's probe about the first bytes of each direction;
//! port numbers only decide the order in which candidates are asked. A dissector knows
//! its protocol's bytes and nothing about rules: it turns payload into `Fact`s.

pub mod http;
pub mod tls;

use serde::Serialize;

use crate::flow::{Direction, L4};

/// The `app_proto` of DESIGN §5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppProto {
    Tls,
    Dtls,
    Http,
    /// Nothing recognised (or no payload at all).
    Failed,
}

impl AppProto {
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Tls => "tls",
            AppProto::Dtls => "dtls",
            AppProto::Http => "http",
            AppProto::Failed => "failed",
        }
    }
}

/// Everything a dissector can tell the policy and the flow record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    Tls(tls::TlsFact),
    Http(http::HttpFact),
}

/// A probe's verdict on the first bytes of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Match,
    NoMatch,
    /// Too few bytes to tell.
    NeedMore,
}

/// One registered protocol: where it runs, the ports that make it the first guess,
/// how to recognise it and how to start its dissector.
struct Detector {
    app_proto: AppProto,
    l4: L4,
    ports: &'static [u16],
    probe: fn(&[u8]) -> Probe,
    start: fn() -> Dissector,
}

const DETECTORS: &[Detector] = &[
    Detector {
        app_proto: AppProto::Tls,
        l4: L4::Tcp,
        ports: &[
            443, 465, 636, 802, 853, 990, 993, 995, 3269, 5061, 6514, 8443, 8883, 12622,
        ],
        probe: tls::probe_tls,
        start: || Dissector::Tls(tls::TlsDissector::stream()),
    },
    Detector {
        app_proto: AppProto::Dtls,
        l4: L4::Udp,
        ports: &[443, 4433, 5061, 5684],
        probe: tls::probe_dtls,
        start: || Dissector::Tls(tls::TlsDissector::datagram()),
    },
    Detector {
        app_proto: AppProto::Http,
        l4: L4::Tcp,
        ports: &[80, 8000, 8008, 8080, 8088, 3128],
        probe: http::probe_http,
        start: || Dissector::Http(http::HttpDissector::default()),
    },
];

/// Per-protocol state; an enum so dispatch needs no allocation or vtable.
enum Dissector {
    Tls(tls::TlsDissector),
    Http(http::HttpDissector),
}

impl Dissector {
    fn on_data(&mut self, dir: Direction, data: &[u8], facts: &mut Vec<Fact>) {
        match self {
            Dissector::Tls(d) => d.on_data(dir, data, facts),
            Dissector::Http(d) => d.on_data(dir, data, facts),
        }
    }

    fn on_gap(&mut self, dir: Direction) {
        match self {
            Dissector::Tls(d) => d.on_gap(dir),
            Dissector::Http(_) => {}
        }
    }

    fn encrypted(&self) -> bool {
        match self {
            Dissector::Tls(d) => d.encrypted(),
            Dissector::Http(_) => false,
        }
    }

    fn finished(&self) -> bool {
        match self {
            Dissector::Tls(d) => d.finished(),
            Dissector::Http(_) => false,
        }
    }
}

/// Our own limits on detection: how long a flow may stay unclassified.
const MAX_PROBE_CHUNKS: u16 = 16;
const MAX_PROBE_BYTES: usize = 4096;
/// Bytes kept from a direction while probes ask for more.
const PROBE_BUFFER: usize = 64;

enum State {
    Detecting {
        chunks: u16,
        bytes: usize,
        held: [Vec<u8>; 2],
    },
    Active {
        app_proto: AppProto,
        dissector: Dissector,
    },
    Failed,
}

/// The application layer of one flow.
pub struct AppLayer {
    state: State,
    /// Ports ordered (server, client): the server port is the better hint.
    ports: (u16, u16),
    l4: L4,
}

impl AppLayer {
    pub fn new(l4: L4, server_port: u16, client_port: u16) -> Self {
        AppLayer {
            state: State::Detecting {
                chunks: 0,
                bytes: 0,
                held: Default::default(),
            },
            ports: (server_port, client_port),
            l4,
        }
    }

    pub fn app_proto(&self) -> AppProto {
        match &self.state {
            State::Active { app_proto, .. } => *app_proto,
            _ => AppProto::Failed,
        }
    }

    pub fn encrypted(&self) -> bool {
        match &self.state {
            State::Active { dissector, .. } => dissector.encrypted(),
            _ => false,
        }
    }

    /// False once nothing more can be learnt from the payload: the engine may stop
    /// reassembling and delivering it.
    pub fn wants_payload(&self) -> bool {
        match &self.state {
            State::Detecting { .. } => true,
            State::Active { dissector, .. } => !dissector.finished(),
            State::Failed => false,
        }
    }

    pub fn on_gap(&mut self, dir: Direction) {
        if let State::Active { dissector, .. } = &mut self.state {
            dissector.on_gap(dir);
        }
    }

    pub fn on_data(&mut self, dir: Direction, data: &[u8], facts: &mut Vec<Fact>) {
        if data.is_empty() {
            return;
        }
        match &mut self.state {
            State::Active { dissector, .. } => {
                dissector.on_data(dir, data, facts);
            }
            State::Failed => {}
            State::Detecting {
                chunks,
                bytes,
                held,
            } => {
                *chunks += 1;
                *bytes += data.len();
                let held_dir = &mut held[dir.index()];
                let (verdict, start) = if held_dir.is_empty() {
                    (detect(self.l4, self.ports, data), None)
                } else {
                    let mut joined = std::mem::take(held_dir);
                    joined.extend_from_slice(data);
                    (detect(self.l4, self.ports, &joined), Some(joined))
                };
                match verdict {
                    Detection::Found(detector) => {
                        let mut dissector = (detector.start)();
                        dissector.on_data(dir, start.as_deref().unwrap_or(data), facts);
                        self.state = State::Active {
                            app_proto: detector.app_proto,
                            dissector,
                        };
                    }
                    Detection::NeedMore if self.l4 == L4::Tcp => {
                        let mut keep = start.unwrap_or_else(|| data.to_vec());
                        keep.truncate(PROBE_BUFFER);
                        held[dir.index()] = keep;
                    }
                    _ if *chunks >= MAX_PROBE_CHUNKS || *bytes >= MAX_PROBE_BYTES => {
                        self.state = State::Failed;
                    }
                    _ => {}
                }
            }
        }
    }
}

enum Detection {
    Found(&'static Detector),
    NeedMore,
    NoMatch,
}

fn detect(l4: L4, (server_port, client_port): (u16, u16), data: &[u8]) -> Detection {
    let hinted = |d: &&Detector| d.ports.contains(&server_port) || d.ports.contains(&client_port);
    let candidates = DETECTORS.iter().filter(|d| d.l4 == l4);
    let ordered = candidates
        .clone()
        .filter(hinted)
        .chain(candidates.filter(|d| !hinted(d)));
    let mut need_more = false;
    for detector in ordered {
        match (detector.probe)(data) {
            Probe::Match => return Detection::Found(detector),
            Probe::NeedMore => need_more = true,
            Probe::NoMatch => {}
        }
    }
    if need_more {
        Detection::NeedMore
    } else {
        Detection::NoMatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_content_not_port() {
        let mut app = AppLayer::new(L4::Tcp, 5080, 40000);
        let mut facts = Vec::new();
        app.on_data(Direction::ToServer, b"GE", &mut facts);
        assert_eq!(app.app_proto(), AppProto::Failed);
        app.on_data(
            Direction::ToServer,
            b"T / HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n",
            &mut facts,
        );
        assert_eq!(app.app_proto(), AppProto::Http);
        assert_eq!(facts.len(), 1);

        let mut tls_on_80 = AppLayer::new(L4::Tcp, 80, 40000);
        tls_on_80.on_data(
            Direction::ToServer,
            &[22, 3, 1, 0, 4, 1, 0, 0, 0],
            &mut facts,
        );
        assert_eq!(tls_on_80.app_proto(), AppProto::Tls);
    }

    #[test]
    fn gives_up_on_unknown() {
        let mut app = AppLayer::new(L4::Udp, 9999, 40000);
        let mut facts = Vec::new();
        for _ in 0..MAX_PROBE_CHUNKS {
            app.on_data(Direction::ToServer, b"\x00\x01 nothing we know", &mut facts);
        }
        assert_eq!(app.app_proto(), AppProto::Failed);
        assert!(!app.wants_payload());
    }
}
