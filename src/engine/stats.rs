//! The engine's counters (packets, flows, decode errors, anomalies, memory shed), for
//! the summary and metrics; one per worker, merged at the end.

use std::collections::BTreeMap;

use crate::memory::ShedStats;

/// Counters of the packet path, for the summary and metrics.
#[derive(Clone, Debug, Default)]
pub struct EngineStats {
    pub packets: u64,
    pub bytes: u64,
    pub non_ip: u64,
    pub other_transport: u64,
    pub decode_errors: BTreeMap<&'static str, u64>,
    pub flows_created: u64,
    pub flow_evictions: u64,
    pub tcp_gaps: u64,
    pub tcp_retransmitted_bytes: u64,
    pub fragments_reassembled: u64,
    pub fragment_evictions: u64,
    pub expectation_evictions: u64,
    /// Named anomalies (`sip.dialogs_evicted`, `ip.fragment_overlap` …).
    pub anomalies: BTreeMap<&'static str, u64>,
    /// What the memory budget made the engine shed.
    pub shed: ShedStats,
    /// The memory budget, in bytes (summed over workers).
    pub memory_budget: u64,
}

impl EngineStats {
    /// Adds another engine's counters (one per worker).
    pub fn merge(&mut self, other: &EngineStats) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.non_ip += other.non_ip;
        self.other_transport += other.other_transport;
        self.flows_created += other.flows_created;
        self.flow_evictions += other.flow_evictions;
        self.tcp_gaps += other.tcp_gaps;
        self.tcp_retransmitted_bytes += other.tcp_retransmitted_bytes;
        self.fragments_reassembled += other.fragments_reassembled;
        self.fragment_evictions += other.fragment_evictions;
        self.expectation_evictions += other.expectation_evictions;
        self.shed.merge(&other.shed);
        self.memory_budget += other.memory_budget;
        for (name, n) in &other.decode_errors {
            *self.decode_errors.entry(name).or_default() += n;
        }
        for (name, n) in &other.anomalies {
            *self.anomalies.entry(name).or_default() += n;
        }
    }
}
