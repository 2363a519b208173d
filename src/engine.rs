//! The one pass: decode → flow → app layer → facts → policy, and flow ends handed to
//! the sinks with their alerts. Capture sources and sinks plug in from outside, so
//! offline analysis and (later) the live sensor share this code.

use std::sync::{Arc, Mutex};

use crate::capture::Packet;
use crate::config::Config;
use crate::decode::tunnel::{self, Tunnel, Tunnels};
use crate::decode::{self, DecodeError, DefragLimits, Defragmenter, IpPacket, Transport};
use crate::flow::{
    Direction, EndReason, ExpectationLimits, Expectations, FirstPacket, Flow, FlowKey, FlowLimits,
    FlowTable, ReassemblyLimits, SegmentEndpoint, StreamChunk, TcpState, L4,
};
use crate::memory::{ShedReason, ShedStats};
use crate::output::{ConnectionState, FlowEvent, Sink, TlsSummary};
use crate::personal_data::Scanner;
use crate::policy::alerts::{Alerter, FlowAlerts, FlowEnd};
use crate::policy::{Finding, Policy};
use crate::protocols::fact::Session;
use crate::protocols::rtp::{MediaHint, StreamSummary};
use crate::protocols::sdp::static_codec;
use crate::protocols::sip::MediaOffer;
use crate::protocols::smb::SmbSession;
use crate::protocols::tls::TlsFact;
use crate::protocols::{AppLayer, AppLimits, Fact, Output};
use crate::threads::{lock, Progress};
use crate::timestamp::Timestamp;

mod stats;
pub use stats::EngineStats;

/// Idle flows are looked for once per second of capture time.
const SWEEP_INTERVAL: u64 = 1_000_000_000;
/// Packets during which an unsignalled UDP flow still looks for an SDP announcement
/// (one second of 20 ms audio).
const LATE_SIGNALLING_PACKETS: u64 = 50;
/// Long-running flows are checked for the active timeout once a minute.
const ACTIVE_SWEEP_INTERVAL: u64 = 60_000_000_000;
/// Announcements of one endpoint in input-position order: (what, position, when).
type Announcements = Vec<(MediaHint, u64, Timestamp)>;
/// Our own cap on the announcements of one endpoint kept for workers still behind:
/// re-INVITEs and answers renew an endpoint while another worker may still read
/// packets from before them. Only a flood of renewals reaches it.
const MAX_ANNOUNCEMENTS: usize = 64;

/// Adds an announcement made at `position`. Versions no reader can need any more go:
/// every worker is at or past `horizon`, so only the last version before it and those
/// after it can still be read.
fn announce(
    expectations: &mut Expectations<Announcements>,
    endpoint: SegmentEndpoint,
    (hint, position): (MediaHint, u64),
    horizon: u64,
    now: Timestamp,
) {
    expectations.renew(endpoint, now, |old| {
        let mut versions = old.unwrap_or_default();
        let at = versions.partition_point(|(_, p, _)| *p <= position);
        versions.insert(at, (hint, position, now));
        let before_horizon = versions.partition_point(|(_, p, _)| *p < horizon);
        versions.drain(..before_horizon.saturating_sub(1));
        let over = versions.len().saturating_sub(MAX_ANNOUNCEMENTS);
        versions.drain(..over);
        versions
    });
}

/// What the engine keeps per flow besides the flow table's own counters.
/// In C order: the budget charge and the application layer, read for every packet,
/// first (see `Flow`).
#[repr(C)]
pub struct FlowState {
    /// Bytes this flow holds against the engine's memory budget (reassembly and
    /// dissector buffers), as last measured.
    charged: usize,
    app: AppLayer,
    tls: Option<TlsSummary>,
    media: Option<StreamSummary>,
    /// Boxed like the tunnel: most flows are not SMB.
    smb: Option<Box<SmbSession>>,
    /// The tunnel the flow's first packet came through.
    /// Boxed: most flows are not tunnelled, and the flow table stays dense.
    tunnel: Option<Box<Tunnel>>,
    /// Its alerts so far, one per rule.
    alerts: FlowAlerts,
    /// The file the flow's first packet came from.
    source: Arc<str>,
}

