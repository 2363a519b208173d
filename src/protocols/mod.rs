//! The application layer: content-based detection, one dissector per protocol, and
//! the facts they emit.
//!
//! Detection asks every candidate's probe about the first bytes of each direction;
//! port numbers only decide the order in which candidates are asked. A dissector knows
//! its protocol's bytes and nothing about rules: it turns payload into `Fact`s.

pub mod axi;
pub(crate) mod ber;
pub mod cdr;
pub mod dtmf;
pub mod espa;
pub mod fact;
pub mod framing;
pub mod http;
pub mod ldap;
pub mod lines;
pub mod login;
pub mod mail;
pub mod modbus;
pub mod mqtt;
pub mod mysql;
pub mod pgsql;
pub mod radius;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod smb;
pub mod snmp;
pub mod ssh;
pub mod summaries;
pub mod syslog;
pub mod tds;
pub mod telnet;
pub mod tls;
pub mod websocket;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Serialize;

use crate::flow::{Direction, L4};
use crate::personal_data::{looks_textual, Field, Match, ScanBudget, Scanner};
pub use fact::Fact;
use fact::PersonalData;

/// Declares `AppProto` from one list: each variant with its DESIGN §5 name.
macro_rules! app_protos {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The `app_proto` of DESIGN §5.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum AppProto {
            $($(#[$doc])* $variant,)*
        }

        impl AppProto {
            /// Every name, for checking signature files.
            pub const ALL: &'static [AppProto] = &[$(AppProto::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AppProto::$variant => $name,)*
                }
            }
        }
    };
}

app_protos! {
    Tls => "tls",
    Dtls => "dtls",
    Http => "http",
    Ssh => "ssh",
    Sip => "sip",
    Rtp => "rtp",
    Srtp => "srtp",
    Rtcp => "rtcp",
    Srtcp => "srtcp",
    Ldap => "ldap",
    Snmp => "snmp",
    Smtp => "smtp",
    Pop3 => "pop3",
    Imap => "imap",
    Ftp => "ftp",
    Telnet => "telnet",
    Mqtt => "mqtt",
    Modbus => "modbus",
    Syslog => "syslog",
    Espa => "espa",
    Axi => "axi",
    /// Call detail records (SMDR) streamed to call accounting.
    Cdr => "cdr",
    /// MS-TDS (SQL Server).
    Tds => "tds",
    /// SMB 1/2/3 file shares.
    Smb => "smb",
    Pgsql => "pgsql",
    Mysql => "mysql",
    Radius => "radius",
    /// Nothing recognised (or no payload at all).
    Failed => "failed",
}

/// What dissectors produce: facts for the policy, and on their own path what only the
/// engine needs (media to expect, anomalies to count).
#[derive(Debug, Default)]
pub struct Output {
    /// For the policy and the flow record.
    pub facts: Vec<Fact>,
    /// Media a signalling message described: the engine expects these flows.
    pub offers: Vec<sip::MediaOffer>,
    /// Named anomalies (a bound reached, a message not parsed): counted for the summary
    /// and metrics; the flow goes on.
    pub anomalies: BTreeMap<&'static str, u64>,
}

/// What a dissector gets with each chunk: where its output goes, and the personal-data
/// scanner with this flow's remaining scan budget.
pub struct Ctx<'a> {
    out: &'a mut Output,
    scanner: &'a Scanner,
    budget: &'a mut ScanBudget,
    app_proto: AppProto,
    limits: AppLimits,
}

/// Per-flow bounds from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct AppLimits {
    /// Bytes of the flow the personal-data scanner may read.
    pub scan_bytes: usize,
    /// SIP dialogs tracked per flow (for INFO digits); the oldest is dropped beyond.
    pub sip_dialogs: usize,
}

impl Default for AppLimits {
    fn default() -> Self {
        AppLimits {
            scan_bytes: 1 << 20,
            sip_dialogs: 256,
        }
    }
}

