//! Prometheus metrics (DESIGN §10, prefix `cleartrace_`), encoded by prometheus-client
//! as OpenMetrics and offered as the Prometheus text format too (`text_format`).
//! `analyze --metrics FILE` writes them once at the end (node_exporter textfile
//! style); the live sensor serves the same families at every scrape.
//! Label values are protocol names, rule ids, severities, kinds and reasons only —
//! never addresses or anything seen in the payload.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::summary::Summary;
use crate::decode::DecodeError;
use crate::engine::EngineStats;
use crate::memory::ShedReason;
use crate::severity::Severity;
use crate::signatures::RuleSet;

type Labels = Vec<(&'static str, String)>;

fn family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    registry.register(name, help, f.clone());
    f
}

/// A counter family with one label, every value present (0 included).
fn one_label(
    registry: &mut Registry,
    name: &str,
    help: &str,
    label: &'static str,
    values: &[(&str, u64)],
) {
    let f = family(registry, name, help);
    for (value, n) in values {
        f.get_or_create(&vec![(label, value.to_string())])
            .inc_by(*n);
    }
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

/// Packets lost before analysis, by where (DESIGN §9: counted, never silent). Files
/// lose none; the live sensor reads the kernel's and its own queues' counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// No room in the capture buffer (libpcap `ps_drop`).
    pub kernel: u64,
    /// Dropped by the interface or its driver (`ps_ifdrop`).
    pub interface: u64,
    /// A worker's queue was full.
    pub queue: u64,
    /// EVE lines a syslog collector never got (its queue was full while it was down).
    pub eve_lines: u64,
    /// With AF_PACKET capture, each worker's ring's kernel drops (their sum is in
    /// `kernel`); empty with libpcap.
    pub rings: Vec<u64>,
}