impl FlowState {
    fn record(&mut self, fact: &Fact) {
        if let Fact::Media(stream) = fact {
            self.media = Some(stream.clone());
        }
        if let Fact::Session(Session::Smb(session)) = fact {
            self.smb = Some(Box::new(session.clone()));
        }
        if let Fact::Encryption(tls) = fact {
            let summary = self.tls.get_or_insert_with(TlsSummary::default);
            match tls {
                TlsFact::ClientHello { max_version, sni } => {
                    summary.client_max_version = Some(*max_version);
                    summary.sni.clone_from(sni);
                }
                TlsFact::ServerHello { version, cipher } => {
                    summary.version = Some(*version);
                    summary.cipher = Some(*cipher);
                }
            }
        }
    }

    /// The tenant network the flow belongs to (its key's segment).
    fn segment(&self) -> u32 {
        self.tunnel.as_ref().map_or(0, |t| t.segment())
    }
}

/// What judging a flow needs besides the flow itself: the policy and reusable buffers.
/// Kept apart from the flow table so a flow ending inside a table operation can be
/// judged and written without borrowing the table.
struct Judge {
    policy: Policy,
    scanner: Scanner,
    limits: AppLimits,
    /// What the dissectors produced: facts for the policy (drained per packet), media
    /// offers (moved to `offers` by `apply`) and the anomalies counted so far.
    out: Output,
    /// Media announced since the last packet, with the tenant network of the flow that
    /// announced it: the engine turns them into expectations outside the flow-table
    /// borrow, and a flow ending meanwhile must not lend them its own tenant.
    offers: Vec<(u32, MediaOffer)>,
    findings: Vec<Finding>,
    reassembly: ReassemblyLimits,
    tcp_gaps: u64,
    tcp_retransmitted_bytes: u64,
    /// Bytes the live flows hold against the memory budget (the sum of their `charged`).
    flow_buffers: usize,
    alerter: Alerter,
    flow_limits: FlowLimits,
}

impl Judge {
    /// Runs the facts a dissector produced through the policy into the flow, and keeps
    /// its media offers for `Engine::expect_media`. `direction` is the packet's that
    /// made the facts; a flow's end counts as to the server (the flow's own
    /// orientation).
    fn apply(&mut self, ts: Timestamp, direction: Direction, state: &mut FlowState) {
        let segment = state.segment();
        self.offers
            .extend(self.out.offers.drain(..).map(|offer| (segment, offer)));
        let app_proto = state.app.app_proto();
        for fact in self.out.facts.drain(..) {
            state.record(&fact);
            self.policy.evaluate(&fact, app_proto, &mut self.findings);
        }
        for finding in self.findings.drain(..) {
            state.alerts.add(ts, direction, finding);
        }
    }

    /// Measures what a flow holds now and charges the difference to the budget.
    fn recharge(&mut self, flow: &mut Flow<FlowState>) {
        let streams = match flow.l4 {
            L4::Tcp => stream_bytes(&flow.tcp),
            L4::Udp => 0,
        };
        let held = streams + flow.state.app.buffered_bytes();
        self.flow_buffers = self.flow_buffers - flow.state.charged + held;
        flow.state.charged = held;
    }
}

/// Bytes a TCP flow's two reassemblers hold. Out of line so that a UDP flow's packets
/// never read them: inlined, the compiler loaded both (a branch-free select), and they
/// sit in cache lines the flow's packets otherwise never touch: a cache miss per
/// RTP packet.
#[inline(never)]
fn stream_bytes(tcp: &TcpState) -> usize {
    tcp.streams[0].buffered_bytes() + tcp.streams[1].buffered_bytes()
}

/// A judge with the sink of the current call.
struct Finisher<'s> {
    judge: &'s mut Judge,
    sink: &'s mut dyn Sink,
}

