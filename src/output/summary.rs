//! The end-of-run summary: flows by protocol, encrypted share, TLS versions, alerts by
//! rule, and what the report needs besides (hosts, evidence, a timeline). Collected as
//! a sink so it sees exactly what the other sinks wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;

use super::{FlowEvent, Sink};
use crate::flow::EndReason;
use crate::severity::Severity;
use crate::timestamp::Timestamp;

/// Host pairs and evidence lines kept per rule for the report.
const MAX_HOSTS_PER_RULE: usize = 256;
const MAX_EVIDENCE_PER_RULE: usize = 8;
/// Distinct seconds with alerts kept for the timeline chart.
const MAX_TIMELINE_SECONDS: usize = 20_000;
/// Services (server address, port, transport, protocol) kept for the per-system view,
/// and clients kept per service.
const MAX_SERVICES: usize = 10_000;
const MAX_CLIENTS_PER_SERVICE: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProtoCount {
    pub flows: u64,
    pub encrypted: u64,
    pub bytes: u64,
    /// Negotiated TLS versions on this protocol's flows.
    pub tls_versions: BTreeMap<&'static str, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    pub signature: String,
    pub category: String,
    /// The worst severity an alert of this rule had.
    pub severity: Severity,
    pub remediation: String,
    pub gdpr: Vec<String>,
    pub alerts: u64,
    /// The alerts by their own severity, critical first.
    pub alerts_by_severity: [u64; 5],
    /// Sum of the alerts' counts (matches, packets, digits).
    pub matches: u64,
    /// `client → server:port`, at most `MAX_HOSTS_PER_RULE`.
    pub hosts: BTreeSet<String>,
    /// Alerts whose host pair was not kept (the list was full).
    pub hosts_not_listed: u64,
    /// Masked evidence, a few distinct lines.
    pub evidence: Vec<String>,
    /// Personal-data kinds the alerts named.
    pub kinds: BTreeSet<&'static str>,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// A service: what one server address and port spoke.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceKey {
    pub server: IpAddr,
    pub port: u16,
    pub transport: &'static str,
    pub app_proto: &'static str,
}

/// What was seen of one service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceCount {
    pub flows: u64,
    pub encrypted: u64,
    pub bytes: u64,
    pub tls_versions: BTreeMap<&'static str, u64>,
    /// A TLS server name the clients asked for (the first seen).
    pub sni: Option<String>,
    /// Client addresses, at most `MAX_CLIENTS_PER_SERVICE`.
    pub clients: BTreeSet<IpAddr>,
    /// Flows from clients not in `clients` (the set was full).
    pub clients_not_listed: u64,
    /// Personal-data kinds seen on it.
    pub kinds: BTreeSet<&'static str>,
    /// Alerts on it by rule, with the worst severity of each.
    pub alerts: BTreeMap<u32, (u64, Severity)>,
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub by_proto: BTreeMap<&'static str, ProtoCount>,
    pub tls_versions: BTreeMap<&'static str, u64>,
    pub alerts_by_rule: BTreeMap<u32, RuleCount>,
    pub alerts_by_severity: BTreeMap<Severity, u64>,
    /// Matches by (personal-data kind, app_proto), for the metrics.
    pub findings_by_kind: BTreeMap<(&'static str, &'static str), u64>,
    /// Alerts per capture second, by severity (critical first), capped.
    pub timeline: BTreeMap<u64, [u64; 5]>,
    /// Alerts not on the timeline because it was full.
    pub timeline_not_recorded: u64,
    /// What each server offered, for the per-system view.
    pub services: BTreeMap<ServiceKey, ServiceCount>,
    /// Flows not in `services` because it was full.
    pub services_not_recorded: u64,
    /// First and last packet time of the flows seen.
    pub span: Option<(Timestamp, Timestamp)>,
    /// The worst severity of any alert, for `--fail-on`.
    pub worst: Option<Severity>,
}

