//! The report as one self-contained HTML page: styles and pictures inline (SVG), no
//! script, nothing fetched, prints on A4. Drawn from the [`Report`] data only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{severity_name, ChannelStatus, Report, Service, SystemView, SEVERITIES};
use crate::severity::Severity;

/// Items shown of a list before "and N more".
const SHOWN_HOSTS: usize = 20;
const SHOWN_WORST_HOSTS: usize = 10;
const SHOWN_MAP_SERVICES: usize = 24;
const SHOWN_MAP_CLIENTS: usize = 16;
const SHOWN_CHANGES: usize = 50;

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

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// "and N more" after a capped list, when something was left out.
fn and_more(n: u64, what: &str) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("<p class=\"more\">… and {} more {what}.</p>", thousands(n))
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
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

fn severity_of(n: u8) -> Severity {
    SEVERITIES
        .get(usize::from(n.saturating_sub(1)))
        .copied()
        .unwrap_or(Severity::Info)
}

fn badge(n: u8) -> String {
    format!(
        "<span class=\"sev\" style=\"background:{}\">{}</span>",
        severity_colour(severity_of(n)),
        severity_name(n)
    )
}

const CLEAR: &str = "#c0392b";
const SECURE: &str = "#2f8f46";
const WEAK: &str = "#e67e22";

fn status_colour(s: ChannelStatus) -> &'static str {
    match s {
        ChannelStatus::Secure => SECURE,
        ChannelStatus::Weak => WEAK,
        ChannelStatus::Clear => CLEAR,
        ChannelStatus::NotSeen => "#999",
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
            "<text x=\"{:.1}\" y=\"{}\" class=\"num\">{}</text>",
            x + 4.0,
            y + 13.0,
            thousands(total)
        );
    }
    svg.push_str(&legend_svg(legend, label_w, height - 10.0));
    svg.push_str("</svg></figure>");
    svg
}

fn legend_svg(legend: &[(&str, &str)], x0: f64, y: f64) -> String {
    let mut svg = String::new();
    let mut x = x0;
    for (name, colour) in legend {
        let _ = write!(svg, "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{y}\" class=\"lbl\">{}</text>", y - 9.0, x + 14.0, esc(name));
        x += 24.0 + 6.5 * name.len() as f64;
    }
    svg
}

/// A round step for an axis: 1, 2, 5 × 10^k seconds, or minutes / hours / days.
fn nice_step(span_secs: f64, ticks: f64) -> f64 {
    let raw = (span_secs / ticks).max(1e-6);
    const STEPS: [f64; 22] = [
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
        60.0, 300.0, 600.0, 1800.0, 3600.0, 21_600.0, 86_400.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| *s >= raw)
        .unwrap_or_else(|| (raw / 86_400.0).ceil() * 86_400.0)
}

fn offset_label(secs: f64) -> String {
    if secs >= 86_400.0 {
        format!("+{:.1} d", secs / 86_400.0)
    } else if secs >= 3600.0 {
        format!("+{:.1} h", secs / 3600.0)
    } else if secs >= 60.0 {
        format!("+{:.0} min", secs / 60.0)
    } else if secs >= 1.0 || secs == 0.0 {
        format!("+{secs:.0} s")
    } else {
        format!("+{:.0} ms", secs * 1000.0)
    }
}

fn duration_label(secs: f64) -> String {
    if secs >= 86_400.0 {
        format!("{:.1} days", secs / 86_400.0)
    } else if secs >= 3600.0 {
        format!("{:.1} hours", secs / 3600.0)
    } else if secs >= 60.0 {
        format!("{:.1} minutes", secs / 60.0)
    } else {
        format!("{secs:.0} seconds")
    }
}

