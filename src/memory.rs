//! One memory budget per engine (DESIGN §8): every buffer that input can grow draws
//! from it — out-of-order TCP segments, IP fragments, and the partial messages
//! dissectors hold (HTTP heads, SIP, LDAP and MQTT messages, mail and Telnet lines, TLS
//! records). Per-flow caps alone are no bound: 16,000 flows each holding their 256 KiB
//! of gap-blocked segments are 4 GB.
//!
//! When the budget is full the engine sheds, least valuable first, down to seven
//! eighths of it (so a flood pays for one walk per eighth of the budget, not one per
//! packet): gap-blocked segments of the oldest flows are delivered at once with the gap
//! declared (what a full per-flow buffer does anyway), then the oldest incomplete IP
//! datagrams, then the partial messages of the oldest flows. New traffic is judged as
//! before; what was shed is counted by reason.
//!
//! Sizing: peak RSS ≤ `budget_mib` + about 1 KiB per tracked flow (`max_flows`, the
//! flow record, its dissector state and table slot) + 4,096 media expectations and
//! 65,536 recently alerted pairs (about 8 MiB together) + about 10 MiB of code, signatures
//! and I/O buffers. The defaults (256 MiB, 65,536 flows) stay under 350 MiB.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Bytes of buffered input one engine (one worker) may hold, in MiB.
    pub budget_mib: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig { budget_mib: 256 }
    }
}

impl MemoryConfig {
    pub fn budget_bytes(&self) -> usize {
        self.budget_mib.saturating_mul(1 << 20)
    }
}

/// The process's peak resident memory in bytes (Linux), for the summary: the memory
/// bound a flow-table limit implies is checked against it.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// What was shed to stay inside the budget, by reason (the label of
/// `cleartrace_memory_shed_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShedReason {
    /// A flow's out-of-order segments delivered early, the hole declared a gap.
    Reassembly,
    /// An incomplete IP datagram dropped.
    IpFragments,
    /// A dissector's partial message dropped, as after a gap.
    AppBuffers,
}

impl ShedReason {
    pub const ALL: [ShedReason; 3] = [
        ShedReason::Reassembly,
        ShedReason::IpFragments,
        ShedReason::AppBuffers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShedReason::Reassembly => "reassembly",
            ShedReason::IpFragments => "ip_fragments",
            ShedReason::AppBuffers => "app_buffers",
        }
    }

    /// How the summary and report name it.
    pub fn shed_label(self) -> &'static str {
        match self {
            ShedReason::Reassembly => "shed: reassembly buffers",
            ShedReason::IpFragments => "shed: ip datagrams",
            ShedReason::AppBuffers => "shed: partial messages",
        }
    }
}

/// Counts of shed state, by reason, and the high-water mark of the budget's use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShedStats {
    pub reassembly: u64,
    pub ip_fragments: u64,
    pub app_buffers: u64,
    /// Highest number of budgeted bytes held at once.
    pub peak_bytes: u64,
}

impl ShedStats {
    pub fn get(&self, reason: ShedReason) -> u64 {
        match reason {
            ShedReason::Reassembly => self.reassembly,
            ShedReason::IpFragments => self.ip_fragments,
            ShedReason::AppBuffers => self.app_buffers,
        }
    }

    pub fn add(&mut self, reason: ShedReason, n: u64) {
        match reason {
            ShedReason::Reassembly => self.reassembly += n,
            ShedReason::IpFragments => self.ip_fragments += n,
            ShedReason::AppBuffers => self.app_buffers += n,
        }
    }

    /// Adds another engine's counts (one per worker); peaks add up, as the engines'
    /// budgets do.
    pub fn merge(&mut self, other: &ShedStats) {
        for reason in ShedReason::ALL {
            self.add(reason, other.get(reason));
        }
        self.peak_bytes += other.peak_bytes;
    }
}
