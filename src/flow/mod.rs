//! Bidirectional flows: the key, client/server orientation, counters, timeouts, and a
//! table whose size is bounded by configuration.
//!
//! The table is generic over the per-flow state `T` the engine keeps (application
//! layer, pending alerts), so this module knows nothing of protocols.

mod expect;
mod reassembly;

pub use expect::{ExpectationLimits, Expectations};
pub use reassembly::{ReassemblyLimits, StreamChunk, StreamReassembler};

use std::hash::BuildHasher;
use std::net::IpAddr;

use hashlink::linked_hash_map::RawEntryMut;
use hashlink::LinkedHashMap;
use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

pub type Endpoint = (IpAddr, u16);
/// An endpoint within one tenant's network: the segment a `FlowKey` carries (the
/// VXLAN / GENEVE VNI, 0 outside one) and the address and port.
pub type SegmentEndpoint = (u32, Endpoint);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4 {
    Tcp,
    Udp,
}

impl L4 {
    pub fn as_str(self) -> &'static str {
        match self {
            L4::Tcp => "TCP",
            L4::Udp => "UDP",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer = 0,
    ToClient = 1,
}

impl Direction {
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// The same key for both directions: endpoints in canonical order. Addresses are kept
/// as integers (with the family in `rest`) so hashing and comparing a key, done for
/// every packet, is a few word operations rather than a walk over `IpAddr` enums; and
/// the key is 48 bytes, so with the fields of `Flow` the lookup reads first it spans
/// two cache lines rather than three (measured: a third of the lookup's cache misses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    /// The lower endpoint's address, then the higher one's (IPv4 in the low 32 bits).
    addrs: [u128; 2],
    /// The lower endpoint's port (bits 0–15), the higher one's (16–31), the transport
    /// (bit 32: UDP), IPv6 (bit 33), and from bit 40 the VXLAN / GENEVE network the
    /// flow was seen in (24 bits), 0 outside one: tenants' overlapping addresses stay
    /// apart.
    rest: u64,
}

impl std::hash::Hash for FlowKey {
    // Three words instead of five fields: this runs once per packet.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.addrs[0]);
        state.write_u128(self.addrs[1]);
        state.write_u64(self.rest);
    }
}

fn address_bits(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(*v4)),
        IpAddr::V6(v6) => u128::from(*v6),
    }
}

/// Bits of `FlowKey::rest` above the ports.
const UDP_BIT: u64 = 1 << 32;
const IPV6_BIT: u64 = 1 << 33;
const SEGMENT_SHIFT: u32 = 40;

impl FlowKey {
    pub fn new(l4: L4, a: Endpoint, b: Endpoint) -> Self {
        Self::between(l4, (&a.0, a.1), (&b.0, b.1))
    }

    /// `new` from borrowed addresses: a packet's are read where the decoder wrote
    /// them, never copied as whole `IpAddr`s (a copy reads a tag byte and four address
    /// bytes written separately in one wide load, which stalls the CPU: measured as the
    /// hottest instruction of the per-packet path).
    pub fn between(l4: L4, a: (&IpAddr, u16), b: (&IpAddr, u16)) -> Self {
        let v6 = a.0.is_ipv6();
        let (a, b) = ((address_bits(a.0), a.1), (address_bits(b.0), b.1));
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let mut rest = u64::from(low.1) | u64::from(high.1) << 16;
        if l4 == L4::Udp {
            rest |= UDP_BIT;
        }
        if v6 {
            rest |= IPV6_BIT;
        }
        FlowKey {
            addrs: [low.0, high.0],
            rest,
        }
    }

