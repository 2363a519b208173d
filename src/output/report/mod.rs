//! The auditor's report: the run as data (`--report x.json`, schema
//! `cleartrace-report/2`, documented in `schema/cleartrace-report-2.schema.json`) and as
//! one self-contained HTML page (`--report x.html`).
//!
//! The data is the report: the page is drawn from it, `report merge` adds several of
//! them up and `diff` compares two. What a run counted (services, findings, timeline,
//! limits) is kept raw so it adds up; what is judged from it (the systems' channels,
//! the verdict) is derived again by [`Report::derive`] after every build or merge.
//!
//! Every string in it comes from the summary, whose evidence is already masked.

pub mod diff;
mod html;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::metrics::Drops;
use super::summary::Summary;
use crate::engine::EngineStats;
use crate::memory::ShedReason;
use crate::policy::suppress::Suppression;
use crate::severity::Severity;
use crate::signatures::profiles::{assign, AssignedBy, SystemAssignment};
use crate::signatures::Profile;
use crate::timestamp::Timestamp;

pub use html::html;

pub const SCHEMA: &str = "cleartrace-report/2";

/// Lists kept when reports are merged, as in one run.
const MAX_HOSTS_PER_FINDING: usize = 256;
const MAX_EVIDENCE_PER_FINDING: usize = 8;
const MAX_CLIENTS_PER_SERVICE: usize = 64;

/// `[report]` in the configuration: who assessed what, and which hosts belong to which
/// system. Flags override the first three.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    pub site: Option<String>,
    pub scope: Option<String>,
    pub assessor: Option<String>,
    /// `[[report.system]]`: hosts assigned to a profile's system.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemAssignment>,
}

/// What was read: one capture file (or interface) and what came of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    pub name: String,
    /// File size in bytes (absent for an interface).
    pub size: Option<u64>,
    pub packets: u64,
    /// Captured bytes of the packets.
    pub bytes: u64,
    pub first_packet: Option<String>,
    pub last_packet: Option<String>,
    /// Packets cut short by the capture's snapshot length.
    pub snapped_packets: u64,
    /// SHA-256 of the file as read, hex (absent for an interface).
    pub sha256: Option<String>,
    /// Why the file could not be read to its end: what came before was analysed.
    pub error: Option<String>,
}

impl InputRecord {
    /// The record of a file read, with its SHA-256 (read again from the disk).
    pub fn of_file(read: &crate::analyze::FileRead) -> Self {
        let (sha256, hash_error) = match sha256_file(&read.path) {
            Ok(h) => (Some(h), None),
            Err(e) => (None, Some(format!("cannot hash: {e}"))),
        };
        InputRecord {
            name: read.path.display().to_string(),
            size: Some(read.size),
            packets: read.packets,
            bytes: read.bytes,
            first_packet: read.first.map(|t| t.to_string()),
            last_packet: read.last.map(|t| t.to_string()),
            snapped_packets: read.snapped,
            sha256,
            error: read.error.clone().or(hash_error),
        }
    }
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What the run could not inspect, or inspected only in part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Inputs not read to their end.
    pub truncated_inputs: u64,
    pub snapped_packets: u64,
    pub decode_errors: BTreeMap<String, u64>,
    pub capture_drops_kernel: u64,
    pub capture_drops_interface: u64,
    pub capture_drops_queue: u64,
    pub flow_evictions: u64,
    pub tcp_gaps: u64,
    pub fragment_evictions: u64,
    pub expectation_evictions: u64,
    /// What the memory budget made the engine shed, by reason (`reassembly`,
    /// `ip_fragments`, `app_buffers`).
    pub shed: BTreeMap<String, u64>,
    /// Named anomalies while judging: bounds reached (e.g. `sip.dialogs_evicted`)
    /// and messages not parsed, by name.
    pub anomalies: BTreeMap<String, u64>,
    pub services_not_recorded: u64,
    pub timeline_not_recorded: u64,
}

