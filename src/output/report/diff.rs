//! Before and after: two reports compared finding by finding, per system and channel.
//! A finding is one rule on one service (server address, port, transport) of a system's
//! channel; it is new, fixed or unchanged.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Report, Service};
use crate::severity::Severity;

/// One rule on one service, and its alerts before and after.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Profile id of the system, or `unassigned`.
    pub system: String,
    /// The documented channel's id, or the protocol when none fits.
    pub channel: String,
    pub service: String,
    pub app_proto: String,
    pub rule_id: u32,
    pub signature: String,
    pub severity: u8,
    pub severity_name: String,
    pub alerts_before: u64,
    pub alerts_after: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline's inputs, by name.
    pub baseline_inputs: Vec<String>,
    pub baseline_generated_at: String,
    pub new: Vec<Change>,
    pub fixed: Vec<Change>,
    pub unchanged: Vec<Change>,
}

type Key = (String, String, String, u32);

fn findings(report: &Report) -> BTreeMap<Key, (Change, u64)> {
    let signature = |id: u32| {
        report
            .findings
            .iter()
            .find(|f| f.rule_id == id)
            .map(|f| f.signature.clone())
            .unwrap_or_default()
    };
    let mut out = BTreeMap::new();
    for service in &report.services {
        let system = service
            .system
            .clone()
            .unwrap_or_else(|| "unassigned".into());
        let channel = channel_of(service);
        for alert in &service.alerts {
            let key = (
                system.clone(),
                channel.clone(),
                service.endpoint(),
                alert.rule_id,
            );
            out.insert(
                key,
                (
                    Change {
                        system: system.clone(),
                        channel: channel.clone(),
                        service: service.endpoint(),
                        app_proto: service.app_proto.clone(),
                        rule_id: alert.rule_id,
                        signature: signature(alert.rule_id),
                        severity: alert.severity,
                        severity_name: alert.severity_name.clone(),
                        alerts_before: 0,
                        alerts_after: 0,
                    },
                    alert.alerts,
                ),
            );
        }
    }
    out
}

fn channel_of(service: &Service) -> String {
    service
        .channel
        .clone()
        .unwrap_or_else(|| service.app_proto.clone())
}

/// What changed from `before` to `after`.
pub fn compare(before: &Report, after: &Report) -> Comparison {
    let old = findings(before);
    let mut now = findings(after);
    let mut out = Comparison {
        baseline_inputs: before.inputs.iter().map(|i| i.name.clone()).collect(),
        baseline_generated_at: before.generated_at.clone(),
        ..Comparison::default()
    };
    for (key, (mut change, alerts)) in old {
        change.alerts_before = alerts;
        match now.remove(&key) {
            Some((after_change, after_alerts)) => {
                change.alerts_after = after_alerts;
                change.severity = after_change.severity;
                change.severity_name = after_change.severity_name;
                out.unchanged.push(change);
            }
            None => out.fixed.push(change),
        }
    }
    out.new = now
        .into_values()
        .map(|(mut change, alerts)| {
            change.alerts_after = alerts;
            change
        })
        .collect();
    for list in [&mut out.new, &mut out.fixed, &mut out.unchanged] {
        list.sort_by(|a, b| {
            (a.severity, &a.system, &a.channel, &a.service, a.rule_id)
                .cmp(&(b.severity, &b.system, &b.channel, &b.service, b.rule_id))
        });
    }
    out
}

impl Comparison {
    /// True when a new finding is at or above `threshold`: the CI gate of a hardening
    /// change.
    pub fn new_at_least(&self, threshold: Severity) -> bool {
        self.new.iter().any(|c| c.severity <= threshold.as_int())
    }

    /// The comparison as text, one line per finding.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (title, list) in [
            ("new", &self.new),
            ("fixed", &self.fixed),
            ("unchanged", &self.unchanged),
        ] {
            let _ = writeln!(out, "{title}: {}", list.len());
            for c in list {
                let _ = writeln!(
                    out,
                    "  {:<9} {:<6} {:<16} {:<10} {:<28} {} (alerts {} → {})",
                    c.severity_name,
                    c.rule_id,
                    c.system,
                    c.channel,
                    c.service,
                    c.signature,
                    c.alerts_before,
                    c.alerts_after
                );
            }
        }
        out
    }
}