impl Finisher<'_> {
    fn end(&mut self, mut flow: Flow<FlowState>, reason: EndReason) {
        self.judge.flow_buffers -= flow.state.charged;
        // Whatever waited for a missing segment is delivered now, after a gap.
        if flow.l4 == L4::Tcp && flow.state.app.wants_payload() {
            for dir in [Direction::ToServer, Direction::ToClient] {
                let FlowState { app, .. } = &mut flow.state;
                let Judge { out, scanner, .. } = &mut *self.judge;
                flow.tcp.streams[dir.index()]
                    .flush(&mut |chunk| deliver(app, dir, chunk, out, scanner));
            }
        }
        // Counted for every TCP flow, also those whose dissector finished early.
        for stream in &flow.tcp.streams {
            self.judge.tcp_gaps += stream.gaps;
            self.judge.tcp_retransmitted_bytes += stream.retransmitted_bytes;
        }
        let Judge { out, scanner, .. } = &mut *self.judge;
        flow.state.app.on_end(out, scanner);
        let last = flow.last;
        self.judge.apply(last, Direction::ToServer, &mut flow.state);
        self.emit(&mut flow, reason);
    }

    fn emit(&mut self, flow: &mut Flow<FlowState>, reason: EndReason) {
        let Judge {
            policy,
            alerter,
            flow_limits,
            ..
        } = &mut *self.judge;
        let timeout = flow.idle_timeout(flow_limits).saturating_mul(1_000_000_000);
        let end = FlowEnd {
            // The tenant network is part of the key: another tenant's flow with the
            // same addresses is another flow.
            key: FlowKey::new(flow.l4, flow.client, flow.server).in_segment(flow.state.segment()),
            client: flow.client,
            server: flow.server,
            start: flow.start,
            evicted: reason == EndReason::Evicted,
            remember_until: Timestamp(flow.last.0.saturating_add(timeout)),
        };
        let alerts = alerter.take(policy, &mut flow.state.alerts, &end);
        let event = FlowEvent {
            flow_id: flow.id,
            l4: flow.l4,
            client: flow.client,
            server: flow.server,
            app_proto: flow.state.app.app_proto(),
            start: flow.start,
            end: flow.last,
            pkts: flow.pkts,
            bytes: flow.bytes,
            encrypted: flow.state.app.encrypted(),
            tls: flow.state.tls.as_ref(),
            media: flow.state.media.as_ref(),
            smb: flow.state.smb.as_deref(),
            tunnel: flow.state.tunnel.as_deref(),
            reason,
            state: flow_state(flow),
            source: &flow.state.source,
            alerts: &alerts,
        };
        self.sink.flow_ended(&event);
    }
}

/// Suricata's flow states: TCP closed by FIN from both sides or a RST, any flow
/// established once both sides sent packets, new before that.
fn flow_state(flow: &Flow<FlowState>) -> ConnectionState {
    let closed = flow.l4 == L4::Tcp && (flow.tcp.rst || (flow.tcp.fin[0] && flow.tcp.fin[1]));
    if closed {
        ConnectionState::Closed
    } else if flow.pkts[0] > 0 && flow.pkts[1] > 0 {
        ConnectionState::Established
    } else {
        ConnectionState::New
    }
}

fn deliver(
    app: &mut AppLayer,
    dir: Direction,
    chunk: StreamChunk<'_>,
    out: &mut Output,
    scanner: &Scanner,
) {
    match chunk {
        StreamChunk::Data(data) => app.on_data(dir, data, out, scanner),
        StreamChunk::Gap(_) => app.on_gap(dir),
    }
}