impl Limits {
    pub fn from_run(stats: &EngineStats, drops: &Drops) -> Self {
        Limits {
            decode_errors: stats
                .decode_errors
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            capture_drops_kernel: drops.kernel,
            capture_drops_interface: drops.interface,
            capture_drops_queue: drops.queue,
            flow_evictions: stats.flow_evictions,
            tcp_gaps: stats.tcp_gaps,
            fragment_evictions: stats.fragment_evictions,
            expectation_evictions: stats.expectation_evictions,
            shed: ShedReason::ALL
                .iter()
                .map(|r| (r.as_str().to_string(), stats.shed.get(*r)))
                .collect(),
            anomalies: stats
                .anomalies
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            ..Limits::default()
        }
    }

    fn add(&mut self, other: &Limits) {
        self.truncated_inputs += other.truncated_inputs;
        self.snapped_packets += other.snapped_packets;
        add_map(&mut self.decode_errors, &other.decode_errors);
        self.capture_drops_kernel += other.capture_drops_kernel;
        self.capture_drops_interface += other.capture_drops_interface;
        self.capture_drops_queue += other.capture_drops_queue;
        self.flow_evictions += other.flow_evictions;
        self.tcp_gaps += other.tcp_gaps;
        self.fragment_evictions += other.fragment_evictions;
        self.expectation_evictions += other.expectation_evictions;
        add_map(&mut self.shed, &other.shed);
        add_map(&mut self.anomalies, &other.anomalies);
        self.services_not_recorded += other.services_not_recorded;
        self.timeline_not_recorded += other.timeline_not_recorded;
    }
}

fn add_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// What the report says about a run, beside what the summary counted.
pub struct RunInfo<'a> {
    pub inputs: Vec<InputRecord>,
    pub packets: u64,
    pub bytes: u64,
    pub limits: Limits,
    pub signature_fingerprint: String,
    pub rules: usize,
    pub patterns: usize,
    pub profiles: &'a [Profile],
    pub config: ReportConfig,
    /// Active suppressions with the alerts each held back, and expired ones.
    pub suppressions: Vec<(&'a Suppression, u64)>,
    pub expired: &'a [Suppression],
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub site: Option<String>,
    pub scope: Option<String>,
    pub assessor: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignaturesInfo {
    pub rules: usize,
    pub patterns: usize,
    pub profiles: Vec<String>,
    /// Fingerprints of the signature sets that judged the inputs (several after a
    /// merge of runs judged differently).
    pub fingerprints: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeverityCount {
    pub severity: u8,
    pub severity_name: String,
    pub alerts: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub worst: Option<String>,
    pub alerts: u64,
    pub alerts_by_severity: Vec<SeverityCount>,
    pub flows: u64,
    pub encrypted_flows: u64,
}

/// Flows of one application protocol.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtocolCount {
    pub app_proto: String,
    pub flows: u64,
    pub encrypted: u64,
    pub bytes: u64,
    pub tls_versions: BTreeMap<String, u64>,
}

/// One evidence line, with what it is (a personal-data kind or the protocol field it
/// was read from) apart from the masked value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    pub field: Option<String>,
    pub value: String,
}

impl Evidence {
    /// Splits `field: value` where the line starts with a label.
    fn parse(line: &str) -> Self {
        match line.split_once(": ") {
            Some((field, value))
                if !field.is_empty()
                    && field.len() <= 40
                    && !field.contains(',')
                    && !field.contains('*') =>
            {
                Evidence {
                    field: Some(field.to_string()),
                    value: value.to_string(),
                }
            }
            _ => Evidence {
                field: None,
                value: line.to_string(),
            },
        }
    }
}

/// All alerts of one rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: u32,
    pub signature: String,
    pub category: String,
    /// Suricata's integer (1 critical … 5 info) and its name, as EVE writes them.
    pub severity: u8,
    pub severity_name: String,
    pub remediation: String,
    pub gdpr: Vec<String>,
    pub alerts: u64,
    /// The alerts by their own severity, critical first (a pattern may raise one
    /// alert above the rule's default).
    pub alerts_by_severity: [u64; 5],
    pub matches: u64,
    /// `client → server:port`.
    pub hosts: Vec<String>,
    pub hosts_not_listed: u64,
    pub evidence: Vec<Evidence>,
    /// Personal-data kinds the rule's alerts named.
    pub personal_data: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceAlert {
    pub rule_id: u32,
    pub severity: u8,
    pub severity_name: String,
    pub alerts: u64,
}