impl Summary {
    fn count_service(&mut self, event: &FlowEvent<'_>) {
        let key = ServiceKey {
            server: event.server.0,
            port: event.server.1,
            transport: event.l4.as_str(),
            app_proto: event.app_proto.as_str(),
        };
        if self.services.len() >= MAX_SERVICES && !self.services.contains_key(&key) {
            self.services_not_recorded += 1;
            return;
        }
        let service = self.services.entry(key).or_default();
        service.bytes += event.bytes[0] + event.bytes[1];
        for alert in event.alerts {
            let entry = service
                .alerts
                .entry(alert.rule.id)
                .or_insert((0, alert.severity));
            entry.0 += 1;
            entry.1 = entry.1.min(alert.severity);
            service.kinds.extend(alert.kinds.iter().copied());
        }
        if event.reason == EndReason::ActiveTimeout {
            return;
        }
        service.flows += 1;
        service.encrypted += u64::from(event.encrypted);
        if let Some(tls) = event.tls {
            if let Some(version) = tls.version {
                *service.tls_versions.entry(version.as_str()).or_default() += 1;
            }
            if service.sni.is_none() {
                service.sni = tls.sni.clone();
            }
        }
        if service.clients.len() < MAX_CLIENTS_PER_SERVICE
            || service.clients.contains(&event.client.0)
        {
            service.clients.insert(event.client.0);
        } else {
            service.clients_not_listed += 1;
        }
    }
}

impl Sink for Summary {
    fn flow_ended(&mut self, event: &FlowEvent<'_>) {
        self.span = Some(match self.span {
            Some((a, b)) => (a.min(event.start), b.max(event.end)),
            None => (event.start, event.end),
        });
        for alert in event.alerts {
            let entry = self
                .alerts_by_rule
                .entry(alert.rule.id)
                .or_insert_with(|| RuleCount {
                    signature: alert.rule.signature.clone(),
                    category: alert.rule.category.clone(),
                    severity: alert.severity,
                    remediation: alert.rule.remediation.clone(),
                    gdpr: alert.rule.gdpr.clone(),
                    alerts: 0,
                    alerts_by_severity: [0; 5],
                    matches: 0,
                    hosts: BTreeSet::new(),
                    hosts_not_listed: 0,
                    evidence: Vec::new(),
                    kinds: BTreeSet::new(),
                    first: alert.timestamp,
                    last: alert.timestamp,
                });
            entry.alerts += 1;
            if let Some(n) = entry
                .alerts_by_severity
                .get_mut(usize::from(alert.severity.as_int().saturating_sub(1)))
            {
                *n += 1;
            }
            entry.matches += alert.count;
            entry.kinds.extend(alert.kinds.iter().copied());
            entry.severity = entry.severity.min(alert.severity);
            entry.first = entry.first.min(alert.timestamp);
            entry.last = entry.last.max(alert.timestamp);
            let pair = format!("{} → {}:{}", event.client.0, event.server.0, event.server.1);
            if entry.hosts.len() < MAX_HOSTS_PER_RULE || entry.hosts.contains(&pair) {
                entry.hosts.insert(pair);
            } else {
                entry.hosts_not_listed += 1;
            }
            for line in &alert.evidence {
                if entry.evidence.len() < MAX_EVIDENCE_PER_RULE && !entry.evidence.contains(line) {
                    entry.evidence.push(line.clone());
                }
            }
            *self.alerts_by_severity.entry(alert.severity).or_default() += 1;
            for kind in &alert.kinds {
                *self
                    .findings_by_kind
                    .entry((kind, event.app_proto.as_str()))
                    .or_default() += alert.count;
            }
            let second = alert.timestamp.secs();
            if self.timeline.len() < MAX_TIMELINE_SECONDS || self.timeline.contains_key(&second) {
                self.timeline.entry(second).or_default()
                    [usize::from(alert.severity.as_int().saturating_sub(1)).min(4)] += 1;
            } else {
                self.timeline_not_recorded += 1;
            }
            // The alert's own severity: a pattern (a card number) may raise it above
            // its rule's.
            self.worst = Some(self.worst.map_or(alert.severity, |w| w.min(alert.severity)));
        }
        self.count_service(event);
        // An interim record is not a new flow.
        let bytes = event.bytes[0] + event.bytes[1];
        let proto = self.by_proto.entry(event.app_proto.as_str()).or_default();
        proto.bytes += bytes;
        if event.reason == EndReason::ActiveTimeout {
            return;
        }
        proto.flows += 1;
        proto.encrypted += u64::from(event.encrypted);
        if let Some(version) = event.tls.and_then(|t| t.version) {
            *self.tls_versions.entry(version.as_str()).or_default() += 1;
            *proto.tls_versions.entry(version.as_str()).or_default() += 1;
        }
    }
}