pub struct Engine {
    judge: Judge,
    flows: FlowTable<FlowState>,
    /// Media announced by SDP, shared by the engines of all workers: a call's media
    /// may travel between other addresses than its signalling, so land elsewhere.
    /// Each announcement carries the input position of the packet that made it; the
    /// last few per endpoint are kept, so a worker behind another reads the one that
    /// was in force at its own position (see `threads::Progress`).
    expectations: Arc<Mutex<Expectations<Announcements>>>,
    /// Whether this engine reports the shared table's evictions (one engine does).
    reports_expectations: bool,
    defrag: Defragmenter,
    /// Input position of the packet being processed: its index in the input for one
    /// engine, the reader's numbering for workers.
    position: u64,
    /// Set for the workers of one offline run: their shared progress and this one's
    /// index.
    ordered: Option<(Arc<Progress>, usize)>,
    /// How long an announcement is valid, in ns.
    expectation_ttl: u64,
    /// Bytes of buffered input this engine may hold (DESIGN §8; see `memory`).
    memory_budget: usize,
    shed: ShedStats,
    tunnels: Tunnels,
    current_file: Arc<str>,
    next_sweep: Timestamp,
    next_active_sweep: Timestamp,
    stats: EngineStats,
}

impl Engine {
    pub fn new(config: &Config, policy: Policy, scanner: Scanner) -> Self {
        Engine {
            judge: Judge {
                policy,
                scanner,
                limits: AppLimits {
                    scan_bytes: config.scan.max_bytes_per_flow,
                    sip_dialogs: config.media.max_sip_dialogs,
                },
                out: Output::default(),
                offers: Vec::new(),
                findings: Vec::new(),
                reassembly: config.reassembly_limits(),
                tcp_gaps: 0,
                tcp_retransmitted_bytes: 0,
                flow_buffers: 0,
                alerter: Alerter::default(),
                flow_limits: config.flow,
            },
            flows: FlowTable::new(config.flow),
            expectations: Arc::new(Mutex::new(Expectations::new(ExpectationLimits {
                max_entries: config.media.max_expectations,
                ttl_secs: config.media.expectation_ttl,
            }))),
            reports_expectations: true,
            defrag: Defragmenter::new(DefragLimits {
                max_datagrams: config.max_ip_fragments,
                ..DefragLimits::default()
            }),
            position: 0,
            ordered: None,
            expectation_ttl: config.media.expectation_ttl.saturating_mul(1_000_000_000),
            memory_budget: config.memory.budget_bytes(),
            shed: ShedStats::default(),
            tunnels: Tunnels::new(&config.tunnels),
            current_file: Arc::from(""),
            next_sweep: Timestamp::default(),
            next_active_sweep: Timestamp::default(),
            stats: EngineStats::default(),
        }
    }

    /// An engine with the built-in signatures and no suppressions (benches, tests).
    pub fn with_builtin_signatures(config: &Config) -> Self {
        static BUILTIN: std::sync::OnceLock<crate::signatures::Signatures> =
            std::sync::OnceLock::new();
        let sigs = BUILTIN
            .get_or_init(crate::signatures::Signatures::builtin)
            .clone();
        let min_tls = config
            .min_tls()
            .unwrap_or(crate::protocols::tls::TlsVersion::Tls12);
        let policy = Policy::new(
            sigs.rules,
            sigs.raises,
            min_tls,
            crate::policy::suppress::Suppressions::default(),
        );
        Engine::new(config, policy, Scanner::new(sigs.patterns))
    }

    /// Makes this engine worker `index` of `workers`, so flow ids stay unique across
    /// workers (worker 0 of 1 numbers 1, 2, 3 …).
    pub fn set_worker(&mut self, index: usize, workers: usize) {
        self.flows.number_flows(index as u64 + 1, workers as u64);
    }

    /// Makes this engine use `other`'s media expectations (workers of one sensor).
    pub fn share_expectations(&mut self, other: &Engine) {
        self.expectations = Arc::clone(&other.expectations);
        self.reports_expectations = false;
    }