/// One server address, port, transport and protocol, and what it carried.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub server: String,
    pub port: u16,
    pub transport: String,
    pub app_proto: String,
    /// TLS server name asked for, if any.
    pub name: Option<String>,
    pub flows: u64,
    pub encrypted: u64,
    pub bytes: u64,
    pub tls_versions: BTreeMap<String, u64>,
    pub clients: Vec<String>,
    pub clients_not_listed: u64,
    pub personal_data: Vec<String>,
    pub alerts: Vec<ServiceAlert>,
    /// Derived: the system (profile id) and channel it was put on, and how.
    pub system: Option<String>,
    pub channel: Option<String>,
    pub assigned_by: Option<AssignedBy>,
}

impl Service {
    /// `address:port/transport`, IPv6 in brackets.
    pub fn endpoint(&self) -> String {
        if self.server.contains(':') {
            format!("[{}]:{}/{}", self.server, self.port, self.transport)
        } else {
            format!("{}:{}/{}", self.server, self.port, self.transport)
        }
    }

    fn key(&self) -> (String, u16, String, String) {
        (
            self.server.clone(),
            self.port,
            self.transport.clone(),
            self.app_proto.clone(),
        )
    }

    pub fn worst(&self) -> Option<u8> {
        self.alerts.iter().map(|a| a.severity).min()
    }

    /// What the channel's status says about this service.
    fn status(&self) -> ChannelStatus {
        if self.flows > self.encrypted {
            ChannelStatus::Clear
        } else if self.alerts.is_empty() {
            ChannelStatus::Secure
        } else {
            ChannelStatus::Weak
        }
    }

    fn carries_personal_data(&self) -> bool {
        !self.personal_data.is_empty()
    }
}

/// A documented channel as seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// Seen, and every flow in its secure form without findings.
    Secure,
    /// Seen encrypted, but with findings (TLS below the minimum, weak cipher).
    Weak,
    /// Seen with cleartext flows.
    Clear,
    NotSeen,
}

impl ChannelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Secure => "secure as documented",
            ChannelStatus::Weak => "encrypted, below what is documented",
            ChannelStatus::Clear => "seen in clear",
            ChannelStatus::NotSeen => "not seen",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub protocols: Vec<String>,
    pub ports: Vec<u16>,
    pub secure_form: String,
    pub personal_data: Vec<String>,
    pub status: ChannelStatus,
    /// Endpoints of the services seen on it.
    pub services: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemView {
    pub id: String,
    pub name: String,
    pub servers: Vec<String>,
    pub channels: Vec<ChannelView>,
    /// Services of the system no documented channel fits, carrying personal data.
    pub undocumented_with_personal_data: Vec<String>,
    /// Services of the system no documented channel fits, without personal data.
    pub undocumented_other: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SuppressionInfo {
    pub rule: u32,
    pub scope: String,
    pub reason: String,
    pub expires: Option<String>,
    pub alerts_held_back: u64,
    pub expired: bool,
}

/// Alerts of one capture second, critical first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineSecond {
    pub second: u64,
    pub by_severity: [u64; 5],
}

/// The report of one run or of several merged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub tool: String,
    pub version: String,
    pub generated_at: String,
    pub assessment: Assessment,
    pub inputs: Vec<InputRecord>,
    pub time_span: Option<(String, String)>,
    pub packets: u64,
    pub bytes: u64,
    pub signatures: SignaturesInfo,
    pub verdict: Verdict,
    pub protocols: Vec<ProtocolCount>,
    pub tls_versions: BTreeMap<String, u64>,
    pub findings: Vec<Finding>,
    pub services: Vec<Service>,
    pub systems: Vec<SystemView>,
    /// Profile ids of systems with nothing seen.
    pub systems_not_seen: Vec<String>,
    pub timeline: Vec<TimelineSecond>,
    pub limits: Limits,
    pub suppressions: Vec<SuppressionInfo>,
    /// With a baseline: what changed since it.
    pub comparison: Option<diff::Comparison>,
}

