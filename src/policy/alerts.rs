//! Findings → alerts. A flow's findings gather into one pending alert per rule while
//! the flow lives (DESIGN §5); when it ends they become the alerts written with it,
//! less those a suppression holds and those the same flow already raised before it was
//! evicted (DESIGN §9). The engine only says when a finding arrives and when a flow
//! ends.

use crate::flow::{Direction, Endpoint, FlowKey};
use crate::output::AlertEvent;
use crate::personal_data::Confidence;
use crate::severity::Severity;
use crate::timestamp::Timestamp;

use super::{Finding, Policy};

/// Evidence strings kept per alert; later matches only count.
const MAX_EVIDENCE: usize = 5;

/// (flow, rule) pairs remembered after their flow was evicted, so that the flow coming
/// back raises nothing it already raised (DESIGN §9). Our own cap: about 4 MiB.
const MAX_RECENT_ALERTS: usize = 65_536;

/// One rule's matches on one flow (DESIGN §5: one alert per flow and rule).
#[derive(Clone, Debug)]
struct PendingAlert {
    rule_id: u32,
    first_seen: Timestamp,
    /// The direction of the packet that first raised it (EVE `direction`).
    direction: Direction,
    count: u64,
    kinds: Vec<&'static str>,
    evidence: Vec<String>,
    severity_floor: Option<Severity>,
    confidence: Option<Confidence>,
    scope: Option<u64>,
}

/// The alerts a live flow has raised so far, one per rule.
#[derive(Debug, Default)]
pub struct FlowAlerts {
    pending: Vec<PendingAlert>,
}

impl FlowAlerts {
    /// Merges a finding made at `ts` by a packet going `direction` into its rule's
    /// alert: counts add up, kinds and evidence (up to `MAX_EVIDENCE`) are kept once,
    /// the worst severity floor and best confidence win.
    pub fn add(&mut self, ts: Timestamp, direction: Direction, finding: Finding) {
        let alert = match self
            .pending
            .iter()
            .position(|a| a.rule_id == finding.rule_id)
        {
            Some(i) => &mut self.pending[i],
            None => {
                self.pending.push(PendingAlert {
                    rule_id: finding.rule_id,
                    first_seen: ts,
                    direction,
                    count: 0,
                    kinds: Vec::new(),
                    evidence: Vec::new(),
                    severity_floor: None,
                    confidence: None,
                    scope: finding.scope,
                });
                let last = self.pending.len() - 1;
                &mut self.pending[last]
            }
        };
        alert.count += finding.count;
        for kind in finding.kinds {
            if !alert.kinds.contains(&kind) {
                alert.kinds.push(kind);
            }
        }
        for evidence in finding.evidence {
            if alert.evidence.len() < MAX_EVIDENCE && !alert.evidence.contains(&evidence) {
                alert.evidence.push(evidence);
            }
        }
        alert.confidence = alert.confidence.max(finding.confidence);
        if let Some(floor) = finding.severity_floor {
            alert.severity_floor = Some(alert.severity_floor.map_or(floor, |s| s.min(floor)));
        }
    }
}

/// A flow whose alerts are taken: it ended, or its active timeout cut a record.
pub struct FlowEnd {
    /// The flow's key as the eviction memory knows it.
    pub key: FlowKey,
    pub client: Endpoint,
    pub server: Endpoint,
    pub start: Timestamp,
    /// Pushed out of the flow table: its rules are remembered until `remember_until`
    /// (its last packet plus its idle timeout), should it come back.
    pub evicted: bool,
    pub remember_until: Timestamp,
}

/// The alert side of the policy for one engine: turns the pending alerts of flows that
/// end into the alerts written with them.
#[derive(Default)]
pub struct Alerter {
    recent: RecentAlerts,
}

impl Alerter {
    /// Takes the flow's alerts, leaving it none: suppressed ones and those an evicted
    /// flow of the same key already raised are dropped, each alert gets its rule and
    /// its severity (the rule's, lowered to a worse pattern's floor).
    pub fn take(
        &mut self,
        policy: &Policy,
        alerts: &mut FlowAlerts,
        end: &FlowEnd,
    ) -> Vec<AlertEvent> {
        let raised: Vec<u32> = if end.evicted {
            alerts.pending.iter().map(|a| a.rule_id).collect()
        } else {
            Vec::new()
        };
        let recent = &mut self.recent;
        let kept: Vec<PendingAlert> = alerts
            .pending
            .drain(..)
            .filter(|a| !policy.suppressed(a.rule_id, end.client, end.server))
            .filter(|a| !recent.raised(end.key, a.rule_id, end.start))
            .collect();
        // Remembered after the check: the evicted flow's own alerts are written now.
        for rule in raised {
            recent.remember(end.key, rule, end.remember_until);
        }
        kept.into_iter()
            .filter_map(|a| {
                let rule = policy.rules().get(a.rule_id)?;
                Some(AlertEvent {
                    timestamp: a.first_seen,
                    direction: a.direction,
                    severity: a
                        .severity_floor
                        .map_or(rule.severity, |f| f.min(rule.severity)),
                    rule: rule.clone(),
                    count: a.count,
                    kinds: a.kinds,
                    evidence: a.evidence,
                    confidence: a.confidence,
                    scope: a.scope,
                })
            })
            .collect()
    }