/// Alerts over time: a column per time bucket across the capture's span (alerts are
/// kept per second), with a time axis in offsets from the start.
fn timeline_chart(r: &Report) -> String {
    let (Some(first), Some(last)) = (r.timeline.first(), r.timeline.last()) else {
        return "<p>No alerts.</p>".into();
    };
    let start = first.second;
    let span = (last.second - start + 1) as f64;
    const BUCKETS: usize = 48;
    let bucket_secs = (span / BUCKETS as f64).max(1.0).ceil();
    let buckets = ((span / bucket_secs).ceil() as usize).clamp(1, BUCKETS);
    let mut counts = vec![[0u64; 5]; buckets];
    for t in &r.timeline {
        let i = (((t.second - start) as f64 / bucket_secs) as usize).min(buckets - 1);
        for (a, b) in counts[i].iter_mut().zip(t.by_severity) {
            *a += b;
        }
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (width, height, left, top) = (640.0, 190.0, 50.0, 12.0);
    let plot_w = width - left - 20.0;
    let plot_h = 120.0;
    let col_w = plot_w / buckets as f64;
    let caption = format!(
        "Alerts over time: {} from {} UTC, {} per column",
        duration_label(span),
        r.time_span.as_ref().map_or_else(String::new, |(a, _)| {
            esc(&a.replace('T', " ").replace("+0000", "").replace('Z', ""))
        }),
        duration_label(bucket_secs)
    );
    let mut svg = format!(
        "<figure id=\"timeline-chart\"><figcaption>{caption}</figcaption><svg role=\"img\" aria-label=\"Alerts over time\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
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
                left + col_w * i as f64,
                (col_w - 1.0).max(0.5),
                severity_colour(SEVERITIES[s])
            );
        }
    }
    // Axes, ticks and labels.
    let axis_y = top + plot_h;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#333\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{axis_y}\" stroke=\"#333\"/>",
        left + plot_w
    );
    let total_secs = bucket_secs * buckets as f64;
    let step = nice_step(total_secs, 6.0);
    let mut t = 0.0;
    while t <= total_secs + 1e-9 {
        let x = left + plot_w * t / total_secs;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#333\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" class=\"lbl tick\">{}</text>",
            axis_y + 4.0,
            axis_y + 16.0,
            offset_label(t)
        );
        t += step;
    }
    for v in [0, max / 2, max] {
        let y = axis_y - plot_h * v as f64 / max as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"num\">{}</text>",
            left - 4.0,
            y + 4.0,
            thousands(v)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"lbl\">time since the first alert</text><text x=\"12\" y=\"{}\" class=\"lbl\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">alerts</text>",
        left + plot_w / 2.0,
        axis_y + 32.0,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    let legend: Vec<(&str, &str)> = SEVERITIES
        .iter()
        .map(|s| (s.as_str(), severity_colour(*s)))
        .collect();
    svg.push_str(&legend_svg(&legend, left, height - 4.0));
    svg.push_str("</svg></figure>");
    svg
}

fn service_colour(s: &Service) -> &'static str {
    status_colour(s.status())
}

/// The personal-data flow map of one system: clients on the left, the system's services
/// (channel, address) in the middle, the kinds of personal data each carried on the
/// right; a line per client and service, red in clear, orange weakly encrypted, green
/// secure.
fn flow_map(title: &str, services: &[&Service]) -> String {
    let shown: Vec<&Service> = services.iter().take(SHOWN_MAP_SERVICES).copied().collect();
    let mut clients: Vec<&str> = Vec::new();
    let mut clients_more = 0u64;
    for s in &shown {
        for c in &s.clients {
            if !clients.contains(&c.as_str()) {
                if clients.len() < SHOWN_MAP_CLIENTS {
                    clients.push(c);
                } else {
                    clients_more += 1;
                }
            }
        }
        clients_more += s.clients_not_listed;
    }
    let row_h = 26.0;
    let rows = shown.len().max(clients.len()).max(1) as f64;
    let (width, top) = (700.0, 28.0);
    let height = top + row_h * rows + 34.0;
    let (client_x, service_x, kinds_x) = (110.0, 196.0, 432.0);
    let mut svg = format!(
        "<figure class=\"map\"><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">",
        esc(title),
        esc(title)
    );
    let _ = write!(
        svg,
        "<text x=\"{client_x}\" y=\"14\" text-anchor=\"end\" class=\"hd\">clients</text><text x=\"{service_x}\" y=\"14\" class=\"hd\">channel · service</text><text x=\"{kinds_x}\" y=\"14\" class=\"hd\">personal data carried</text>"
    );
    let client_y = |i: usize| top + row_h * i as f64 + row_h / 2.0;
    for (si, s) in shown.iter().enumerate() {
        let y = client_y(si);
        for c in &s.clients {
            if let Some(ci) = clients.iter().position(|x| x == c) {
                let _ = write!(
                    svg,
                    "<line x1=\"{}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"1.5\"/>",
                    client_x + 4.0,
                    client_y(ci),
                    service_x - 4.0,
                    service_colour(s)
                );
            }
        }
        let _ = write!(
            svg,
            "<rect x=\"{service_x}\" y=\"{:.1}\" width=\"228\" height=\"{}\" rx=\"3\" fill=\"#fff\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{:.1}\" class=\"lbl\">{} · {}</text>",
            y - row_h / 2.0 + 3.0,
            row_h - 6.0,
            service_colour(s),
            service_x + 5.0,
            y + 4.0,
            esc(s.channel.as_deref().unwrap_or(&s.app_proto)),
            esc(&s.endpoint())
        );
        let lines = kind_lines(&s.personal_data);
        let colour = if s.personal_data.is_empty() {
            "#666"
        } else {
            service_colour(s)
        };
        let first_y = y + 4.0 - 5.5 * (lines.len() as f64 - 1.0);
        for (i, line) in lines.iter().enumerate() {
            let _ = write!(
                svg,
                "<text x=\"{kinds_x}\" y=\"{:.1}\" class=\"kinds\" fill=\"{colour}\">{}</text>",
                first_y + 11.0 * i as f64,
                esc(line)
            );
        }
    }
    for (ci, c) in clients.iter().enumerate() {
        let _ = write!(
            svg,
            "<circle cx=\"{}\" cy=\"{:.1}\" r=\"3\" fill=\"#333\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"lbl\">{}</text>",
            client_x + 2.0,
            client_y(ci),
            client_x - 4.0,
            client_y(ci) + 4.0,
            esc(c)
        );
    }
    let mut notes = Vec::new();
    if services.len() > shown.len() {
        notes.push(format!(
            "and {} more services",
            thousands((services.len() - shown.len()) as u64)
        ));
    }
    if clients_more > 0 {
        notes.push(format!("and {} more client flows", thousands(clients_more)));
    }
    if !notes.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{client_x}\" y=\"{}\" text-anchor=\"end\" class=\"lbl\">{}</text>",
            height - 20.0,
            esc(&notes.join("; "))
        );
    }
    svg.push_str(&legend_svg(
        &[
            ("in clear", CLEAR),
            ("encrypted, below documented", WEAK),
            ("secure as documented", SECURE),
        ],
        service_x,
        height - 4.0,
    ));
    svg.push_str("</svg></figure>");
    svg
}