pub const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

pub fn severity_name(severity: u8) -> &'static str {
    SEVERITIES
        .get(usize::from(severity.saturating_sub(1)))
        .map_or("info", |s| s.as_str())
}

fn sorted_strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let set: BTreeSet<&str> = items.into_iter().collect();
    set.into_iter().map(str::to_string).collect()
}

impl Report {
    /// The report of one run.
    pub fn build(summary: &Summary, run: RunInfo<'_>) -> Report {
        let mut findings: Vec<Finding> = summary
            .alerts_by_rule
            .iter()
            .map(|(id, rule)| Finding {
                rule_id: *id,
                signature: rule.signature.clone(),
                category: rule.category.clone(),
                severity: rule.severity.as_int(),
                severity_name: rule.severity.as_str().to_string(),
                remediation: rule.remediation.clone(),
                gdpr: rule.gdpr.clone(),
                alerts: rule.alerts,
                alerts_by_severity: rule.alerts_by_severity,
                matches: rule.matches,
                hosts: rule.hosts.iter().cloned().collect(),
                hosts_not_listed: rule.hosts_not_listed,
                evidence: rule.evidence.iter().map(|e| Evidence::parse(e)).collect(),
                personal_data: sorted_strings(rule.kinds.iter().copied()),
                first_seen: rule.first.to_string(),
                last_seen: rule.last.to_string(),
            })
            .collect();
        findings.sort_by_key(|f| (f.severity, std::cmp::Reverse(f.alerts), f.rule_id));
        let services = summary
            .services
            .iter()
            .map(|(key, s)| Service {
                server: key.server.to_string(),
                port: key.port,
                transport: key.transport.to_string(),
                app_proto: key.app_proto.to_string(),
                name: s.sni.clone(),
                flows: s.flows,
                encrypted: s.encrypted,
                bytes: s.bytes,
                tls_versions: s
                    .tls_versions
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                clients: s.clients.iter().map(|c| c.to_string()).collect(),
                clients_not_listed: s.clients_not_listed,
                personal_data: sorted_strings(s.kinds.iter().copied()),
                alerts: s
                    .alerts
                    .iter()
                    .map(|(id, (n, sev))| ServiceAlert {
                        rule_id: *id,
                        severity: sev.as_int(),
                        severity_name: sev.as_str().to_string(),
                        alerts: *n,
                    })
                    .collect(),
                system: None,
                channel: None,
                assigned_by: None,
            })
            .collect();
        let mut suppressions: Vec<SuppressionInfo> = run
            .suppressions
            .iter()
            .map(|(s, held)| SuppressionInfo {
                rule: s.rule,
                scope: s.describe(),
                reason: s.reason.clone(),
                expires: s.expires.clone(),
                alerts_held_back: *held,
                expired: false,
            })
            .collect();
        suppressions.extend(run.expired.iter().map(|s| SuppressionInfo {
            rule: s.rule,
            scope: s.describe(),
            reason: s.reason.clone(),
            expires: s.expires.clone(),
            alerts_held_back: 0,
            expired: true,
        }));
        let mut limits = run.limits;
        limits.truncated_inputs = run.inputs.iter().filter(|i| i.error.is_some()).count() as u64;
        limits.snapped_packets = run.inputs.iter().map(|i| i.snapped_packets).sum();
        limits.services_not_recorded = summary.services_not_recorded;
        limits.timeline_not_recorded = summary.timeline_not_recorded;
        let mut report = Report {
            schema: SCHEMA.to_string(),
            tool: "cleartrace".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            generated_at: Timestamp::now().to_string(),
            assessment: Assessment {
                site: run.config.site.clone(),
                scope: run.config.scope.clone(),
                assessor: run.config.assessor.clone(),
            },
            inputs: run.inputs,
            time_span: summary.span.map(|(a, b)| (a.to_string(), b.to_string())),
            packets: run.packets,
            bytes: run.bytes,
            signatures: SignaturesInfo {
                rules: run.rules,
                patterns: run.patterns,
                profiles: run.profiles.iter().map(|p| p.id.clone()).collect(),
                fingerprints: vec![run.signature_fingerprint],
            },
            verdict: Verdict::default(),
            protocols: summary
                .by_proto
                .iter()
                .map(|(name, p)| ProtocolCount {
                    app_proto: name.to_string(),
                    flows: p.flows,
                    encrypted: p.encrypted,
                    bytes: p.bytes,
                    tls_versions: p
                        .tls_versions
                        .iter()
                        .map(|(k, v)| (k.to_string(), *v))
                        .collect(),
                })
                .collect(),
            tls_versions: summary
                .tls_versions
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            findings,
            services,
            systems: Vec::new(),
            systems_not_seen: Vec::new(),
            timeline: summary
                .timeline
                .iter()
                .map(|(second, by_severity)| TimelineSecond {
                    second: *second,
                    by_severity: *by_severity,
                })
                .collect(),
            limits,
            suppressions,
            comparison: None,
        };
        report.derive(run.profiles, &run.config.system);
        report
    }

