//! The auditor's report: the run's summary as data (`--report x.json`, schema
//! `cleartrace-report/1`) and as one self-contained HTML page (`--report x.html`):
//! styles and charts inline (SVG), no script, nothing fetched, prints on A4.
//!
//! Every string in it comes from the summary, whose evidence is already masked.

use std::fmt::Write as _;

use serde::Serialize;

use super::summary::{ProtoCount, RuleCount, Summary};
use crate::policy::suppress::Suppression;
use crate::signatures::Severity;
use crate::timestamp::Timestamp;

pub const SCHEMA: &str = "cleartrace-report/1";

/// What the run was, beside what it found.
pub struct RunInfo<'a> {
    pub inputs: &'a [String],
    pub packets: u64,
    pub bytes: u64,
    pub signature_fingerprint: String,
    pub rules: usize,
    pub patterns: usize,
    /// Active suppressions with the alerts each held back, and expired ones.
    pub suppressions: Vec<(&'a Suppression, u64)>,
    pub expired: &'a [Suppression],
}

#[derive(Serialize)]
struct Channel<'a> {
    app_proto: &'a str,
    #[serde(flatten)]
    counts: &'a ProtoCount,
    encrypted_share: f64,
}

#[derive(Serialize)]
struct Finding<'a> {
    rule_id: u32,
    severity_name: &'static str,
    #[serde(flatten)]
    rule: &'a RuleCount,
}

#[derive(Serialize)]
struct SuppressionJson<'a> {
    rule: u32,
    scope: String,
    reason: &'a str,
    expires: Option<&'a str>,
    alerts_held_back: u64,
    expired: bool,
}

#[derive(Serialize)]
struct Verdict {
    worst: Option<&'static str>,
    alerts_by_severity: Vec<(&'static str, u64)>,
    flows: u64,
    encrypted_flows: u64,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    schema: &'static str,
    tool: &'static str,
    version: &'static str,
    generated_at: Timestamp,
    inputs: &'a [String],
    time_span: Option<(Timestamp, Timestamp)>,
    packets: u64,
    bytes: u64,
    signatures: SignaturesJson,
    verdict: Verdict,
    channels: Vec<Channel<'a>>,
    tls_versions: &'a std::collections::BTreeMap<&'static str, u64>,
    findings: Vec<Finding<'a>>,
    suppressions: Vec<SuppressionJson<'a>>,
}

#[derive(Serialize)]
struct SignaturesJson {
    rules: usize,
    patterns: usize,
    fingerprint: String,
}

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn build<'a>(summary: &'a Summary, run: &'a RunInfo<'a>) -> ReportJson<'a> {
    let flows = summary.total_flows();
    let encrypted: u64 = summary.by_proto.values().map(|p| p.encrypted).sum();
    let mut findings: Vec<Finding<'a>> = summary
        .alerts_by_rule
        .iter()
        .map(|(id, rule)| Finding {
            rule_id: *id,
            severity_name: rule.severity.as_str(),
            rule,
        })
        .collect();
    findings.sort_by_key(|f| (f.rule.severity, std::cmp::Reverse(f.rule.alerts), f.rule_id));
    let mut suppressions: Vec<SuppressionJson<'a>> = run
        .suppressions
        .iter()
        .map(|(s, held)| SuppressionJson {
            rule: s.rule,
            scope: s.describe(),
            reason: &s.reason,
            expires: s.expires.as_deref(),
            alerts_held_back: *held,
            expired: false,
        })
        .collect();
    suppressions.extend(run.expired.iter().map(|s| SuppressionJson {
        rule: s.rule,
        scope: s.describe(),
        reason: &s.reason,
        expires: s.expires.as_deref(),
        alerts_held_back: 0,
        expired: true,
    }));
    ReportJson {
        schema: SCHEMA,
        tool: "cleartrace",
        version: env!("CARGO_PKG_VERSION"),
        generated_at: Timestamp::now(),
        inputs: run.inputs,
        time_span: summary.span,
        packets: run.packets,
        bytes: run.bytes,
        signatures: SignaturesJson {
            rules: run.rules,
            patterns: run.patterns,
            fingerprint: run.signature_fingerprint.clone(),
        },
        verdict: Verdict {
            worst: summary.worst.map(Severity::as_str),
            alerts_by_severity: SEVERITIES
                .iter()
                .map(|s| {
                    (
                        s.as_str(),
                        summary.alerts_by_severity.get(s).copied().unwrap_or(0),
                    )
                })
                .collect(),
            flows,
            encrypted_flows: encrypted,
        },
        channels: summary
            .by_proto
            .iter()
            .map(|(name, counts)| Channel {
                app_proto: name,
                counts,
                encrypted_share: share(counts.encrypted, counts.flows),
            })
            .collect(),
        tls_versions: &summary.tls_versions,
        findings,
        suppressions,
    }
}