impl Ctx<'_> {
    pub fn limits(&self) -> AppLimits {
        self.limits
    }

    pub fn emit(&mut self, fact: Fact) {
        self.out.facts.push(fact);
    }

    /// Media a signalling message described, for the engine to expect.
    pub fn offer_media(&mut self, offer: sip::MediaOffer) {
        self.out.offers.push(offer);
    }

    /// A named anomaly (`sip.message_too_long`): counted, the flow goes on.
    pub fn anomaly(&mut self, name: &'static str) {
        *self.out.anomalies.entry(name).or_default() += 1;
    }

    /// Scans `data` (within the flow's budget) and emits what it finds.
    pub fn scan(&mut self, field: Field, data: &[u8]) {
        let mut matches = Vec::new();
        self.find(field, data, &mut matches);
        if !matches.is_empty() {
            self.out
                .facts
                .push(Fact::PersonalData(PersonalData::matches(matches)));
        }
    }

    /// Scans `data` (within the flow's budget) into `out`, for dissectors that attach
    /// the matches to a fact of their own (a SIP dialog, say).
    pub fn find(&mut self, field: Field, data: &[u8], out: &mut Vec<Match>) {
        let allowed = self.budget.take(data.len());
        if allowed > 0 {
            self.scanner
                .scan(&data[..allowed], field, self.app_proto.as_str(), out);
        }
    }
}

/// Dissectors outside the engine: unit tests and fuzz targets.
pub mod testing {
    use super::*;