/// The exposition of a run's counters: at its end (`analyze --metrics`) or at a scrape
/// of the live sensor.
pub fn exposition(
    summary: &Summary,
    stats: &EngineStats,
    active_flows: usize,
    drops: &Drops,
    rules: &RuleSet,
    host: Option<&str>,
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("cleartrace");
    counter(&mut registry, "packets", "Packets read", stats.packets);
    counter(&mut registry, "bytes", "Captured bytes read", stats.bytes);
    counter(
        &mut registry,
        "eve_dropped_lines",
        "EVE lines not delivered to a syslog collector (its queue was full while it was down)",
        drops.eve_lines,
    );
    one_label(
        &mut registry,
        "capture_dropped_packets",
        "Packets lost before analysis, by stage (kernel buffer, interface, worker queue)",
        "stage",
        &[
            ("kernel", drops.kernel),
            ("interface", drops.interface),
            ("queue", drops.queue),
        ],
    );
    if !drops.rings.is_empty() {
        let rings: Vec<(String, u64)> = drops
            .rings
            .iter()
            .enumerate()
            .map(|(ring, &n)| (ring.to_string(), n))
            .collect();
        let rings: Vec<(&str, u64)> = rings.iter().map(|(r, n)| (r.as_str(), *n)).collect();
        one_label(
            &mut registry,
            "capture_ring_dropped_packets",
            "Packets the kernel dropped because a worker's AF_PACKET ring was full, by ring",
            "ring",
            &rings,
        );
    }
    counter(
        &mut registry,
        "flow_evictions",
        "Flows ended early because the flow table was full",
        stats.flow_evictions,
    );

    let flows = family(
        &mut registry,
        "flows",
        "Flows ended, by application protocol and encryption",
    );
    for (proto, count) in &summary.by_proto {
        for (encrypted, n) in [
            ("true", count.encrypted),
            ("false", count.flows - count.encrypted),
        ] {
            if n > 0 {
                flows
                    .get_or_create(&vec![
                        ("app_proto", proto.to_string()),
                        ("encrypted", encrypted.to_string()),
                    ])
                    .inc_by(n);
            }
        }
    }
    let active = Gauge::<i64>::default();
    active.set(i64::try_from(active_flows).unwrap_or(i64::MAX));
    registry.register("flows_active", "Flows being tracked", active);

    // One series per rule, labelled with the rule's severity as configured: a pattern
    // that raises one alert's severity must not start a second series for the rule,
    // which would break `increase()` and `rate()` per rule and every dashboard summing
    // by severity. How bad each alert was is counted apart.
    let alerts = family(
        &mut registry,
        "alerts",
        "Alerts raised, by rule and the rule's configured severity",
    );
    // Every enabled rule from the start, at 0 until it fires: an alerting rule on
    // `increase()` needs a sample from before the first alert.
    for rule in rules.iter().filter(|r| r.enabled) {
        alerts
            .get_or_create(&vec![
                ("rule", rule.id.to_string()),
                ("severity", rule.severity.as_str().to_string()),
            ])
            .inc_by(0);
    }
    for (id, count) in &summary.alerts_by_rule {
        let severity = rules.get(*id).map_or(count.severity, |r| r.severity);
        alerts
            .get_or_create(&vec![
                ("rule", id.to_string()),
                ("severity", severity.as_str().to_string()),
            ])
            .inc_by(count.alerts);
    }
    let severities = family(
        &mut registry,
        "alerts_by_severity",
        "Alerts raised, by the severity each alert had (a pattern may raise its rule's)",
    );
    for severity in Severity::ALL {
        severities
            .get_or_create(&vec![("severity", severity.as_str().to_string())])
            .inc_by(
                summary
                    .alerts_by_severity
                    .get(&severity)
                    .copied()
                    .unwrap_or(0),
            );
    }
    let tls = family(
        &mut registry,
        "tls_sessions",
        "TLS and DTLS sessions, by negotiated version",
    );
    for (version, n) in &summary.tls_versions {
        tls.get_or_create(&vec![("version", version.to_string())])
            .inc_by(*n);
    }
    let findings = family(
        &mut registry,
        "personal_data_findings",
        "Personal-data findings, by kind and application protocol",
    );
    for ((kind, proto), n) in &summary.findings_by_kind {
        findings
            .get_or_create(&vec![
                ("kind", kind.to_string()),
                ("app_proto", proto.to_string()),
            ])
            .inc_by(*n);
    }
    let errors = family(
        &mut registry,
        "decode_errors",
        "Frames that could not be decoded, by reason",
    );
    // Every known reason from the start, at 0, as the rules are.
    for reason in DecodeError::ALL.map(DecodeError::reason) {
        errors
            .get_or_create(&vec![("reason", reason.to_string())])
            .inc_by(0);
    }
    for (reason, n) in &stats.decode_errors {
        errors
            .get_or_create(&vec![("reason", reason.to_string())])
            .inc_by(*n);
    }
    // The named anomalies the summary lists (`sip.dialogs_evicted`, `ldap.framing_lost`,
    // `ip.fragment_overlap` …): names the dissectors define, never payload.
    let anomalies = family(
        &mut registry,
        "anomalies",
        "Named protocol anomalies (bounds reached, messages not parsed), by name",
    );
    for (name, n) in &stats.anomalies {
        anomalies
            .get_or_create(&vec![("anomaly", name.to_string())])
            .inc_by(*n);
    }
    one_label(
        &mut registry,
        "table_evictions",
        "Entries pushed out of bounded tables other than the flow table (flow_evictions_total), by table",
        "table",
        &[
            ("ip_fragments", stats.fragment_evictions),
            ("media_expectations", stats.expectation_evictions),
        ],
    );
    one_label(
        &mut registry,
        "memory_shed",
        "Buffered state dropped or delivered early to stay inside the memory budget, by reason",
        "reason",
        &ShedReason::ALL.map(|r| (r.as_str(), stats.shed.get(r))),
    );
    let budget = Gauge::<i64>::default();
    budget.set(i64::try_from(stats.memory_budget).unwrap_or(i64::MAX));
    registry.register(
        "memory_budget_bytes",
        "Bytes of buffered input the engines may hold (all workers)",
        budget,
    );
    // A gauge at 1 rather than an OpenMetrics info: the classic `_info` convention,
    // which the Prometheus text format (and `promtool check metrics`) also reads.
    // The sensor's name, when configured, as a label: the one place a fleet's
    // dashboards tell sensors apart without relabelling.
    let build = Family::<Labels, Gauge>::default();
    let mut labels = vec![("version", env!("CARGO_PKG_VERSION").to_string())];
    if let Some(host) = host {
        labels.push(("host", host.to_string()));
    }
    build.get_or_create(&labels).set(1);
    registry.register("build_info", "Build information", build);
    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

/// The same exposition in the Prometheus text format 0.0.4, for readers that do not
/// speak OpenMetrics: node_exporter's textfile collector, `promtool check metrics`,
/// a plain `curl`. The two differ here only in naming: OpenMetrics describes a
/// counter family as `x` and its sample as `x_total`, the text format both as
/// `x_total`; and the text format has no `# EOF`.
pub fn text_format(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match described {
            Some(renamed) => out.push_str(&renamed),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}