    /// Judges again what follows from the counts: the verdict, each service's system
    /// and channel, the systems' channel tables.
    pub fn derive(&mut self, profiles: &[Profile], configured: &[SystemAssignment]) {
        let mut by_severity = [0u64; 5];
        for f in &self.findings {
            for (total, n) in by_severity.iter_mut().zip(f.alerts_by_severity) {
                *total += n;
            }
        }
        self.verdict = Verdict {
            worst: self
                .findings
                .iter()
                .map(|f| f.severity)
                .min()
                .map(|s| severity_name(s).to_string()),
            alerts: by_severity.iter().sum(),
            alerts_by_severity: SEVERITIES
                .iter()
                .zip(by_severity)
                .map(|(s, n)| SeverityCount {
                    severity: s.as_int(),
                    severity_name: s.as_str().to_string(),
                    alerts: n,
                })
                .collect(),
            flows: self.protocols.iter().map(|p| p.flows).sum(),
            encrypted_flows: self.protocols.iter().map(|p| p.encrypted).sum(),
        };
        for service in &mut self.services {
            let server = service.server.parse().ok();
            let assignment = server.and_then(|server| {
                assign(
                    profiles,
                    configured,
                    server,
                    service.port,
                    &service.app_proto,
                    service.name.as_deref(),
                )
            });
            service.system = assignment.map(|a| profiles[a.system].id.clone());
            service.channel = assignment
                .and_then(|a| a.channel.map(|c| profiles[a.system].channels[c].id.clone()));
            service.assigned_by = assignment.map(|a| a.by);
        }
        self.systems.clear();
        self.systems_not_seen.clear();
        for profile in profiles {
            let mine: Vec<&Service> = self
                .services
                .iter()
                .filter(|s| s.system.as_deref() == Some(profile.id.as_str()))
                .collect();
            if mine.is_empty() {
                self.systems_not_seen.push(profile.id.clone());
                continue;
            }
            let channels = profile
                .channels
                .iter()
                .map(|c| {
                    let on: Vec<&&Service> = mine
                        .iter()
                        .filter(|s| s.channel.as_deref() == Some(c.id.as_str()))
                        .collect();
                    ChannelView {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        protocols: c.protocols.clone(),
                        ports: c.ports.clone(),
                        secure_form: c.secure_form.clone(),
                        personal_data: c.personal_data.clone(),
                        status: on
                            .iter()
                            .map(|s| s.status())
                            .filter(|s| *s != ChannelStatus::Secure)
                            .max()
                            .unwrap_or(if on.is_empty() {
                                ChannelStatus::NotSeen
                            } else {
                                ChannelStatus::Secure
                            }),
                        services: on.iter().map(|s| s.endpoint()).collect(),
                    }
                })
                .collect();
            let undocumented: Vec<&&Service> =
                mine.iter().filter(|s| s.channel.is_none()).collect();
            self.systems.push(SystemView {
                id: profile.id.clone(),
                name: profile.name.clone(),
                servers: sorted_strings(mine.iter().map(|s| s.server.as_str())),
                channels,
                undocumented_with_personal_data: undocumented
                    .iter()
                    .filter(|s| s.carries_personal_data())
                    .map(|s| s.endpoint())
                    .collect(),
                undocumented_other: undocumented
                    .iter()
                    .filter(|s| !s.carries_personal_data())
                    .count() as u64,
            });
        }
    }