    /// Runs `f` with a context over the built-in patterns; returns the facts.
    pub fn with_ctx(app_proto: AppProto, f: impl FnOnce(&mut Ctx<'_>)) -> Vec<Fact> {
        with_ctx_output(app_proto, f).facts
    }

    /// As `with_ctx`, with the media offers and anomalies too.
    pub fn with_ctx_output(app_proto: AppProto, f: impl FnOnce(&mut Ctx<'_>)) -> Output {
        let scanner = crate::personal_data::builtin_scanner();
        let mut out = Output::default();
        let mut budget = ScanBudget::new(1 << 20);
        let mut ctx = Ctx {
            out: &mut out,
            scanner,
            budget: &mut budget,
            app_proto,
            limits: AppLimits::default(),
        };
        f(&mut ctx);
        out
    }
}

/// A probe's verdict on the first bytes of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Match,
    NoMatch,
    /// Too few bytes to tell.
    NeedMore,
}

/// The common probe shape: `data` starts with one of `tokens` (Match), or with the
/// beginning of one (NeedMore).
pub fn probe_prefixes(data: &[u8], tokens: &[&[u8]]) -> Probe {
    let mut need_more = false;
    for token in tokens {
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

/// A protocol's dissector: turns one flow's payload into facts. Only `on_data` is
/// required; the rest describe what most dissectors need not say.
pub trait Dissector: Send {
    /// The next in-order payload of one direction.
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>);

    /// Bytes of `dir` were lost: drop partial messages, resynchronise if possible.
    fn on_gap(&mut self, _dir: Direction) {}

    /// The flow's content is encrypted (a TLS handshake finished, STARTTLS taken, …).
    fn encrypted(&self) -> bool {
        false
    }

    /// Nothing more can be learnt from the payload: the engine may stop delivering it.
    fn finished(&self) -> bool {
        false
    }

    /// The flow ends: dissectors that summarise (RTP, SIP dialogs) say so.
    fn on_end(&mut self, _ctx: &mut Ctx<'_>) {}

    /// Bytes of partial messages held, for the engine's memory budget. A dissector that
    /// buffers across segments must count them.
    fn buffered(&self) -> usize {
        0
    }

    /// The app protocol a dissector knows better than its detector (RTP proven SRTP,
    /// SIP over a WebSocket).
    fn refine_app_proto(&self, detected: AppProto) -> AppProto {
        detected
    }

    /// The content proved not to be this protocol: the flow goes back to unclassified.
    fn rejected(&self) -> bool {
        false
    }

    /// Media recognised by its headers alone, which a later SDP announcement may still
    /// describe (see `adopt_media`).
    fn unsignalled_media(&self) -> bool {
        false
    }

    /// Takes what an SDP announcement that came after the flow's first packets says.
    fn adopt_media(&mut self, _hint: rtp::MediaHint) {}
}

/// One protocol as detection sees it: where it runs, the ports that make it the first
/// guess, how to recognise it and how to start its dissector. Each protocol module
/// exports its registrations; `PROTOCOLS` names them all.
pub struct Registration {
    pub app_proto: AppProto,
    pub l4: L4,
    /// Ports (server or client side) that make this protocol the first candidate asked.
    pub ports: &'static [u16],
    pub probe: fn(&[u8]) -> Probe,
    pub start: fn() -> Box<dyn Dissector>,
}

/// Every registered protocol. Among the candidates of a transport, those whose port
/// hint matches are asked first, then the rest, each group in this order.
pub const PROTOCOLS: &[&Registration] = &[
    &tls::TLS,
    &tls::DTLS,
    &http::HTTP,
    &sip::SIP_UDP,
    &sip::SIP_TCP,
    // Media without signalling seen last: header shapes are weak evidence, and the RTP
    // dissector must still prove the flow is RTP.
    &rtp::RTCP,
    &rtp::RTP,
    &ldap::LDAP_TCP,
    &ldap::LDAP_UDP,
    &snmp::SNMP_UDP,
    &snmp::SNMP_TCP,
    &mail::SMTP,
    &mail::FTP,
    &mail::POP3,
    &mail::IMAP,
    &telnet::TELNET,
    &mqtt::MQTT,
    &axi::AXI,
    &espa::ESPA,
    &cdr::CDR,
    &tds::TDS,
    &smb::SMB,
    &syslog::SYSLOG_UDP,
    &syslog::SYSLOG_TCP,
    &modbus::MODBUS,
    &pgsql::PGSQL,
    &mysql::MYSQL,
    &radius::RADIUS,
    &ssh::SSH,
    // RTP over TCP (RFC 4571) asked last: a length prefix is weak evidence, and the
    // stream must prove itself as unsignalled UDP media does.
    &rtp::RTP_OVER_TCP,
];

/// Bytes held by a dissector's per-direction buffers.
pub(crate) fn held_bytes(buffers: &[Vec<u8>]) -> usize {
    buffers.iter().map(Vec::capacity).sum()
}

/// SIP over TLS (RFC 3261 §26.2).
const SIP_TLS_PORT: u16 = 5061;

/// Our own limits on detection: how long a flow may stay unclassified.
const MAX_PROBE_CHUNKS: u16 = 16;
const MAX_PROBE_BYTES: usize = 4096;
/// Bytes kept from a direction while probes ask for more (long enough for an LDAP or
/// SNMP-over-TCP header with a long DN or community).
const PROBE_BUFFER: usize = 512;

/// Matches held from chunks scanned while the flow was still being classified: they
/// count (as 7001) only if no dissector claims the flow.
const MAX_PROVISIONAL_MATCHES: usize = 32;

enum State {
    Detecting {
        chunks: u16,
        bytes: usize,
        held: [Vec<u8>; 2],
        provisional: Vec<Match>,
    },
    Active {
        app_proto: AppProto,
        /// Boxed: flows being detected or unclassified (most of a flood) stay small.
        dissector: Box<dyn Dissector>,
    },
    /// No dissector: textual payload is scanned for personal data (rule 7001).
    /// `binary_chunks` counts payloads that did not look like text; a flow whose first
    /// `MAX_BINARY_CHUNKS` all did not is given up (encrypted or binary protocols make
    /// most of what stays unclassified, and scanning them finds nothing).
    Unclassified { binary_chunks: u8, textual: bool },
}

/// Binary payloads in a row, before any text, after which an unclassified flow is no
/// longer read.
const MAX_BINARY_CHUNKS: u8 = 16;

impl State {
    fn unclassified() -> Self {
        State::Unclassified {
            binary_chunks: 0,
            textual: false,
        }
    }
}

/// The application layer of one flow.
/// In C order, the small fields first: what every packet reads (the limits and budget
/// its `Ctx` carries, the state's tag and dissector) then spans one cache line.
#[repr(C)]
pub struct AppLayer {
    limits: AppLimits,
    budget: ScanBudget,
    /// Ports ordered (server, client): the server port is the better hint.
    ports: (u16, u16),
    l4: L4,
    state: State,
}

impl AppLayer {
    pub fn new(l4: L4, server_port: u16, client_port: u16, limits: AppLimits) -> Self {
        AppLayer {
            state: State::Detecting {
                chunks: 0,
                bytes: 0,
                held: Default::default(),
                provisional: Vec::new(),
            },
            ports: (server_port, client_port),
            l4,
            budget: ScanBudget::new(limits.scan_bytes),
            limits,
        }
    }

    /// A flow the signalling announced: no detection, the RTP/RTCP dissector starts
    /// with what the SDP said.
    pub fn expected_media(
        server_port: u16,
        client_port: u16,
        limits: AppLimits,
        hint: rtp::MediaHint,
    ) -> Self {
        let app_proto = if hint.rtcp {
            AppProto::Rtcp
        } else {
            AppProto::Rtp
        };
        AppLayer {
            state: State::Active {
                app_proto,
                dissector: Box::new(rtp::RtpDissector::signalled(hint)),
            },
            ports: (server_port, client_port),
            l4: L4::Udp,
            budget: ScanBudget::new(limits.scan_bytes),
            limits,
        }
    }

    /// A UDP flow that an SDP announcement would still change: not classified yet, or
    /// media found only by its headers.
    pub fn awaits_signalling(&self) -> bool {
        self.l4 == L4::Udp
            && match &self.state {
                State::Detecting { .. } | State::Unclassified { .. } => true,
                State::Active { dissector, .. } => dissector.unsignalled_media(),
            }
    }

    /// Takes an SDP announcement that came after the flow's first packets.
    pub fn adopt_media(&mut self, hint: rtp::MediaHint) {
        match &mut self.state {
            State::Active { dissector, .. } => dissector.adopt_media(hint),
            State::Detecting { .. } | State::Unclassified { .. } => {
                *self = AppLayer::expected_media(self.ports.0, self.ports.1, self.limits, hint);
            }
        }
    }

    pub fn app_proto(&self) -> AppProto {
        match &self.state {
            State::Active {
                app_proto,
                dissector,
            } => dissector.refine_app_proto(*app_proto),
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
            State::Unclassified { .. } => !self.budget.exhausted(),
        }
    }

    pub fn on_gap(&mut self, dir: Direction) {
        if let State::Active { dissector, .. } = &mut self.state {
            dissector.on_gap(dir);
        }
    }

    /// Bytes of partial messages this flow's application layer holds.
    pub fn buffered_bytes(&self) -> usize {
        match &self.state {
            State::Detecting { held, .. } => held_bytes(held),
            State::Active { dissector, .. } => dissector.buffered(),
            State::Unclassified { .. } => 0,
        }
    }

    /// Drops the partial messages held, as a gap in both directions would (the engine's
    /// memory budget is full).
    pub fn shed_buffers(&mut self) {
        match &mut self.state {
            State::Detecting { held, .. } => *held = Default::default(),
            State::Active { dissector, .. } => {
                dissector.on_gap(Direction::ToServer);
                dissector.on_gap(Direction::ToClient);
            }
            State::Unclassified { .. } => {}
        }
    }

    /// The flow ends: whatever was held while classifying now counts, and dissectors
    /// that summarise (RTP, SIP dialogs) say so.
    pub fn on_end(&mut self, out: &mut Output, scanner: &Scanner) {
        let app_proto = self.app_proto();
        match &mut self.state {
            State::Detecting { provisional, .. } => {
                if !provisional.is_empty() {
                    out.facts
                        .push(Fact::PersonalData(PersonalData::matches(std::mem::take(
                            provisional,
                        ))));
                }
                self.state = State::unclassified();
            }
            State::Active { dissector, .. } => {
                let mut ctx = Ctx {
                    out,
                    scanner,
                    budget: &mut self.budget,
                    app_proto,
                    limits: self.limits,
                };
                dissector.on_end(&mut ctx);
            }
            State::Unclassified { .. } => {}
        }
    }

    // The classified flow (nearly every packet: RTP) inline in the engine; detection
    // and unclassified flows out of line, so their registers and stack are not set up
    // for every media packet.
    #[inline(always)]
    pub fn on_data(&mut self, dir: Direction, data: &[u8], out: &mut Output, scanner: &Scanner) {
        if data.is_empty() {
            return;
        }
        let State::Active {
            app_proto,
            dissector,
        } = &mut self.state
        else {
            return self.on_data_unsettled(dir, data, out, scanner);
        };
        let mut ctx = Ctx {
            out,
            scanner,
            budget: &mut self.budget,
            app_proto: dissector.refine_app_proto(*app_proto),
            limits: self.limits,
        };
        dissector.on_data(dir, data, &mut ctx);
        if dissector.rejected() {
            self.state = State::unclassified();
        }
    }

    /// `on_data` of a flow still being detected, or unclassified.
    #[inline(never)]
    fn on_data_unsettled(
        &mut self,
        dir: Direction,
        data: &[u8],
        out: &mut Output,
        scanner: &Scanner,
    ) {
        let mut ctx = Ctx {
            out,
            scanner,
            budget: &mut self.budget,
            app_proto: AppProto::Failed,
            limits: self.limits,
        };
        match &mut self.state {
            // Handled by `on_data`.
            State::Active { .. } => {}
            State::Unclassified {
                binary_chunks,
                textual,
            } => {
                if looks_textual(data) {
                    *textual = true;
                    ctx.scan(Field::Text, data);
                } else if !*textual {
                    *binary_chunks = binary_chunks.saturating_add(1);
                    if *binary_chunks >= MAX_BINARY_CHUNKS {
                        ctx.budget.exhaust();
                    }
                }
            }
            State::Detecting {
                chunks,
                bytes,
                held,
                provisional,
            } => {
                *chunks += 1;
                *bytes += data.len();
                // FTP and SMTP servers may greet alike (`220 Welcome`): then the
                // client's first command decides.
                let settled = (dir == Direction::ToServer
                    && mail::bare_greeting(&held[Direction::ToClient.index()]))
                .then(|| mail::settle_bare_greeting(data))
                .flatten()
                .and_then(|proto| {
                    PROTOCOLS
                        .iter()
                        .copied()
                        .find(|d| d.app_proto == proto && d.l4 == self.l4)
                });
                let held_dir = &mut held[dir.index()];
                let (verdict, start) = if let Some(detector) = settled {
                    (Detection::Found(detector), None)
                } else if held_dir.is_empty() {
                    (detect(self.l4, self.ports, data), None)
                } else {
                    let mut joined = std::mem::take(held_dir);
                    joined.extend_from_slice(data);
                    (detect(self.l4, self.ports, &joined), Some(joined))
                };
                match verdict {
                    Detection::Found(detector) => {
                        let mut dissector = (detector.start)();
                        // SIP over TLS (RFC 3261 §26.2) is judged as TLS and named sip.
                        let app_proto = if detector.app_proto == AppProto::Tls
                            && self.ports.0 == SIP_TLS_PORT
                        {
                            AppProto::Sip
                        } else {
                            detector.app_proto
                        };
                        ctx.app_proto = app_proto;
                        dissector.on_data(dir, start.as_deref().unwrap_or(data), &mut ctx);
                        self.state = State::Active {
                            app_proto,
                            dissector,
                        };
                    }
                    verdict => {
                        if provisional.len() < MAX_PROVISIONAL_MATCHES && looks_textual(data) {
                            let allowed = ctx.budget.take(data.len());
                            scanner.scan(
                                &data[..allowed],
                                Field::Text,
                                AppProto::Failed.as_str(),
                                provisional,
                            );
                            provisional.truncate(MAX_PROVISIONAL_MATCHES);
                        }
                        // A probe still reading a message's start (a TCP peer may send
                        // it a byte per segment) is bounded by bytes, not segments.
                        if matches!(verdict, Detection::NeedMore) && self.l4 == L4::Tcp {
                            *chunks -= 1;
                        }
                        let exhausted = *chunks >= MAX_PROBE_CHUNKS || *bytes >= MAX_PROBE_BYTES;
                        if matches!(verdict, Detection::NeedMore)
                            && self.l4 == L4::Tcp
                            && !exhausted
                        {
                            let mut keep = start.unwrap_or_else(|| data.to_vec());
                            keep.truncate(PROBE_BUFFER);
                            held[dir.index()] = keep;
                        } else if exhausted {
                            if !provisional.is_empty() {
                                ctx.out.facts.push(Fact::PersonalData(PersonalData::matches(
                                    std::mem::take(provisional),
                                )));
                            }
                            self.state = State::unclassified();
                        }
                    }
                }
            }
        }
    }
}

enum Detection {
    Found(&'static Registration),
    NeedMore,
    NoMatch,
}

/// One bit per registration (its index in [`PROTOCOLS`]) in a port's hint mask.
const _: () = assert!(PROTOCOLS.len() <= 64);

/// The registrations whose port hints name `port`, one bit each. Asked on every
/// detection attempt, so a binary search over one sorted table instead of a walk over
/// every registration's port list.
fn port_hints(port: u16) -> u64 {
    static HINTS: OnceLock<Vec<(u16, u64)>> = OnceLock::new();
    let hints = HINTS.get_or_init(|| {
        let mut hints: Vec<(u16, u64)> = Vec::new();
        for (index, registration) in PROTOCOLS.iter().enumerate() {
            for &port in registration.ports {
                match hints.binary_search_by_key(&port, |&(p, _)| p) {
                    Ok(at) => hints[at].1 |= 1 << index,
                    Err(at) => hints.insert(at, (port, 1 << index)),
                }
            }
        }
        hints
    });
    hints
        .binary_search_by_key(&port, |&(p, _)| p)
        .map_or(0, |at| hints[at].1)
}

fn detect(l4: L4, (server_port, client_port): (u16, u16), data: &[u8]) -> Detection {
    let hinted_mask = port_hints(server_port) | port_hints(client_port);
    let hinted = |&(index, _): &(usize, &&Registration)| hinted_mask >> index & 1 == 1;
    let candidates = PROTOCOLS.iter().enumerate().filter(|(_, d)| d.l4 == l4);
    let ordered = candidates
        .clone()
        .filter(hinted)
        .chain(candidates.filter(|c| !hinted(c)))
        .map(|(_, d)| d);
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
    use crate::signatures::Signatures;

    fn scanner() -> Scanner {
        Scanner::new(Signatures::builtin().patterns)
    }

    #[test]
    fn detection_by_content_not_port() {
        let s = scanner();
        let mut app = AppLayer::new(L4::Tcp, 5080, 40000, AppLimits::default());
        let mut out = Output::default();
        app.on_data(Direction::ToServer, b"GE", &mut out, &s);
        assert_eq!(app.app_proto(), AppProto::Failed);
        app.on_data(
            Direction::ToServer,
            b"T / HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n",
            &mut out,
            &s,
        );
        assert_eq!(app.app_proto(), AppProto::Http);
        assert_eq!(out.facts.len(), 1);

        let mut tls_on_80 = AppLayer::new(L4::Tcp, 80, 40000, AppLimits::default());
        tls_on_80.on_data(
            Direction::ToServer,
            &[22, 3, 1, 0, 4, 1, 0, 0, 0],
            &mut out,
            &s,
        );
        assert_eq!(tls_on_80.app_proto(), AppProto::Tls);
    }

    #[test]
    fn bare_220_greeting_is_settled_by_the_client() {
        let s = scanner();
        for (command, proto) in [
            (&b"USER jane\r\n"[..], AppProto::Ftp),
            (b"SYST\r\n", AppProto::Ftp),
            (b"EHLO client.example\r\n", AppProto::Smtp),
        ] {
            let mut app = AppLayer::new(L4::Tcp, 2100, 40000, AppLimits::default());
            let mut out = Output::default();
            app.on_data(Direction::ToClient, b"220 Welcome\r\n", &mut out, &s);
            assert_eq!(app.app_proto(), AppProto::Failed);
            app.on_data(Direction::ToServer, command, &mut out, &s);
            assert_eq!(app.app_proto(), proto);
        }
        // Without the greeting, USER alone (POP3 has it too) decides nothing.
        let mut app = AppLayer::new(L4::Tcp, 2100, 40000, AppLimits::default());
        app.on_data(
            Direction::ToServer,
            b"USER jane\r\n",
            &mut Output::default(),
            &s,
        );
        assert_eq!(app.app_proto(), AppProto::Failed);
    }

    #[test]
    fn unclassified_text_is_scanned_binary_is_not() {
        let s = scanner();
        let mut app = AppLayer::new(L4::Udp, 9999, 40000, AppLimits::default());
        let mut out = Output::default();
        app.on_data(
            Direction::ToServer,
            b"CDR;2026-11-22;+441632960961;120s",
            &mut out,
            &s,
        );
        assert!(
            out.facts.is_empty(),
            "held until the flow is known to be unclassified"
        );
        for _ in 1..MAX_PROBE_CHUNKS {
            app.on_data(
                Direction::ToServer,
                b"\x00\x01\x02 nothing we know \xff\xfe\x00\x01\x02\x03",
                &mut out,
                &s,
            );
        }
        assert_eq!(app.app_proto(), AppProto::Failed);
        assert!(
            matches!(out.facts.as_slice(), [Fact::PersonalData(PersonalData { matches: m, .. })] if m.len() == 1),
            "{:?}",
            out.facts
        );
        assert!(
            app.wants_payload(),
            "unclassified flows are scanned within budget"
        );

        let mut short = AppLayer::new(L4::Tcp, 9999, 40000, AppLimits::default());
        let mut out = Output::default();
        short.on_data(
            Direction::ToServer,
            b"mail me: alice.martin@example.com",
            &mut out,
            &s,
        );
        short.on_end(&mut out, &s);
        assert!(
            matches!(out.facts.as_slice(), [Fact::PersonalData(PersonalData { matches: m, .. })] if m[0].evidence == "a***@example.com"),
            "{:?}",
            out.facts
        );
    }
}