/// The report as pretty JSON.
/// Writes the report to `path`: the data (`.json`) or the page (anything else).
pub fn write(path: &std::path::Path, summary: &Summary, run: &RunInfo<'_>) -> std::io::Result<()> {
    let text = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        json(summary, run)?
    } else {
        html(summary, run)
    };
    std::fs::write(path, text)
}

pub fn json(summary: &Summary, run: &RunInfo<'_>) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&build(summary, run))
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8b0000",
        Severity::High => "#d9480f",
        Severity::Medium => "#e8a317",
        Severity::Low => "#4c7fb8",
        Severity::Info => "#7a7a7a",
    }
}

/// Horizontal bars: (label, [(value, colour)]) stacked per row, scaled to the widest row.
fn bar_chart(
    title: &str,
    rows: &[(String, Vec<(u64, &'static str)>)],
    legend: &[(&str, &str)],
) -> String {
    let width = 640.0;
    let label_w = 170.0;
    let row_h = 22.0;
    let height = 30.0 + row_h * rows.len() as f64 + 24.0;
    let max = rows
        .iter()
        .map(|(_, parts)| parts.iter().map(|(v, _)| *v).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">",
        esc(title),
        esc(title)
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = 10.0 + row_h * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"lbl\">{}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label)
        );
        let mut x = label_w;
        let total: u64 = parts.iter().map(|(v, _)| *v).sum();
        for (value, colour) in parts {
            let w = (width - label_w - 60.0) * (*value as f64) / max as f64;
            if w > 0.0 {
                let _ = write!(svg, "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{colour}\"/>");
            }
            x += w;
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" class=\"num\">{total}</text>",
            x + 4.0,
            y + 13.0
        );
    }
    let mut lx = label_w;
    let ly = height - 10.0;
    for (name, colour) in legend {
        let _ = write!(svg, "<rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{ly}\" class=\"lbl\">{}</text>", ly - 9.0, lx + 14.0, esc(name));
        lx += 24.0 + 7.0 * name.len() as f64;
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Alerts over time: a column per time bucket across the capture's span.
fn timeline_chart(summary: &Summary) -> String {
    let Some((start, end)) = summary.span else {
        return String::new();
    };
    const BUCKETS: usize = 48;
    let span = end.since(start).max(1);
    let mut counts = [[0u64; 5]; BUCKETS];
    for (ts, severity) in &summary.timeline {
        let bucket = ((ts.since(start) as u128 * BUCKETS as u128) / (span as u128 + 1)) as usize;
        counts[bucket.min(BUCKETS - 1)][usize::from(severity.as_int() - 1)] += 1;
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height, top) = (640.0, 160.0, 10.0);
    let plot_h = height - 40.0;
    let col_w = (width - 40.0) / BUCKETS as f64;
    let mut svg = format!(
        "<figure><figcaption>Findings over time</figcaption><svg role=\"img\" aria-label=\"Findings over time\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    for (i, bucket) in counts.iter().enumerate() {
        let mut y = top + plot_h;
        for (s, count) in bucket.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let h = plot_h * (*count as f64) / max as f64;
            y -= h;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                30.0 + col_w * i as f64,
                col_w - 1.0,
                severity_colour(SEVERITIES[s])
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"30\" y=\"{}\" class=\"lbl\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"lbl\">{}</text><text x=\"2\" y=\"{}\" class=\"num\">{max}</text></svg></figure>",
        height - 12.0,
        start,
        width - 10.0,
        height - 12.0,
        end,
        top + 10.0
    );
    svg
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}\
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n{text-align:right}.sev{color:#fff;padding:.1em .5em;border-radius:.3em;font-weight:600}\
.verdict{display:flex;gap:.6em;flex-wrap:wrap}.verdict div{padding:.6em 1em;border-radius:.4em;color:#fff;min-width:7em}\
.verdict b{display:block;font-size:1.8em}figure{margin:1em 0}figcaption{font-weight:600}.lbl{font-size:11px}.num{font-size:11px;fill:#333}\
code{font-size:12px;background:#f6f6f6;padding:0 .2em}.muted{color:#666}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,figure{break-inside:avoid}}";

/// The report as one self-contained HTML page.
pub fn html(summary: &Summary, run: &RunInfo<'_>) -> String {
    let r = build(summary, run);
    let mut h = String::new();
    let _ = write!(h, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cleartrace report</title><style>{STYLE}</style></head><body>");
    let _ = write!(h, "<h1>cleartrace report</h1><p class=\"muted\">Personal data and weak encryption on the wire, as seen in {} capture file(s).</p>", r.inputs.len());

    // Verdict.
    let total_alerts: u64 = r.verdict.alerts_by_severity.iter().map(|(_, n)| n).sum();
    let headline = match r.verdict.worst {
        Some(worst) => format!("{total_alerts} finding(s); the worst is <b>{worst}</b>."),
        None => "No findings: nothing in these captures breaks the rules in force.".to_string(),
    };
    let _ = write!(
        h,
        "<h2>Verdict</h2><p id=\"verdict\">{headline}</p><div class=\"verdict\">"
    );
    for s in SEVERITIES {
        let n = summary.alerts_by_severity.get(&s).copied().unwrap_or(0);
        let _ = write!(
            h,
            "<div id=\"count-{}\" style=\"background:{}\"><b>{n}</b>{}</div>",
            s.as_str(),
            severity_colour(s),
            s.as_str()
        );
    }
    h.push_str("</div>");

    // Channels.
    let _ = write!(h, "<h2>Channels seen</h2><p>{} flows, {} of them encrypted ({:.0} %).</p><table><tr><th>protocol</th><th>flows</th><th>encrypted</th><th>bytes</th><th>TLS versions</th></tr>",
        r.verdict.flows, r.verdict.encrypted_flows, 100.0 * share(r.verdict.encrypted_flows, r.verdict.flows));
    for c in &r.channels {
        let versions: Vec<String> = c
            .counts
            .tls_versions
            .iter()
            .map(|(v, n)| format!("{v}: {n}"))
            .collect();
        let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} ({:.0} %)</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(c.app_proto), c.counts.flows, c.counts.encrypted, 100.0 * c.encrypted_share, c.counts.bytes, esc(&versions.join(", ")));
    }
    h.push_str("</table>");

    // Charts.
    let share_rows: Vec<(String, Vec<(u64, &'static str)>)> = r
        .channels
        .iter()
        .map(|c| {
            (
                c.app_proto.to_string(),
                vec![
                    (c.counts.encrypted, "#2f8f46"),
                    (c.counts.flows - c.counts.encrypted, "#c0392b"),
                ],
            )
        })
        .collect();
    h.push_str(&bar_chart(
        "Encrypted and cleartext flows per protocol",
        &share_rows,
        &[("encrypted", "#2f8f46"), ("cleartext", "#c0392b")],
    ));
    let version_rows: Vec<(String, Vec<(u64, &'static str)>)> = r
        .tls_versions
        .iter()
        .map(|(v, n)| {
            let weak = matches!(*v, "SSLv2" | "SSLv3" | "TLSv1" | "TLS 1.1" | "DTLS 1.0");
            (
                v.to_string(),
                vec![(*n, if weak { "#c0392b" } else { "#2f8f46" })],
            )
        })
        .collect();
    if !version_rows.is_empty() {
        h.push_str(&bar_chart(
            "Negotiated TLS versions (flows)",
            &version_rows,
            &[("1.2 or later", "#2f8f46"), ("below 1.2", "#c0392b")],
        ));
    }
    let rule_rows: Vec<(String, Vec<(u64, &'static str)>)> = r
        .findings
        .iter()
        .map(|f| {
            (
                format!("{} {}", f.rule_id, f.rule.category),
                vec![(f.rule.alerts, severity_colour(f.rule.severity))],
            )
        })
        .collect();
    if !rule_rows.is_empty() {
        let legend: Vec<(&str, &str)> = SEVERITIES
            .iter()
            .map(|s| (s.as_str(), severity_colour(*s)))
            .collect();
        h.push_str(&bar_chart(
            "Findings by rule and severity (alerts)",
            &rule_rows,
            &legend,
        ));
        h.push_str(&timeline_chart(summary));
    }

    // Findings, grouped by rule, with what to change.
    h.push_str("<h2>Findings</h2>");
    if r.findings.is_empty() {
        h.push_str("<p>None.</p>");
    }
    for f in &r.findings {
        let rule = f.rule;
        let _ = write!(
            h,
            "<h3 id=\"rule-{}\"><span class=\"sev\" style=\"background:{}\">{}</span> {} — {}</h3>",
            f.rule_id,
            severity_colour(rule.severity),
            rule.severity.as_str(),
            f.rule_id,
            esc(&rule.signature)
        );
        let _ = write!(
            h,
            "<table><tr><th>alerts</th><td class=\"n\">{}</td><th>matches</th><td class=\"n\">{}</td></tr><tr><th>first seen</th><td>{}</td><th>last seen</th><td>{}</td></tr></table>",
            rule.alerts, rule.matches, rule.first, rule.last
        );
        let hosts: Vec<String> = rule.hosts.iter().map(|x| esc(x)).collect();
        let _ = write!(h, "<p><b>Where:</b> {}</p>", hosts.join("; "));
        if !rule.evidence.is_empty() {
            let lines: Vec<String> = rule
                .evidence
                .iter()
                .map(|e| format!("<li><code>{}</code></li>", esc(e)))
                .collect();
            let _ = write!(
                h,
                "<p><b>Evidence (masked):</b></p><ul>{}</ul>",
                lines.join("")
            );
        }
        let _ = write!(
            h,
            "<p><b>What to change:</b> {}</p><p><b>GDPR:</b> {}</p>",
            esc(&rule.remediation),
            esc(&rule.gdpr.join(", "))
        );
    }

    // Suppressions.
    h.push_str("<h2>Suppressions</h2>");
    if r.suppressions.is_empty() {
        h.push_str("<p>None configured.</p>");
    } else {
        h.push_str(
            "<table><tr><th>scope and reason</th><th>expires</th><th>alerts held back</th></tr>",
        );
        for s in &r.suppressions {
            let expires = match (s.expires, s.expired) {
                (Some(d), true) => format!("{} (expired: no longer applied)", esc(d)),
                (Some(d), false) => esc(d),
                (None, _) => "never".into(),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{expires}</td><td class=\"n\">{}</td></tr>",
                esc(&s.scope),
                s.alerts_held_back
            );
        }
        h.push_str("</table>");
    }

    // Provenance.
    let span = match r.time_span {
        Some((a, b)) => format!("{a} to {b}"),
        None => "no flows".to_string(),
    };
    let inputs: Vec<String> = r
        .inputs
        .iter()
        .map(|i| format!("<li><code>{}</code></li>", esc(i)))
        .collect();
    let _ = write!(
        h,
        "<h2>About this report</h2><table><tr><th>tool</th><td>cleartrace {}</td></tr><tr><th>generated</th><td>{}</td></tr><tr><th>capture time span</th><td>{span}</td></tr><tr><th>packets, bytes</th><td>{}, {}</td></tr><tr><th>signatures</th><td>{} rules, {} patterns, fingerprint <code>{}</code></td></tr></table><p><b>Inputs:</b></p><ul>{}</ul>",
        r.version,
        r.generated_at,
        r.packets,
        r.bytes,
        r.signatures.rules,
        r.signatures.patterns,
        esc(&r.signatures.fingerprint),
        inputs.join("")
    );
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_renders_empty() {
        assert_eq!(esc("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
        let summary = Summary::default();
        let run = RunInfo {
            inputs: &[],
            packets: 0,
            bytes: 0,
            signature_fingerprint: "0".into(),
            rules: 19,
            patterns: 9,
            suppressions: Vec::new(),
            expired: &[],
        };
        let page = html(&summary, &run);
        assert!(page.contains("No findings"));
        assert!(!page.contains("src=") && !page.contains("href=") && !page.contains("url("));
        assert!(json(&summary, &run)
            .unwrap_or_default()
            .contains("cleartrace-report/1"));
    }
}