    /// Several reports as one (sensors of a fleet, batches of an archive). Counts add
    /// up; lists are joined and capped as in one run; the derived parts are judged again.
    pub fn merge(reports: Vec<Report>, profiles: &[Profile], config: &ReportConfig) -> Report {
        let mut out = Report {
            schema: SCHEMA.to_string(),
            tool: "cleartrace".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            generated_at: Timestamp::now().to_string(),
            ..Report::default()
        };
        let mut protocols: BTreeMap<String, ProtocolCount> = BTreeMap::new();
        let mut findings: BTreeMap<u32, Finding> = BTreeMap::new();
        let mut services: BTreeMap<(String, u16, String, String), Service> = BTreeMap::new();
        let mut timeline: BTreeMap<u64, [u64; 5]> = BTreeMap::new();
        let mut suppressions: BTreeMap<(u32, String), SuppressionInfo> = BTreeMap::new();
        for r in reports {
            for field in [
                (&mut out.assessment.site, r.assessment.site),
                (&mut out.assessment.scope, r.assessment.scope),
                (&mut out.assessment.assessor, r.assessment.assessor),
            ] {
                if field.0.is_none() {
                    *field.0 = field.1;
                }
            }
            out.inputs.extend(r.inputs);
            out.time_span = match (out.time_span.take(), r.time_span) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (a, b) => a.or(b),
            };
            out.packets += r.packets;
            out.bytes += r.bytes;
            out.signatures.rules = out.signatures.rules.max(r.signatures.rules);
            out.signatures.patterns = out.signatures.patterns.max(r.signatures.patterns);
            for f in r.signatures.fingerprints {
                if !out.signatures.fingerprints.contains(&f) {
                    out.signatures.fingerprints.push(f);
                }
            }
            for p in r.protocols {
                let e = protocols
                    .entry(p.app_proto.clone())
                    .or_insert_with(|| ProtocolCount {
                        app_proto: p.app_proto.clone(),
                        ..ProtocolCount::default()
                    });
                e.flows += p.flows;
                e.encrypted += p.encrypted;
                e.bytes += p.bytes;
                add_map(&mut e.tls_versions, &p.tls_versions);
            }
            add_map(&mut out.tls_versions, &r.tls_versions);
            for f in r.findings {
                match findings.get_mut(&f.rule_id) {
                    None => {
                        findings.insert(f.rule_id, f);
                    }
                    Some(e) => {
                        e.alerts += f.alerts;
                        for (total, n) in e.alerts_by_severity.iter_mut().zip(f.alerts_by_severity)
                        {
                            *total += n;
                        }
                        e.matches += f.matches;
                        e.severity = e.severity.min(f.severity);
                        e.severity_name = severity_name(e.severity).to_string();
                        e.hosts_not_listed += f.hosts_not_listed;
                        for h in f.hosts {
                            if e.hosts.contains(&h) {
                                continue;
                            }
                            if e.hosts.len() < MAX_HOSTS_PER_FINDING {
                                e.hosts.push(h);
                            } else {
                                e.hosts_not_listed += 1;
                            }
                        }
                        e.hosts.sort();
                        for ev in f.evidence {
                            if e.evidence.len() < MAX_EVIDENCE_PER_FINDING
                                && !e.evidence.contains(&ev)
                            {
                                e.evidence.push(ev);
                            }
                        }
                        e.personal_data = sorted_strings(
                            e.personal_data
                                .iter()
                                .chain(&f.personal_data)
                                .map(String::as_str),
                        );
                        e.first_seen = e.first_seen.clone().min(f.first_seen);
                        e.last_seen = e.last_seen.clone().max(f.last_seen);
                    }
                }
            }
            for s in r.services {
                match services.get_mut(&s.key()) {
                    None => {
                        services.insert(s.key(), s);
                    }
                    Some(e) => {
                        e.flows += s.flows;
                        e.encrypted += s.encrypted;
                        e.bytes += s.bytes;
                        add_map(&mut e.tls_versions, &s.tls_versions);
                        if e.name.is_none() {
                            e.name = s.name;
                        }
                        e.clients_not_listed += s.clients_not_listed;
                        for c in s.clients {
                            if e.clients.contains(&c) {
                                continue;
                            }
                            if e.clients.len() < MAX_CLIENTS_PER_SERVICE {
                                e.clients.push(c);
                            } else {
                                e.clients_not_listed += 1;
                            }
                        }
                        e.personal_data = sorted_strings(
                            e.personal_data
                                .iter()
                                .chain(&s.personal_data)
                                .map(String::as_str),
                        );
                        for a in s.alerts {
                            match e.alerts.iter_mut().find(|x| x.rule_id == a.rule_id) {
                                Some(x) => {
                                    x.alerts += a.alerts;
                                    x.severity = x.severity.min(a.severity);
                                    x.severity_name = severity_name(x.severity).to_string();
                                }
                                None => e.alerts.push(a),
                            }
                        }
                        e.alerts.sort_by_key(|a| a.rule_id);
                    }
                }
            }
            for t in r.timeline {
                let e = timeline.entry(t.second).or_default();
                for (a, b) in e.iter_mut().zip(t.by_severity) {
                    *a += b;
                }
            }
            out.limits.add(&r.limits);
            for s in r.suppressions {
                match suppressions.get_mut(&(s.rule, s.scope.clone())) {
                    Some(e) => e.alerts_held_back += s.alerts_held_back,
                    None => {
                        suppressions.insert((s.rule, s.scope.clone()), s);
                    }
                }
            }
        }
        if config.site.is_some() {
            out.assessment.site = config.site.clone();
        }
        if config.scope.is_some() {
            out.assessment.scope = config.scope.clone();
        }
        if config.assessor.is_some() {
            out.assessment.assessor = config.assessor.clone();
        }
        out.signatures.profiles = profiles.iter().map(|p| p.id.clone()).collect();
        out.protocols = protocols.into_values().collect();
        out.findings = findings.into_values().collect();
        out.findings
            .sort_by_key(|f| (f.severity, std::cmp::Reverse(f.alerts), f.rule_id));
        out.services = services.into_values().collect();
        out.timeline = timeline
            .into_iter()
            .map(|(second, by_severity)| TimelineSecond {
                second,
                by_severity,
            })
            .collect();
        out.suppressions = suppressions.into_values().collect();
        out.derive(profiles, &config.system);
        out
    }

    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// Writes the report to `path`: the data (`.json`) or the page (anything else).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = if is_json(path) {
            self.to_json()?
        } else {
            html(self)
        };
        std::fs::write(path, text)
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: cannot read")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a cleartrace report")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: schema {found:?}, this version reads {SCHEMA:?}")]
    Schema { path: PathBuf, found: String },
    #[error("{path}: the merged report would overwrite an input")]
    WouldOverwrite { path: PathBuf },
    #[error("{path}: cannot write the report")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `report merge`: the reports at `inputs` as one, written whole to `out` (`.html` or
/// `.json`), which may not be one of them.
pub fn merge_files(
    inputs: &[PathBuf],
    out: &Path,
    profiles: &[Profile],
    config: &ReportConfig,
) -> Result<(), ReportError> {
    if inputs.iter().any(|r| r == out) {
        return Err(ReportError::WouldOverwrite {
            path: out.to_owned(),
        });
    }
    let read: Vec<Report> = inputs.iter().map(|p| read(p)).collect::<Result<_, _>>()?;
    let merged = Report::merge(read, profiles, config);
    crate::output::write_whole(out, |partial| merged.write(partial)).map_err(|source| {
        ReportError::Write {
            path: out.to_owned(),
            source,
        }
    })
}

/// Reads a JSON report written by `--report x.json`.
pub fn read(path: &Path) -> Result<Report, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse = |source| ReportError::Parse {
        path: path.to_owned(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(parse)?;
    let found = value["schema"].as_str().unwrap_or("none");
    if found != SCHEMA {
        return Err(ReportError::Schema {
            path: path.to_owned(),
            found: found.to_string(),
        });
    }
    serde_json::from_value(value).map_err(parse)
}