    /// The same key inside virtual network `segment` (its low 24 bits: a VNI).
    pub fn in_segment(self, segment: u32) -> Self {
        let below = (1u64 << SEGMENT_SHIFT) - 1;
        FlowKey {
            rest: self.rest & below | u64::from(segment & 0x00ff_ffff) << SEGMENT_SHIFT,
            ..self
        }
    }
}
/// Capture time (ns) between two moves of a flow to the back of the LRU order.
const TOUCH_INTERVAL: u64 = 100_000_000;

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowLimits {
    /// Flows tracked at once; the least recently seen is evicted beyond this.
    pub max_flows: usize,
    /// Idle seconds before an open TCP flow ends.
    pub tcp_idle_timeout: u64,
    /// Idle seconds before a TCP flow that saw FIN from both sides, or RST, ends.
    pub tcp_closed_timeout: u64,
    /// Idle seconds before a UDP flow ends.
    pub udp_idle_timeout: u64,
    /// A flow still active after this many seconds gets an interim record (NetFlow style).
    pub active_timeout: u64,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows: 65_536,
            tcp_idle_timeout: 300,
            tcp_closed_timeout: 10,
            udp_idle_timeout: 60,
            active_timeout: 3600,
        }
    }
}

/// Why a flow record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Timeout,
    /// Interim record of a long-lived flow; the flow goes on.
    ActiveTimeout,
    /// Pushed out by `max_flows`.
    Evicted,
    /// End of input (last capture file read, or sensor shutting down).
    Shutdown,
}

impl EndReason {
    /// EVE `flow.reason`, in Suricata's words where it has one: a flow pushed out of
    /// the full table is Suricata's `forced`. Suricata writes no interim records, so
    /// `active_timeout` is cleartrace's own (documented in `schema/eve.json`).
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::ActiveTimeout => "active_timeout",
            EndReason::Evicted => "forced",
            EndReason::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Default)]
pub struct TcpState {
    pub streams: [StreamReassembler; 2],
    pub fin: [bool; 2],
    pub rst: bool,
}

/// In C order, what every packet of a flow reads first: the lookup's idle check, the
/// counters and the client's endpoint sit next to the table's key, in the cache lines
/// the key comparison has already brought in.
#[repr(C)]
pub struct Flow<T> {
    pub last: Timestamp,
    /// When the flow last moved to the back of the table's LRU order.
    touched: Timestamp,
    pub l4: L4,
    pub client: Endpoint,
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    pub state: T,
    pub server: Endpoint,
    pub id: u64,
    /// Start of the current record (first packet, or the last active-timeout record).
    pub start: Timestamp,
    pub tcp: TcpState,
}