/// The kinds of personal data as at most two lines of the map.
fn kind_lines(kinds: &[String]) -> Vec<String> {
    const LINE: usize = 46;
    if kinds.is_empty() {
        return vec!["—".into()];
    }
    let mut lines: Vec<String> = vec![String::new()];
    for (i, k) in kinds.iter().enumerate() {
        let last = lines.len() - 1;
        if !lines[last].is_empty() && lines[last].len() + k.len() + 2 > LINE {
            if lines.len() == 2 {
                lines[last].push_str(&format!(" +{} more", kinds.len() - i));
                break;
            }
            lines.push(String::new());
        }
        let last = lines.len() - 1;
        if !lines[last].is_empty() {
            lines[last].push_str(", ");
        }
        lines[last].push_str(k);
    }
    lines
}

fn tls_text(versions: &BTreeMap<String, u64>) -> String {
    versions
        .iter()
        .map(|(v, n)| format!("{v}: {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn service_cell(s: &Service) -> String {
    let mut parts = vec![format!(
        "<code>{}</code> {}",
        esc(&s.endpoint()),
        esc(&s.app_proto)
    )];
    parts.push(format!(
        "{}, {} encrypted",
        plural(s.flows, "flow", "flows"),
        thousands(s.encrypted)
    ));
    if !s.tls_versions.is_empty() {
        parts.push(esc(&tls_text(&s.tls_versions)));
    }
    if let Some(w) = s.worst() {
        let rules: Vec<String> = s.alerts.iter().map(|a| a.rule_id.to_string()).collect();
        parts.push(format!("{} rules {}", badge(w), rules.join(", ")));
    }
    parts.join("<br>")
}

fn system_section(h: &mut String, r: &Report, system: &SystemView) {
    let services: Vec<&Service> = r
        .services
        .iter()
        .filter(|s| s.system.as_deref() == Some(system.id.as_str()))
        .collect();
    let configured = services
        .iter()
        .any(|s| s.assigned_by == Some(super::AssignedBy::Configuration));
    let _ = write!(
        h,
        "<section class=\"system\" id=\"system-{}\"><h3>{}</h3><p class=\"muted\">Servers: {} — assigned {}.</p>",
        esc(&system.id),
        esc(&system.name),
        esc(&system.servers.join(", ")),
        if configured {
            "by configuration (and, where not configured, by what they speak)"
        } else {
            "by what they speak (a proposal: confirm it with [[report.system]] in the configuration)"
        }
    );
    h.push_str("<table class=\"dvs\"><tr><th>documented channel</th><th>documented secure form</th><th>personal data it carries</th><th>seen</th><th>services</th></tr>");
    for c in &system.channels {
        let on: Vec<&&Service> = services
            .iter()
            .filter(|s| s.channel.as_deref() == Some(c.id.as_str()))
            .collect();
        let cells: Vec<String> = on.iter().map(|s| service_cell(s)).collect();
        let _ = write!(
            h,
            "<tr class=\"st-{:?}\"><td>{}</td><td>{}</td><td>{}</td><td><span class=\"st\" style=\"background:{}\">{}</span></td><td>{}</td></tr>",
            c.status,
            esc(&c.name),
            esc(&c.secure_form),
            esc(&c.personal_data.join(", ")),
            status_colour(c.status),
            c.status.as_str(),
            if cells.is_empty() { "—".to_string() } else { cells.join("<hr>") }
        );
    }
    for endpoint in &system.undocumented_with_personal_data {
        if let Some(s) = services.iter().find(|s| &s.endpoint() == endpoint) {
            let _ = write!(
                h,
                "<tr class=\"st-undocumented\"><td>not documented ({})</td><td>—</td><td>{}</td><td><span class=\"st\" style=\"background:{CLEAR}\">undocumented, carries personal data</span></td><td>{}</td></tr>",
                esc(&s.app_proto),
                esc(&s.personal_data.join(", ")),
                service_cell(s)
            );
        }
    }
    h.push_str("</table>");
    if system.undocumented_other > 0 {
        let _ = write!(
            h,
            "<p class=\"muted\">{} of this system fit no documented channel and carried no personal data found.</p>",
            plural(system.undocumented_other, "other service", "other services")
        );
    }
    h.push_str(&flow_map(
        &format!("Personal-data flow map: {}", system.name),
        &services,
    ));
    h.push_str("</section>");
}

/// One server's alerts over all its services.
#[derive(Default)]
struct HostAlerts {
    worst: u8,
    alerts: u64,
    rules: BTreeSet<u32>,
    kinds: BTreeSet<String>,
}

/// Worst servers: by worst severity, then alerts.
fn worst_hosts(r: &Report) -> Vec<(&str, HostAlerts)> {
    let mut hosts: BTreeMap<&str, HostAlerts> = BTreeMap::new();
    for s in &r.services {
        let Some(worst) = s.worst() else { continue };
        let e = hosts.entry(s.server.as_str()).or_insert(HostAlerts {
            worst,
            ..HostAlerts::default()
        });
        e.worst = e.worst.min(worst);
        for a in &s.alerts {
            e.alerts += a.alerts;
            e.rules.insert(a.rule_id);
        }
        e.kinds.extend(s.personal_data.iter().cloned());
    }
    let mut out: Vec<(&str, HostAlerts)> = hosts.into_iter().collect();
    out.sort_by_key(|(host, a)| (a.worst, std::cmp::Reverse(a.alerts), *host));
    out
}

/// The executive summary: sentences written from the figures.
fn executive_summary(r: &Report) -> String {
    let mut p = Vec::new();
    let v = &r.verdict;
    p.push(format!(
        "cleartrace read {} ({} packets, {} bytes) covering {} and saw {}, {} of them encrypted ({:.0} %).",
        plural(r.inputs.len() as u64, "input", "inputs"),
        thousands(r.packets),
        thousands(r.bytes),
        r.time_span
            .as_ref()
            .map_or_else(|| "no flows".to_string(), |(a, b)| format!("{a} to {b}")),
        plural(v.flows, "flow", "flows"),
        thousands(v.encrypted_flows),
        100.0 * share(v.encrypted_flows, v.flows)
    ));
    match &v.worst {
        Some(worst) => {
            let parts: Vec<String> = v
                .alerts_by_severity
                .iter()
                .filter(|c| c.alerts > 0)
                .map(|c| format!("{} {}", thousands(c.alerts), c.severity_name))
                .collect();
            p.push(format!(
                "It raised {} ({}); the worst is <b>{}</b>.",
                plural(v.alerts, "alert", "alerts"),
                parts.join(", "),
                esc(worst)
            ));
        }
        None => p.push("It raised no alerts under the rules in force.".into()),
    }
    let mut counts: BTreeMap<ChannelStatus, u64> = BTreeMap::new();
    for s in &r.systems {
        for c in &s.channels {
            *counts.entry(c.status).or_default() += 1;
        }
    }
    let documented: u64 = counts.values().sum();
    if !r.systems.is_empty() {
        let names: Vec<String> = r.systems.iter().map(|s| esc(&s.name)).collect();
        p.push(format!(
            "Systems seen: {}. Of their {}, {} secure as documented, {} encrypted below what is documented, {} in clear and {} not seen.",
            names.join("; "),
            plural(documented, "documented channel", "documented channels"),
            thousands(counts.get(&ChannelStatus::Secure).copied().unwrap_or(0)),
            thousands(counts.get(&ChannelStatus::Weak).copied().unwrap_or(0)),
            thousands(counts.get(&ChannelStatus::Clear).copied().unwrap_or(0)),
            thousands(counts.get(&ChannelStatus::NotSeen).copied().unwrap_or(0)),
        ));
    }
    let undocumented: u64 = r
        .systems
        .iter()
        .map(|s| s.undocumented_with_personal_data.len() as u64)
        .sum::<u64>()
        + r.services
            .iter()
            .filter(|s| s.system.is_none() && !s.personal_data.is_empty())
            .count() as u64;
    if undocumented > 0 {
        p.push(format!(
            "{} no vendor profile documents carried personal data.",
            plural(undocumented, "service", "services")
        ));
    }
    let mut kinds: Vec<&str> = r
        .services
        .iter()
        .filter(|s| s.flows > s.encrypted)
        .flat_map(|s| s.personal_data.iter().map(String::as_str))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    if !kinds.is_empty() {
        p.push(format!(
            "Personal data crossed the network in clear: {}.",
            esc(&kinds.join(", "))
        ));
    }
    let l = &r.limits;
    let uninspected = l.truncated_inputs
        + l.capture_drops_kernel
        + l.capture_drops_interface
        + l.capture_drops_queue
        + l.flow_evictions
        + l.decode_errors.values().sum::<u64>()
        + l.shed.values().sum::<u64>()
        + l.anomalies.values().sum::<u64>();
    p.push(if uninspected == 0 {
        "Nothing was reported as uninspectable (see Limits of the run).".to_string()
    } else {
        "Parts of the traffic could not be fully inspected: see Limits of the run.".to_string()
    });
    if let Some(c) = &r.comparison {
        p.push(format!(
            "Against the baseline: {} new, {} fixed, {} unchanged.",
            plural(c.new.len() as u64, "finding", "findings"),
            thousands(c.fixed.len() as u64),
            thousands(c.unchanged.len() as u64)
        ));
    }
    format!("<p id=\"executive-summary\">{}</p>", p.join(" "))
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}\
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.n{text-align:right}.sev,.st{color:#fff;padding:.1em .5em;border-radius:.3em;font-weight:600;white-space:nowrap}\
.verdict{display:flex;gap:.6em;flex-wrap:wrap}.verdict div{padding:.6em 1em;border-radius:.4em;color:#fff;min-width:7em}\
.verdict b{display:block;font-size:1.8em}figure{margin:1em 0}figcaption{font-weight:600}.lbl{font-size:11px}.num{font-size:11px;fill:#333}.hd{font-size:12px;font-weight:600}.kinds{font-size:10px}\
table.dvs td:nth-child(1){width:18%}table.dvs td:nth-child(2),table.dvs td:nth-child(3){width:17%}table.dvs td:nth-child(4){width:10%}table.dvs td:nth-child(5){font-size:12px}\
code{font-size:12px;background:#f6f6f6;padding:0 .2em;word-break:break-all}.muted,.more{color:#666}hr{border:0;border-top:1px dashed #ccc}\
nav ol{columns:2}dl.meta{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dl.meta dt{font-weight:600}\
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}table,figure,section.system{break-inside:avoid}@page{size:A4;margin:15mm}svg{max-width:100%;height:auto}}";

const SECTIONS: [(&str, &str); 12] = [
    ("summary", "Executive summary"),
    ("verdict", "Verdict"),
    ("systems", "Systems: documented against seen"),
    ("undocumented", "Services no profile documents"),
    ("hosts", "Worst hosts"),
    ("changes", "Changes since the baseline"),
    ("protocols", "Protocols seen"),
    ("timeline", "Timeline"),
    ("findings", "Findings by rule"),
    ("limits", "Limits of the run"),
    ("suppressions", "Suppressions"),
    ("custody", "Chain of custody"),
];

fn heading(h: &mut String, id: &str) {
    let title = SECTIONS
        .iter()
        .find(|(i, _)| *i == id)
        .map_or(id, |(_, t)| t);
    let _ = write!(h, "<h2 id=\"{id}\">{}</h2>", esc(title));
}

/// The report as one self-contained HTML page.
pub fn html(r: &Report) -> String {
    let mut h = String::new();
    let _ = write!(h, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cleartrace report</title><style>{STYLE}</style></head><body>");
    h.push_str("<h1>cleartrace report</h1><p class=\"muted\">Personal data and weak encryption on the wire, per system, for a data-protection audit (GDPR Art. 30 record of flows, Art. 32 evidence).</p><dl class=\"meta\" id=\"assessment\">");
    for (label, value) in [
        ("Site", &r.assessment.site),
        ("Scope", &r.assessment.scope),
        ("Assessor", &r.assessment.assessor),
    ] {
        let _ = write!(
            h,
            "<dt>{label}</dt><dd>{}</dd>",
            value
                .as_deref()
                .map_or_else(|| "<span class=\"muted\">not given</span>".to_string(), esc)
        );
    }
    let _ = write!(
        h,
        "<dt>Generated</dt><dd>{} by cleartrace {}</dd></dl>",
        esc(&r.generated_at),
        esc(&r.version)
    );
    h.push_str("<nav id=\"contents\"><h2>Contents</h2><ol>");
    for (id, title) in SECTIONS {
        if id == "changes" && r.comparison.is_none() {
            continue;
        }
        let _ = write!(h, "<li><a href=\"#{id}\">{}</a></li>", esc(title));
    }
    h.push_str("</ol></nav>");

    heading(&mut h, "summary");
    h.push_str(&executive_summary(r));

    // Verdict.
    heading(&mut h, "verdict");
    let headline = match &r.verdict.worst {
        Some(worst) => format!(
            "{}; the worst is <b>{}</b>.",
            plural(r.verdict.alerts, "alert", "alerts"),
            esc(worst)
        ),
        None => "No alerts: nothing in these captures breaks the rules in force.".to_string(),
    };
    let _ = write!(
        h,
        "<p id=\"verdict-line\">{headline}</p><div class=\"verdict\">"
    );
    for c in &r.verdict.alerts_by_severity {
        let _ = write!(
            h,
            "<div id=\"count-{}\" style=\"background:{}\"><b>{}</b>{}</div>",
            c.severity_name,
            severity_colour(severity_of(c.severity)),
            thousands(c.alerts),
            c.severity_name
        );
    }
    h.push_str("</div>");

    // Systems.
    heading(&mut h, "systems");
    h.push_str("<p>Each system's documented channels (from its vendor profile) against what was seen. A service is put on a system by the configuration (addresses, networks, server names) or, failing that, proposed from the protocol and port it speaks.</p>");
    if r.systems.is_empty() {
        h.push_str("<p>No service matched a system profile.</p>");
    }
    for system in &r.systems {
        system_section(&mut h, r, system);
    }
    if !r.systems_not_seen.is_empty() {
        let _ = write!(
            h,
            "<p class=\"muted\">Profiles with nothing seen: {}.</p>",
            esc(&r.systems_not_seen.join(", "))
        );
    }

    // Services nobody documents.
    heading(&mut h, "undocumented");
    let unassigned: Vec<&Service> = r.services.iter().filter(|s| s.system.is_none()).collect();
    let with_data: Vec<&Service> = unassigned
        .iter()
        .copied()
        .filter(|s| !s.personal_data.is_empty() || !s.alerts.is_empty())
        .collect();
    if with_data.is_empty() {
        h.push_str("<p>None with personal data or alerts.</p>");
    } else {
        h.push_str("<p>Services no profile documents and no configuration assigns, with personal data or alerts.</p><table><tr><th>service</th><th>personal data</th></tr>");
        for s in &with_data {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td></tr>",
                service_cell(s),
                esc(&s.personal_data.join(", "))
            );
        }
        h.push_str("</table>");
        h.push_str(&flow_map(
            "Personal-data flow map: services no profile documents",
            &with_data,
        ));
    }
    if unassigned.len() > with_data.len() {
        let _ = write!(
            h,
            "<p class=\"muted\">{} without personal data or alerts.</p>",
            plural(
                (unassigned.len() - with_data.len()) as u64,
                "other unassigned service",
                "other unassigned services"
            )
        );
    }

    // Worst hosts.
    heading(&mut h, "hosts");
    let worst = worst_hosts(r);
    if worst.is_empty() {
        h.push_str("<p>No host has alerts.</p>");
    } else {
        h.push_str("<table id=\"worst-hosts\"><tr><th>server</th><th>worst</th><th>alerts</th><th>rules</th><th>personal data</th></tr>");
        for (host, a) in worst.iter().take(SHOWN_WORST_HOSTS) {
            let rules: Vec<String> = a.rules.iter().map(u32::to_string).collect();
            let kinds: Vec<&str> = a.kinds.iter().map(String::as_str).collect();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(host),
                badge(a.worst),
                thousands(a.alerts),
                rules.join(", "),
                esc(&kinds.join(", "))
            );
        }
        h.push_str("</table>");
        h.push_str(&and_more(
            worst.len().saturating_sub(SHOWN_WORST_HOSTS) as u64,
            "hosts with alerts",
        ));
    }

    // Changes.
    if let Some(c) = &r.comparison {
        heading(&mut h, "changes");
        let _ = write!(
            h,
            "<p>Baseline: {} (generated {}).</p>",
            esc(&c.baseline_inputs.join(", ")),
            esc(&c.baseline_generated_at)
        );
        for (id, title, list) in [
            ("new", "New", &c.new),
            ("fixed", "Fixed", &c.fixed),
            ("unchanged", "Unchanged", &c.unchanged),
        ] {
            let _ = write!(
                h,
                "<h3 id=\"changes-{id}\">{title}: {}</h3>",
                thousands(list.len() as u64)
            );
            if list.is_empty() {
                continue;
            }
            h.push_str("<table><tr><th>severity</th><th>rule</th><th>system</th><th>channel</th><th>service</th><th>alerts before → after</th></tr>");
            for ch in list.iter().take(SHOWN_CHANGES) {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"n\">{} → {}</td></tr>",
                    badge(ch.severity),
                    ch.rule_id,
                    esc(&ch.signature),
                    esc(&ch.system),
                    esc(&ch.channel),
                    esc(&ch.service),
                    thousands(ch.alerts_before),
                    thousands(ch.alerts_after)
                );
            }
            h.push_str("</table>");
            h.push_str(&and_more(
                list.len().saturating_sub(SHOWN_CHANGES) as u64,
                "findings",
            ));
        }
    }

    // Protocols.
    heading(&mut h, "protocols");
    let _ = write!(h, "<p>{}, {} of them encrypted ({:.0} %).</p><table><tr><th>protocol</th><th>flows</th><th>encrypted</th><th>bytes</th><th>TLS versions</th></tr>",
        plural(r.verdict.flows, "flow", "flows"), thousands(r.verdict.encrypted_flows), 100.0 * share(r.verdict.encrypted_flows, r.verdict.flows));
    for c in &r.protocols {
        let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} ({:.0} %)</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&c.app_proto), thousands(c.flows), thousands(c.encrypted), 100.0 * share(c.encrypted, c.flows), thousands(c.bytes), esc(&tls_text(&c.tls_versions)));
    }
    h.push_str("</table>");
    let share_rows: Vec<(String, Vec<(u64, &'static str)>)> = r
        .protocols
        .iter()
        .map(|c| {
            (
                c.app_proto.clone(),
                vec![
                    (c.encrypted, SECURE),
                    (c.flows.saturating_sub(c.encrypted), CLEAR),
                ],
            )
        })
        .collect();
    h.push_str(&bar_chart(
        "Encrypted and cleartext flows per protocol",
        &share_rows,
        &[("encrypted", SECURE), ("cleartext", CLEAR)],
    ));
    let version_rows: Vec<(String, Vec<(u64, &'static str)>)> = r
        .tls_versions
        .iter()
        .map(|(v, n)| {
            let weak = matches!(
                v.as_str(),
                "SSLv2" | "SSLv3" | "TLSv1" | "TLS 1.1" | "DTLS 1.0"
            );
            (v.clone(), vec![(*n, if weak { CLEAR } else { SECURE })])
        })
        .collect();
    if !version_rows.is_empty() {
        h.push_str(&bar_chart(
            "Negotiated TLS versions (flows)",
            &version_rows,
            &[("1.2 or later", SECURE), ("below 1.2", CLEAR)],
        ));
    }

    // Timeline.
    heading(&mut h, "timeline");
    h.push_str(&timeline_chart(r));
    if r.limits.timeline_not_recorded > 0 {
        h.push_str(&and_more(
            r.limits.timeline_not_recorded,
            "alerts not drawn (the timeline was full)",
        ));
    }

    // Findings, grouped by rule, with what to change.
    heading(&mut h, "findings");
    if r.findings.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        let legend: Vec<(&str, &str)> = SEVERITIES
            .iter()
            .map(|s| (s.as_str(), severity_colour(*s)))
            .collect();
        let rule_rows: Vec<(String, Vec<(u64, &'static str)>)> = r
            .findings
            .iter()
            .map(|f| {
                (
                    format!("{} {}", f.rule_id, f.category),
                    vec![(f.alerts, severity_colour(severity_of(f.severity)))],
                )
            })
            .collect();
        h.push_str(&bar_chart(
            "Alerts by rule and severity",
            &rule_rows,
            &legend,
        ));
    }
    for f in &r.findings {
        let _ = write!(
            h,
            "<h3 id=\"rule-{}\">{} {} — {}</h3>",
            f.rule_id,
            badge(f.severity),
            f.rule_id,
            esc(&f.signature)
        );
        let _ = write!(
            h,
            "<table><tr><th>alerts</th><td class=\"n\">{}</td><th>matches</th><td class=\"n\">{}</td></tr><tr><th>first seen</th><td>{}</td><th>last seen</th><td>{}</td></tr></table>",
            thousands(f.alerts),
            thousands(f.matches),
            esc(&f.first_seen),
            esc(&f.last_seen)
        );
        h.push_str("<p><b>Where</b> (client → server:port):</p><ul class=\"hosts\">");
        for host in f.hosts.iter().take(SHOWN_HOSTS) {
            let _ = write!(h, "<li><code>{}</code></li>", esc(host));
        }
        h.push_str("</ul>");
        h.push_str(&and_more(
            f.hosts.len().saturating_sub(SHOWN_HOSTS) as u64,
            "host pairs",
        ));
        if f.hosts_not_listed > 0 {
            let _ = write!(
                h,
                "<p class=\"more\">… and {} from host pairs not recorded (the list was full).</p>",
                plural(f.hosts_not_listed, "alert", "alerts")
            );
        }
        if !f.evidence.is_empty() {
            h.push_str("<p><b>Evidence (masked):</b></p><table class=\"evidence\"><tr><th>field</th><th>value</th></tr>");
            for e in &f.evidence {
                let field = e.field.clone().unwrap_or_else(|| {
                    if f.personal_data.is_empty() {
                        "finding".to_string()
                    } else {
                        format!("one of: {}", f.personal_data.join(", "))
                    }
                });
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td><code>{}</code></td></tr>",
                    esc(&field),
                    esc(&e.value)
                );
            }
            h.push_str("</table>");
        }
        let _ = write!(
            h,
            "<p><b>What to change:</b> {}</p><p><b>GDPR:</b> {}</p>",
            esc(&f.remediation),
            esc(&f.gdpr.join(", "))
        );
    }

    // Limits.
    heading(&mut h, "limits");
    let l = &r.limits;
    let mut rows: Vec<(String, u64, &str)> = vec![
        (
            "inputs not read to their end (truncated or corrupt)".into(),
            l.truncated_inputs,
            "what came before the error was analysed",
        ),
        (
            "packets cut by the snapshot length".into(),
            l.snapped_packets,
            "their payload past the cut was not inspected",
        ),
        (
            "packets dropped in the kernel (live)".into(),
            l.capture_drops_kernel,
            "never seen",
        ),
        (
            "packets dropped by the interface (live)".into(),
            l.capture_drops_interface,
            "never seen",
        ),
        (
            "packets dropped at worker queues (live)".into(),
            l.capture_drops_queue,
            "never seen",
        ),
        (
            "flows evicted from the flow table".into(),
            l.flow_evictions,
            "judged on what was seen before eviction",
        ),
        ("TCP gaps".into(), l.tcp_gaps, "bytes missing from a stream"),
        (
            "IP fragment evictions".into(),
            l.fragment_evictions,
            "datagrams not reassembled",
        ),
        (
            "media expectation evictions".into(),
            l.expectation_evictions,
            "RTP not tied to its signalling",
        ),
        (
            "services not recorded for this report".into(),
            l.services_not_recorded,
            "flows beyond the report's service table",
        ),
    ];
    for (reason, n) in &l.decode_errors {
        rows.push((format!("decode error: {reason}"), *n, "packets not decoded"));
    }
    for (reason, n) in &l.shed {
        rows.push((
            format!("state shed by the memory budget: {reason}"),
            *n,
            "bytes or messages dropped to stay within the budget, counted, not inspected",
        ));
    }
    for (reason, n) in &l.anomalies {
        rows.push((
            format!("anomaly: {reason}"),
            *n,
            "a bound was reached or a message was not parsed",
        ));
    }
    h.push_str("<table id=\"limits-table\"><tr><th>what</th><th>count</th><th>meaning</th></tr>");
    for (what, n, meaning) in &rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"muted\">{}</td></tr>",
            esc(what),
            thousands(*n),
            meaning
        );
    }
    h.push_str("</table>");
    for i in r.inputs.iter().filter(|i| i.error.is_some()) {
        let _ = write!(
            h,
            "<p><b>{}</b>: {}</p>",
            esc(&i.name),
            esc(i.error.as_deref().unwrap_or(""))
        );
    }

    // Suppressions.
    heading(&mut h, "suppressions");
    if r.suppressions.is_empty() {
        h.push_str("<p>None configured.</p>");
    } else {
        h.push_str(
            "<table><tr><th>scope and reason</th><th>expires</th><th>alerts held back</th></tr>",
        );
        for s in &r.suppressions {
            let expires = match (&s.expires, s.expired) {
                (Some(d), true) => format!("{} (expired: no longer applied)", esc(d)),
                (Some(d), false) => esc(d),
                (None, _) => "never".into(),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{expires}</td><td class=\"n\">{}</td></tr>",
                esc(&s.scope),
                thousands(s.alerts_held_back)
            );
        }
        h.push_str("</table>");
    }

    // Chain of custody.
    heading(&mut h, "custody");
    h.push_str("<table id=\"custody-table\"><tr><th>input</th><th>size (bytes)</th><th>packets</th><th>first and last packet</th><th>SHA-256</th></tr>");
    for i in &r.inputs {
        let span = match (&i.first_packet, &i.last_packet) {
            (Some(a), Some(b)) => format!("{}<br>{}", esc(a), esc(b)),
            _ => "—".into(),
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{span}</td><td><code>{}</code></td></tr>",
            esc(&i.name),
            if i.error.is_some() { " <b>(truncated)</b>" } else { "" },
            i.size.map_or_else(|| "—".to_string(), thousands),
            thousands(i.packets),
            i.sha256.as_deref().map_or_else(|| "—".to_string(), esc)
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<table><tr><th>capture time span</th><td>{}</td></tr><tr><th>packets, bytes</th><td>{}, {}</td></tr><tr><th>signatures</th><td>{} rules, {} patterns, profiles {}, fingerprint <code>{}</code></td></tr></table>",
        r.time_span
            .as_ref()
            .map_or_else(|| "no flows".to_string(), |(a, b)| format!("{} to {}", esc(a), esc(b))),
        thousands(r.packets),
        thousands(r.bytes),
        r.signatures.rules,
        r.signatures.patterns,
        esc(&r.signatures.profiles.join(", ")),
        esc(&r.signatures.fingerprints.join(", "))
    );
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_escapes() {
        assert_eq!(esc("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(nice_step(3.0, 6.0), 0.5);
        assert_eq!(offset_label(90.0), "+2 min");
    }

    #[test]
    fn empty_report_renders() {
        let page = html(&Report::default());
        assert!(page.contains("No alerts"));
        assert!(!page.contains("src=") && !page.contains("url("));
    }
}