    /// Alerts not raised again because the flow had raised them before its eviction
    /// (`alerts.repeated_after_eviction`).
    pub fn repeated(&self) -> u64 {
        self.recent.repeated
    }
}

/// Rules alerted on flows that were evicted, by flow key, until the flow's idle
/// timeout has passed: a flow pushed out under pressure and seen again is the same
/// flow, and must not alert again.
#[derive(Default)]
struct RecentAlerts {
    /// (flow, rule) → capture time (ns) until which the pair is remembered; in
    /// insertion order, so the oldest goes first when full.
    pairs: hashlink::LinkedHashMap<(FlowKey, u32), Timestamp>,
    /// Alerts not raised again for that reason.
    repeated: u64,
}

impl RecentAlerts {
    fn remember(&mut self, key: FlowKey, rule: u32, until: Timestamp) {
        self.pairs.remove(&(key, rule));
        while self.pairs.len() >= MAX_RECENT_ALERTS {
            self.pairs.pop_front();
        }
        self.pairs.insert((key, rule), until);
    }

    /// Whether the flow that started at `start` already raised `rule` before it was
    /// evicted.
    fn raised(&mut self, key: FlowKey, rule: u32, start: Timestamp) -> bool {
        let raised = self
            .pairs
            .get(&(key, rule))
            .is_some_and(|&until| start < until);
        self.repeated += u64::from(raised);
        raised
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::flow::L4;
    use crate::policy::suppress::Suppressions;
    use crate::protocols::tls::TlsVersion;
    use crate::signatures::Signatures;

    /// 2001: SIP signalling in clear carrying personal data (medium).
    const SIP_RULE: u32 = 2001;

    fn policy() -> Policy {
        let sigs = Signatures::builtin();
        Policy::new(
            sigs.rules,
            sigs.raises,
            TlsVersion::Tls12,
            Suppressions::default(),
        )
    }

    fn finding(evidence: &[&str], kinds: &[&'static str], floor: Option<Severity>) -> Finding {
        Finding {
            rule_id: SIP_RULE,
            kinds: kinds.to_vec(),
            evidence: evidence.iter().map(|e| e.to_string()).collect(),
            count: evidence.len() as u64,
            severity_floor: floor,
            confidence: None,
            scope: None,
        }
    }

    fn end(start: u64, evicted: bool) -> FlowEnd {
        let client = (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 5060);
        let server = (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 5060);
        FlowEnd {
            key: FlowKey::new(L4::Udp, client, server),
            client,
            server,
            start: Timestamp(start),
            evicted,
            remember_until: Timestamp(100),
        }
    }

    #[test]
    fn findings_of_one_rule_make_one_alert_with_the_worst_floor() {
        let policy = policy();
        let mut alerts = FlowAlerts::default();
        alerts.add(
            Timestamp(7),
            Direction::ToClient,
            finding(&["a", "b", "c"], &["phone"], None),
        );
        alerts.add(
            Timestamp(9),
            Direction::ToServer,
            finding(
                &["c", "d", "e", "f", "g"],
                &["phone", "card"],
                Some(Severity::Critical),
            ),
        );
        let taken = Alerter::default().take(&policy, &mut alerts, &end(0, false));
        assert_eq!(taken.len(), 1);
        let alert = &taken[0];
        assert_eq!(alert.timestamp, Timestamp(7));
        assert_eq!(alert.direction, Direction::ToClient);
        assert_eq!(alert.count, 8);
        assert_eq!(alert.kinds, ["phone", "card"]);
        assert_eq!(alert.evidence, ["a", "b", "c", "d", "e"]);
        assert_eq!(alert.rule.severity, Severity::Medium);
        assert_eq!(alert.severity, Severity::Critical);
        assert!(alerts.pending.is_empty(), "taking leaves the flow none");
    }

    #[test]
    fn an_evicted_flow_seen_again_does_not_alert_twice() {
        let policy = policy();
        let mut alerter = Alerter::default();
        let mut first = FlowAlerts::default();
        first.add(
            Timestamp(1),
            Direction::ToServer,
            finding(&["x"], &[], None),
        );
        assert_eq!(alerter.take(&policy, &mut first, &end(1, true)).len(), 1);
        // Back before its idle timeout ran out: the same flow, already alerted.
        let mut again = FlowAlerts::default();
        again.add(
            Timestamp(50),
            Direction::ToServer,
            finding(&["x"], &[], None),
        );
        assert!(alerter
            .take(&policy, &mut again, &end(50, false))
            .is_empty());
        assert_eq!(alerter.repeated(), 1);
        // A flow of the same key starting after it is a new flow.
        let mut later = FlowAlerts::default();
        later.add(
            Timestamp(100),
            Direction::ToServer,
            finding(&["x"], &[], None),
        );
        assert_eq!(alerter.take(&policy, &mut later, &end(100, false)).len(), 1);
        assert_eq!(alerter.repeated(), 1);
    }
}