impl<T> Flow<T> {
    /// Whether a packet from `src` goes to the server or to the client.
    pub fn direction_of(&self, src: (&IpAddr, u16)) -> Direction {
        if *src.0 == self.client.0 && src.1 == self.client.1 {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    /// Whether the flow has been idle past its timeout at `now`.
    fn idle_at(&self, now: Timestamp, limits: &FlowLimits) -> bool {
        now.since(self.last) >= self.idle_timeout(limits).saturating_mul(1_000_000_000)
    }

    /// Seconds this flow may stay idle before it ends, in its current state.
    pub fn idle_timeout(&self, limits: &FlowLimits) -> u64 {
        match self.l4 {
            L4::Udp => limits.udp_idle_timeout,
            L4::Tcp if self.tcp.rst || (self.tcp.fin[0] && self.tcp.fin[1]) => {
                limits.tcp_closed_timeout
            }
            L4::Tcp => limits.tcp_idle_timeout,
        }
    }
}

/// How the first packet of a flow tells who is the client.
#[derive(Clone, Copy, Debug)]
pub struct FirstPacket {
    pub l4: L4,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub syn: bool,
    pub ack: bool,
}

impl FirstPacket {
    /// (client, server). A SYN's sender is the client, a SYN-ACK's the server; picked up
    /// mid-stream, a sender on a well-known port (< 1024) to an ephemeral one is the
    /// server; otherwise the first sender is the client.
    fn orientation(&self) -> (Endpoint, Endpoint) {
        let flip = if self.l4 == L4::Tcp && self.syn {
            self.ack
        } else {
            self.src.1 < 1024 && self.dst.1 >= 1024
        };
        if flip {
            (self.dst, self.src)
        } else {
            (self.src, self.dst)
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct FlowTableStats {
    pub created: u64,
    pub evicted: u64,
    pub timed_out: u64,
}

pub struct FlowTable<T> {
    flows: LinkedHashMap<FlowKey, Flow<T>>,
    limits: FlowLimits,
    next_id: u64,
    id_stride: u64,
    /// No flow can time out before this (see `expire`).
    next_expiry: Timestamp,
    expired_keys: Vec<FlowKey>,
    pub stats: FlowTableStats,
}

impl<T> FlowTable<T> {
    pub fn new(limits: FlowLimits) -> Self {
        FlowTable {
            // Grown, not sized for `max_flows` up front: a table sized for the bound is
            // mostly empty and its probes miss the cache (measured 4% slower on a
            // 1,500-flow capture). It grows at most log2(max_flows) times and never
            // past the bound, after which a flood only evicts.
            flows: LinkedHashMap::new(),
            limits,
            next_id: 1,
            id_stride: 1,
            next_expiry: Timestamp(0),
            expired_keys: Vec::new(),
            stats: FlowTableStats::default(),
        }
    }

    /// Numbers this table's flows `first`, `first + stride`, …: tables of several
    /// workers then never hand out the same flow id.
    pub fn number_flows(&mut self, first: u64, stride: u64) {
        self.next_id = first;
        self.id_stride = stride.max(1);
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn contains(&self, key: &FlowKey) -> bool {
        self.flows.contains_key(key)
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The flow for `key`, created (and oriented by `first`, asked only then) if new.
    /// Creating a flow in a full table evicts the least recently seen one through
    /// `on_end` first.
    // Inlined into the engine's one caller: called, its closures' captures (eight
    // references and the new flow's endpoints) were built on the stack for every
    // packet, about 30 instructions, for a flow created once.
    #[inline(always)]
    pub fn get_or_create(
        &mut self,
        key: &FlowKey,
        ts: Timestamp,
        first: impl FnOnce() -> FirstPacket,
        make_state: impl FnOnce(Endpoint, Endpoint) -> T,
        on_end: &mut dyn FnMut(Flow<T>, EndReason),
    ) -> &mut Flow<T> {
        // The key is hashed once and, unless the table is full, looked up once: this
        // runs for every packet.
        let hash = self.flows.hasher().hash_one(key);
        let limits = self.limits;
        if self.flows.len() >= limits.max_flows.max(1)
            && self
                .flows
                .raw_entry()
                .from_key_hashed_nocheck(hash, key)
                .is_none()
        {
            // A new flow in a full table: room is made before it exists.
            while self.flows.len() >= limits.max_flows.max(1) {
                match self.flows.pop_front() {
                    Some((_, old)) => {
                        self.stats.evicted += 1;
                        on_end(old, EndReason::Evicted);
                    }
                    None => break,
                }
            }
        }
        let fresh = |first: FirstPacket| {
            let (client, server) = first.orientation();
            let id = self.next_id;
            self.next_id += self.id_stride;
            self.stats.created += 1;
            Flow {
                id,
                l4: first.l4,
                client,
                server,
                start: ts,
                last: ts,
                touched: ts,
                pkts: [0; 2],
                bytes: [0; 2],
                tcp: TcpState::default(),
                state: make_state(client, server),
            }
        };
        match self
            .flows
            .raw_entry_mut()
            .from_key_hashed_nocheck(hash, key)
        {
            // A flow idle past its timeout ends here even if no sweep has come by
            // yet, so where flows end does not depend on when sweeps run (per
            // worker, per second); its successor takes its place, at the back.
            RawEntryMut::Occupied(mut entry) if entry.get().idle_at(ts, &limits) => {
                let old = entry.replace_value(fresh(first()));
                entry.to_back();
                self.stats.timed_out += 1;
                on_end(old, EndReason::Timeout);
                entry.into_mut()
            }
            RawEntryMut::Occupied(mut entry) => {
                // Most recently seen last: the front of the map is the eviction and
                // expiry candidate. Relinking on every packet costs more than the
                // lookup, so a flow moves back at most once per `TOUCH_INTERVAL`: the
                // order is exact to that resolution, ample for timeouts in seconds.
                if ts.since(entry.get().touched) >= TOUCH_INTERVAL {
                    entry.to_back();
                    entry.get_mut().touched = ts;
                }
                let flow = entry.into_mut();
                flow.last = flow.last.max(ts);
                flow
            }
            RawEntryMut::Vacant(entry) => entry.insert_hashed_nocheck(hash, *key, fresh(first())).1,
        }
    }

    /// Ends the flow for `key` now if it is closed (FIN both ways or RST): a new SYN on
    /// the same 5-tuple starts a new connection (port reuse), not more of the old one.
    pub fn end_if_closed(&mut self, key: &FlowKey, on_end: &mut dyn FnMut(Flow<T>, EndReason)) {
        let closed = self
            .flows
            .get(key)
            .is_some_and(|f| f.l4 == L4::Tcp && (f.tcp.rst || (f.tcp.fin[0] && f.tcp.fin[1])));
        if closed {
            if let Some(flow) = self.flows.remove(key) {
                self.stats.timed_out += 1;
                on_end(flow, EndReason::Timeout);
            }
        }
    }

    /// Ends flows idle past their timeout, oldest first. Flows are kept in last-seen
    /// order, so the walk stops at the first flow younger than the shortest timeout.
    pub fn expire(&mut self, now: Timestamp, on_end: &mut dyn FnMut(Flow<T>, EndReason)) {
        if now < self.next_expiry {
            return;
        }
        let limits = self.limits;
        let shortest = limits
            .tcp_closed_timeout
            .min(limits.tcp_idle_timeout)
            .min(limits.udp_idle_timeout)
            .saturating_mul(1_000_000_000);
        // The walk also learns when the next flow can be due, so the flows idle
        // between the shortest and their own timeout (long-lived TCP) are not walked
        // again every second. A flow that changes later (a new one, a FIN) is due no
        // sooner than `now + shortest`, hence the cap.
        let mut next = now.0.saturating_add(shortest);
        self.expired_keys.clear();
        for (key, flow) in self.flows.iter() {
            let idle = now.since(flow.last);
            if idle < shortest {
                next = next.min(flow.last.0.saturating_add(shortest));
                break;
            }
            let timeout = flow.idle_timeout(&limits).saturating_mul(1_000_000_000);
            if idle >= timeout {
                self.expired_keys.push(*key);
            } else {
                next = next.min(flow.last.0.saturating_add(timeout));
            }
        }
        self.next_expiry = Timestamp(next);
        let expired = std::mem::take(&mut self.expired_keys);
        for key in &expired {
            if let Some(flow) = self.flows.remove(key) {
                self.stats.timed_out += 1;
                on_end(flow, EndReason::Timeout);
            }
        }
        self.expired_keys = expired;
    }

    /// Flows running longer than the active timeout, for an interim record.
    pub fn for_each_active_expired(&mut self, now: Timestamp, mut f: impl FnMut(&mut Flow<T>)) {
        let active = self.limits.active_timeout.saturating_mul(1_000_000_000);
        for (_, flow) in self.flows.iter_mut() {
            if now.since(flow.start) >= active {
                f(flow);
            }
        }
    }

    /// The flows from the least recently seen on (the ones shed first when the engine's
    /// memory budget is full).
    pub fn oldest_first_mut(&mut self) -> impl Iterator<Item = &mut Flow<T>> {
        self.flows.iter_mut().map(|(_, flow)| flow)
    }

    /// Ends every flow (end of input).
    pub fn drain(&mut self, on_end: &mut dyn FnMut(Flow<T>, EndReason)) {
        while let Some((_, flow)) = self.flows.pop_front() {
            on_end(flow, EndReason::Shutdown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ep(last: u8, port: u16) -> Endpoint {
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
    }

    fn first(src: Endpoint, dst: Endpoint, syn: bool, ack: bool) -> FirstPacket {
        FirstPacket {
            l4: L4::Tcp,
            src,
            dst,
            syn,
            ack,
        }
    }

    #[test]
    fn key_is_symmetric() {
        assert_eq!(
            FlowKey::new(L4::Tcp, ep(1, 1000), ep(2, 80)),
            FlowKey::new(L4::Tcp, ep(2, 80), ep(1, 1000))
        );
        assert_ne!(
            FlowKey::new(L4::Tcp, ep(1, 1000), ep(2, 80)),
            FlowKey::new(L4::Udp, ep(1, 1000), ep(2, 80))
        );
    }

    /// The packed fields stay apart: ports, transport, family and a full 24-bit VNI.
    #[test]
    fn key_fields_do_not_collide() {
        let v4 = FlowKey::new(L4::Udp, ep(1, 1000), ep(2, 80));
        assert_ne!(v4, FlowKey::new(L4::Udp, ep(1, 80), ep(2, 1000)));
        // ::10.0.0.x: the IPv4 address's bits in an IPv6 address.
        let compatible = |last: u8| IpAddr::V6(Ipv4Addr::new(10, 0, 0, last).to_ipv6_compatible());
        let v6 = FlowKey::new(L4::Udp, (compatible(1), 1000), (compatible(2), 80));
        assert_ne!(v4, v6, "same address bits, other family");
        for vni in [1, 0x00ff_ffff, 0x0080_0000] {
            assert_ne!(v4, v4.in_segment(vni));
            assert_eq!(v4.in_segment(vni), v4.in_segment(7).in_segment(vni));
        }
        assert_ne!(v4.in_segment(0x0080_0000), v4.in_segment(0x0000_0001));
        assert_eq!(v4.in_segment(0), v4);
    }

    #[test]
    fn orientation_from_syn_synack_and_ports() {
        assert_eq!(
            first(ep(1, 40000), ep(2, 443), true, false).orientation().0,
            ep(1, 40000)
        );
        assert_eq!(
            first(ep(2, 443), ep(1, 40000), true, true).orientation().0,
            ep(1, 40000)
        );
        assert_eq!(
            first(ep(2, 443), ep(1, 40000), false, true).orientation().0,
            ep(1, 40000)
        );
        assert_eq!(
            first(ep(1, 5060), ep(2, 5060), false, false)
                .orientation()
                .0,
            ep(1, 5060)
        );
    }

    #[test]
    fn bounded_with_lru_eviction() {
        let limits = FlowLimits {
            max_flows: 3,
            ..FlowLimits::default()
        };
        let mut table: FlowTable<()> = FlowTable::new(limits);
        let mut ended = Vec::new();
        for port in 0..10u16 {
            let f = first(ep(1, 2000 + port), ep(2, 80), true, false);
            let key = FlowKey::new(L4::Tcp, f.src, f.dst);
            table.get_or_create(
                &key,
                Timestamp::from_secs(port as u64),
                || f,
                |_, _| (),
                &mut |fl, r| ended.push((fl.id, r)),
            );
        }
        assert_eq!(table.len(), 3);
        assert_eq!(table.stats.evicted, 7);
        assert_eq!(ended.first(), Some(&(1, EndReason::Evicted)));
    }

    #[test]
    fn idle_timeout_per_state() {
        let mut table: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let f = first(ep(1, 2000), ep(2, 80), true, false);
        let key = FlowKey::new(L4::Tcp, f.src, f.dst);
        table.get_or_create(
            &key,
            Timestamp::from_secs(0),
            || f,
            |_, _| (),
            &mut |_, _| {},
        );
        let mut ended = 0;
        table.expire(Timestamp::from_secs(299), &mut |_, _| ended += 1);
        assert_eq!(ended, 0);
        table.expire(Timestamp::from_secs(300), &mut |_, _| ended += 1);
        assert_eq!(ended, 1);
        assert!(table.is_empty());
    }
}