    /// Names the source of the packets that follow (`pcap_filename`, `in_iface`).
    pub fn set_source(&mut self, name: &str) {
        self.current_file = Arc::from(name);
    }

    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats.clone();
        s.flows_created = self.flows.stats.created;
        s.flow_evictions = self.flows.stats.evicted;
        s.tcp_gaps = self.judge.tcp_gaps;
        s.tcp_retransmitted_bytes = self.judge.tcp_retransmitted_bytes;
        s.fragments_reassembled = self.defrag.stats.reassembled;
        s.fragment_evictions = self.defrag.stats.evicted;
        if self.reports_expectations {
            s.expectation_evictions = lock(&self.expectations).evicted;
        }
        s.anomalies = self.judge.out.anomalies.clone();
        let named = self.defrag.stats.named();
        let repeated = (
            "alerts.repeated_after_eviction",
            self.judge.alerter.repeated(),
        );
        for (name, n) in named.into_iter().chain([repeated]) {
            if n > 0 {
                s.anomalies.insert(name, n);
            }
        }
        s.shed = self.shed;
        s.memory_budget = self.memory_budget as u64;
        s
    }

    pub fn tunnels(&self) -> &Tunnels {
        &self.tunnels
    }

    pub fn policy(&self) -> &Policy {
        &self.judge.policy
    }

    pub fn active_flows(&self) -> usize {
        self.flows.len()
    }

    /// Makes this engine worker `me` of workers that share `progress`: reads of the
    /// shared expectations then wait until every other worker has read every earlier
    /// packet, so they see what one engine would see (offline; see `Progress`).
    pub fn order_by(&mut self, progress: Arc<Progress>, me: usize) {
        self.ordered = Some((progress, me));
    }

    /// Tells the other workers this one has read every packet before input position
    /// `position`, up to capture time `now`: at each packet of its own, and when a
    /// worker that reads the whole input has skipped frames that are another's.
    pub fn passed(&self, position: u64, now: Timestamp) {
        if let Some((progress, me)) = &self.ordered {
            progress.reached(*me, position);
            progress.clock(*me, now);
        }
    }

    /// `process` for a packet at input position `position` (workers).
    pub fn process_at(&mut self, position: u64, packet: &Packet<'_>, sink: &mut dyn Sink) {
        self.passed(position, packet.ts);
        self.position = position;
        self.process_packet(packet, sink);
    }

    pub fn process(&mut self, packet: &Packet<'_>, sink: &mut dyn Sink) {
        self.position = self.stats.packets;
        self.process_packet(packet, sink);
    }

    fn process_packet(&mut self, packet: &Packet<'_>, sink: &mut dyn Sink) {
        self.stats.packets += 1;
        self.stats.bytes += packet.data.len() as u64;
        let ts = packet.ts;
        if ts >= self.next_sweep {
            self.sweep(ts, sink);
        }
        let frame_len = packet.data.len();
        let processed = decode::with_network(packet.linktype, packet.data, |ip| {
            self.process_ip(ts, frame_len, ip, None, sink)
        });
        match processed {
            Ok(Some(())) => {}
            Ok(None) => self.stats.non_ip += 1,
            Err(e) => self.decode_error(e),
        }
    }

    /// One IP packet, outermost or from inside `tunnel`: reassembled when it is a
    /// fragment, peeled when it is itself a tunnel (recursing at most
    /// `tunnels.max_depth` times), otherwise tracked as a flow.
    fn process_ip(
        &mut self,
        ts: Timestamp,
        frame_len: usize,
        ip: &IpPacket<'_>,
        tunnel: Option<Tunnel>,
        sink: &mut dyn Sink,
    ) {
        let reassembled;
        let transport_bytes = match ip.fragment {
            None => ip.payload,
            Some(frag) => match self.defrag.insert(ts, ip, frag) {
                Some(whole) => {
                    reassembled = whole;
                    &reassembled[..]
                }
                None => return self.keep_to_budget(ts),
            },
        };
        match tunnel::decapsulate(&self.tunnels, ip.protocol, transport_bytes) {
            Ok(None) => {}
            Ok(Some(peeled)) => {
                let tunnel = match tunnel {
                    None => Tunnel::new(ip.src, ip.dst, ip.protocol, peeled.ports, peeled.layer),
                    Some(outer) if outer.depth < self.tunnels.max_depth() => {
                        outer.nest(peeled.layer)
                    }
                    Some(_) => return self.decode_error(DecodeError::TunnelTooDeep),
                };
                let Some(inner) = peeled.inner else {
                    self.stats.non_ip += 1;
                    return;
                };
                return match decode::decode_ip(inner) {
                    Ok(inner) => self.process_ip(ts, frame_len, &inner, Some(tunnel), sink),
                    Err(e) => self.decode_error(e),
                };
            }
            Err(e) => return self.decode_error(e),
        }
        let transport = match decode::decode_transport(ip.protocol, transport_bytes) {
            Ok(t) => t,
            Err(e) => return self.decode_error(e),
        };
        let (l4, src_port, dst_port, payload, tcp) = match transport {
            Transport::Tcp(seg) => (L4::Tcp, seg.src_port, seg.dst_port, seg.payload, Some(seg)),
            Transport::Udp(d) => (L4::Udp, d.src_port, d.dst_port, d.payload, None),
            Transport::Other => {
                self.stats.other_transport += 1;
                return;
            }
        };
        // Borrowed, not copied: see `FlowKey::between`.
        let (src, dst) = ((&ip.src, src_port), (&ip.dst, dst_port));
        let segment = tunnel.map_or(0, |t| t.segment());
        let key = FlowKey::between(l4, src, dst).in_segment(segment);
        let (syn, ack) = tcp.map_or((false, false), |t| (t.flags.syn, t.flags.ack));
        let first = || FirstPacket {
            l4,
            src: (ip.src, src_port),
            dst: (ip.dst, dst_port),
            syn,
            ack,
        };
        let mut finisher = Finisher {
            judge: &mut self.judge,
            sink,
        };
        if syn && !ack {
            self.flows
                .end_if_closed(&key, &mut |old, reason| finisher.end(old, reason));
        }
        let file = &self.current_file;
        let limits = finisher.judge.limits;
        let expectations = &self.expectations;
        let (ordered, position) = (&self.ordered, self.position);
        let ttl = self.expectation_ttl;
        // Only what packets before this one announced, whichever worker read them.
        let announced = || {
            if let Some((progress, me)) = ordered {
                progress.wait_for_earlier(*me, position);
            }
            let expectations = lock(expectations);
            // The version in force at this position, if it has not aged out by now.
            let before = |versions: &Announcements| {
                let (hint, _, at) = versions.iter().rev().find(|(_, p, _)| *p < position)?;
                (ts.since(*at) < ttl).then(|| hint.clone())
            };
            expectations
                .get(&(segment, (ip.dst, dst_port)), ts)
                .and_then(before)
                .or_else(|| {
                    expectations
                        .get(&(segment, (ip.src, src_port)), ts)
                        .and_then(before)
                })
        };
        let flow = self.flows.get_or_create(
            &key,
            ts,
            first,
            |client, server| {
                // Only a new UDP flow asks whether SDP announced it.
                let hint = (l4 == L4::Udp).then(announced).flatten();
                FlowState {
                    app: match hint {
                        Some(hint) => AppLayer::expected_media(server.1, client.1, limits, hint),
                        None => AppLayer::new(l4, server.1, client.1, limits),
                    },
                    tls: None,
                    media: None,
                    smb: None,
                    tunnel: tunnel.map(Box::new),
                    alerts: FlowAlerts::default(),
                    source: Arc::clone(file),
                    charged: 0,
                }
            },
            &mut |old, reason| finisher.end(old, reason),
        );
        // Media can start before the SDP that announces it is read: early media, a
        // mirror that reorders, or (with workers) the dialog on another engine. An
        // unclassified or unproven UDP flow asks again during its first packets.
        if l4 == L4::Udp
            && flow.pkts[0] + flow.pkts[1] < LATE_SIGNALLING_PACKETS
            && flow.state.app.awaits_signalling()
        {
            if let Some(hint) = announced() {
                flow.state.app.adopt_media(hint);
            }
        }
        let dir = flow.direction_of(src);
        flow.pkts[dir.index()] += 1;
        flow.bytes[dir.index()] += frame_len as u64;
        match tcp {
            Some(seg) => {
                let stream = &mut flow.tcp.streams[dir.index()];
                if seg.flags.syn {
                    stream.on_syn(seg.seq);
                }
                flow.tcp.fin[dir.index()] |= seg.flags.fin;
                flow.tcp.rst |= seg.flags.rst;
                if !payload.is_empty() && flow.state.app.wants_payload() {
                    let FlowState { app, .. } = &mut flow.state;
                    let Judge {
                        out,
                        reassembly,
                        scanner,
                        ..
                    } = &mut *finisher.judge;
                    stream.on_segment(seg.seq, payload, reassembly, &mut |chunk| {
                        deliver(app, dir, chunk, out, scanner)
                    });
                }
            }
            None => {
                if flow.state.app.wants_payload() {
                    let Judge { out, scanner, .. } = &mut *finisher.judge;
                    flow.state.app.on_data(dir, payload, out, scanner);
                }
            }
        }
        let out = &finisher.judge.out;
        if !out.facts.is_empty() || !out.offers.is_empty() {
            finisher.judge.apply(ts, dir, &mut flow.state);
        }
        if !payload.is_empty() {
            finisher.judge.recharge(flow);
        }
        if !self.judge.offers.is_empty() {
            self.expect_media(ts);
        }
        if ip.fragment.is_some() || !payload.is_empty() {
            self.keep_to_budget(ts);
        }
    }

    /// Sheds buffered state, least valuable first, when the budget is full (see
    /// `memory`): down to seven eighths of it, so a flood pays for one walk over the
    /// flows per eighth of the budget it fills.
    // The check inline (it runs for every packet with a payload), the shedding not.
    #[inline(always)]
    fn keep_to_budget(&mut self, ts: Timestamp) {
        let held = self.judge.flow_buffers + self.defrag.held_bytes();
        self.shed.peak_bytes = self.shed.peak_bytes.max(held as u64);
        if held > self.memory_budget {
            self.shed_to_budget(ts);
        }
    }

    #[inline(never)]
    fn shed_to_budget(&mut self, ts: Timestamp) {
        let target = self.memory_budget / 8 * 7;
        let judge = &mut self.judge;
        let defrag = &mut self.defrag;
        let over = |judge: &Judge, defrag: &Defragmenter| {
            judge.flow_buffers + defrag.held_bytes() > target
        };
        // Segments waiting behind a hole in the oldest flows: delivered now, the hole
        // declared a gap, as a full per-flow buffer would.
        for flow in self.flows.oldest_first_mut() {
            if !over(judge, defrag) {
                break;
            }
            let waiting = flow.tcp.streams.iter().any(|s| s.buffered_bytes() > 0);
            if !waiting {
                continue;
            }
            let wants = flow.state.app.wants_payload();
            for dir in [Direction::ToServer, Direction::ToClient] {
                let FlowState { app, .. } = &mut flow.state;
                let Judge { out, scanner, .. } = &mut *judge;
                flow.tcp.streams[dir.index()].flush(&mut |chunk| {
                    if wants {
                        deliver(app, dir, chunk, out, scanner)
                    }
                });
                judge.apply(ts, dir, &mut flow.state);
            }
            judge.recharge(flow);
            self.shed.add(ShedReason::Reassembly, 1);
        }
        // Then the oldest incomplete IP datagrams.
        if over(judge, defrag) {
            let before = defrag.stats.shed;
            defrag.shed(target.saturating_sub(judge.flow_buffers));
            self.shed
                .add(ShedReason::IpFragments, defrag.stats.shed - before);
        }
        // Then partial messages of the oldest flows.
        for flow in self.flows.oldest_first_mut() {
            if !over(judge, defrag) {
                break;
            }
            if flow.state.app.buffered_bytes() == 0 {
                continue;
            }
            flow.state.app.shed_buffers();
            judge.recharge(flow);
            self.shed.add(ShedReason::AppBuffers, 1);
        }
    }

    /// Turns SDP media descriptions into expected RTP and RTCP endpoints, in the tenant
    /// network of the signalling that described them.
    fn expect_media(&mut self, now: Timestamp) {
        let horizon = match &self.ordered {
            Some((progress, _)) => progress.horizon(),
            None => self.position,
        };
        let mut expectations = lock(&self.expectations);
        for (segment, offer) in std::mem::take(&mut self.judge.offers) {
            let media = &offer.media;
            let Some(address) = media.address else {
                continue;
            };
            let mut codecs = media.rtpmap.clone();
            if let Some(pt) = media
                .first_format
                .filter(|pt| !codecs.iter().any(|(p, _)| p == pt))
            {
                codecs.extend(static_codec(pt).map(|c| (pt, c.to_string())));
            }
            let hint = MediaHint {
                secure: media.secure(),
                rtcp: false,
                telephone_event: media.telephone_event(),
                codecs,
                audio: media.kind.eq_ignore_ascii_case("audio"),
                dialog: offer.dialog,
            };
            let rtp = (segment, (address, media.port));
            if !media.rtcp_mux {
                let rtcp_port = media.rtcp_port.unwrap_or(media.port.wrapping_add(1));
                let rtcp = MediaHint {
                    rtcp: true,
                    ..hint.clone()
                };
                let rtcp_endpoint = (segment, (address, rtcp_port));
                announce(
                    &mut expectations,
                    rtcp_endpoint,
                    (rtcp, self.position),
                    horizon,
                    now,
                );
            }
            announce(&mut expectations, rtp, (hint, self.position), horizon, now);
        }
    }

    fn decode_error(&mut self, e: DecodeError) {
        *self.stats.decode_errors.entry(e.reason()).or_default() += 1;
    }

    fn sweep(&mut self, now: Timestamp, sink: &mut dyn Sink) {
        self.next_sweep = Timestamp(now.0.saturating_add(SWEEP_INTERVAL));
        let mut finisher = Finisher {
            judge: &mut self.judge,
            sink,
        };
        self.flows
            .expire(now, &mut |flow, reason| finisher.end(flow, reason));
        if now >= self.next_active_sweep {
            self.next_active_sweep = Timestamp(now.0.saturating_add(ACTIVE_SWEEP_INTERVAL));
            self.defrag.expire(now);
            // Workers age the shared table by the clock of the one furthest behind, so
            // none loses an announcement it would still have found alone.
            let clock = match &self.ordered {
                Some((progress, _)) => progress.earliest_clock().min(now),
                None => now,
            };
            lock(&self.expectations).expire(clock);
            self.flows.for_each_active_expired(now, |flow| {
                finisher.emit(flow, EndReason::ActiveTimeout);
                flow.start = now;
                flow.pkts = [0; 2];
                flow.bytes = [0; 2];
            });
        }
    }

    /// Moves the capture clock without a packet (a quiet live link), so idle flows
    /// still end and are written.
    pub fn advance(&mut self, now: Timestamp, sink: &mut dyn Sink) {
        if now >= self.next_sweep {
            self.sweep(now, sink);
        }
    }

    /// `advance` by each of these times in turn: the frames of the other workers.
    pub fn advance_over(&mut self, times: &[Timestamp], sink: &mut dyn Sink) {
        for &now in times {
            self.advance(now, sink);
        }
    }

    /// Ends every flow: end of input or shutdown.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        let mut finisher = Finisher {
            judge: &mut self.judge,
            sink,
        };
        self.flows
            .drain(&mut |flow, reason| finisher.end(flow, reason));
    }
}