/// Throughput of a run, measured by the caller around the whole read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Throughput {
    pub packets: u64,
    /// Captured packet bytes.
    pub bytes: u64,
    /// Size of the capture files read (record headers and all); None when live.
    pub file_bytes: Option<u64>,
    pub seconds: f64,
    /// The process's peak resident memory, when the system tells it.
    pub peak_memory: Option<u64>,
    /// The most the engines held against their memory budget at once.
    pub budget_peak: Option<u64>,
}

/// A titled group of counts for the end of the summary; printed only if one is not 0.
pub struct Section<'a> {
    pub title: &'a str,
    pub counts: Vec<(&'a str, u64)>,
}

/// Bytes in binary units (KiB, MiB, GiB: powers of 1024), the one convention for byte
/// amounts in the summary, as in the progress bar. Rates stay in bits per second with
/// decimal prefixes (Mbit/s), as networks are measured.
pub fn binary_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl Throughput {
    pub fn packets_per_sec(&self) -> f64 {
        self.packets as f64 / self.seconds.max(1e-9)
    }
    pub fn bits_per_sec(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.seconds.max(1e-9)
    }
}

impl Summary {
    pub fn total_flows(&self) -> u64 {
        self.by_proto.values().map(|p| p.flows).sum()
    }

    /// The aligned table printed to stderr.
    pub fn render(&self, throughput: &Throughput, sections: &[Section<'_>]) -> String {
        let mut out = String::new();
        let total = self.total_flows();
        let encrypted: u64 = self.by_proto.values().map(|p| p.encrypted).sum();
        let files = throughput
            .file_bytes
            .map(|n| format!(" (from {} of capture files)", binary_bytes(n)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "cleartrace: {} packets, {} of packet data{files} in {:.3} s ({:.0} packets/s, {:.1} Mbit/s)",
            throughput.packets,
            binary_bytes(throughput.bytes),
            throughput.seconds,
            throughput.packets_per_sec(),
            throughput.bits_per_sec() / 1e6
        );
        if let Some(peak) = throughput.peak_memory {
            let budget = throughput
                .budget_peak
                .map(|b| {
                    format!(
                        " (of which the memory budget held at most {})",
                        binary_bytes(b)
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(out, "peak memory: {}{budget}", binary_bytes(peak));
        }
        let share = if total > 0 {
            100.0 * encrypted as f64 / total as f64
        } else {
            0.0
        };
        let _ = writeln!(out, "flows: {total}, encrypted {encrypted} ({share:.0}%)");
        let _ = writeln!(
            out,
            "  {:<10} {:>8} {:>10} {:>12}",
            "app_proto", "flows", "encrypted", "bytes"
        );
        for (name, p) in &self.by_proto {
            let _ = writeln!(
                out,
                "  {:<10} {:>8} {:>10} {:>12}",
                name, p.flows, p.encrypted, p.bytes
            );
        }
        if !self.tls_versions.is_empty() {
            let versions: Vec<String> = self
                .tls_versions
                .iter()
                .map(|(v, n)| format!("{v}: {n}"))
                .collect();
            let _ = writeln!(out, "tls versions: {}", versions.join(", "));
        }
        let alerts: u64 = self.alerts_by_rule.values().map(|r| r.alerts).sum();
        let _ = writeln!(out, "alerts: {alerts}");
        for (id, r) in &self.alerts_by_rule {
            let _ = writeln!(
                out,
                "  {id:<6} {:<9} {:>6}  {}",
                r.severity.as_str(),
                r.alerts,
                r.signature
            );
        }
        for section in sections {
            let counts: Vec<String> = section
                .counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            if !counts.is_empty() {
                let _ = writeln!(out, "{}:\n  {}", section.title, counts.join(", "));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::binary_bytes;

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(binary_bytes(0), "0 B");
        assert_eq!(binary_bytes(1023), "1023 B");
        assert_eq!(binary_bytes(1024), "1.0 KiB");
        assert_eq!(binary_bytes(500 * 1024 * 1024), "500.0 MiB");
        assert_eq!(binary_bytes(489_100_000), "466.4 MiB");
        assert_eq!(binary_bytes(3 << 40), "3.0 TiB");
        assert_eq!(binary_bytes(u64::MAX), "16777216.0 TiB");
    }
}
