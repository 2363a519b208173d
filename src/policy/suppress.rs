//! Suppressions: alerts an organisation has accepted, each with a reason and maybe an
//! expiry date. An expired suppression no longer applies and is reported once.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::flow::Endpoint;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    pub rule: u32,
    /// Client address range (the flow's `src_ip`).
    #[serde(default)]
    pub src: Option<IpNet>,
    /// Server address range (`dest_ip`).
    #[serde(default)]
    pub dst: Option<IpNet>,
    /// Server port (`dest_port`).
    #[serde(default)]
    pub port: Option<u16>,
    pub reason: String,
    /// Last day it applies, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    pub expires: Option<String>,
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0))
}

impl Suppression {
    pub fn check(&self) -> Result<(), String> {
        if self.reason.trim().is_empty() {
            return Err(format!(
                "[[suppress]] for rule {}: a reason is required",
                self.rule
            ));
        }
        if let Some(date) = &self.expires {
            if !valid_date(date) {
                return Err(format!(
                    "[[suppress]] for rule {}: expires {date:?} is not YYYY-MM-DD",
                    self.rule
                ));
            }
        }
        Ok(())
    }

    /// Expired when `today` (YYYY-MM-DD) is after the expiry date.
    pub fn expired(&self, today: &str) -> bool {
        self.expires.as_deref().is_some_and(|d| today > d)
    }

    fn covers(&self, rule: u32, client: Endpoint, server: Endpoint) -> bool {
        let within = |net: &Option<IpNet>, ip: IpAddr| net.as_ref().is_none_or(|n| n.contains(&ip));
        self.rule == rule
            && within(&self.src, client.0)
            && within(&self.dst, server.0)
            && self.port.is_none_or(|p| p == server.1)
    }

    /// One line for summaries and reports.
    pub fn describe(&self) -> String {
        let mut scope = Vec::new();
        if let Some(n) = &self.src {
            scope.push(format!("src {n}"));
        }
        if let Some(n) = &self.dst {
            scope.push(format!("dst {n}"));
        }
        if let Some(p) = self.port {
            scope.push(format!("port {p}"));
        }
        let scope = if scope.is_empty() {
            "everywhere".to_string()
        } else {
            scope.join(", ")
        };
        format!("rule {} {scope}: {}", self.rule, self.reason)
    }
}

/// The suppressions in force for a run, with how many alerts each one held back.
/// Clones share the counts, so the engines of several workers add up to one tally.
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    active: Arc<[(Suppression, AtomicU64)]>,
    expired: Vec<Suppression>,
}

impl Suppressions {
    pub fn new(all: &[Suppression], today: &str) -> Self {
        let (expired, active): (Vec<_>, Vec<_>) =
            all.iter().cloned().partition(|s| s.expired(today));
        Suppressions {
            active: active.into_iter().map(|s| (s, AtomicU64::new(0))).collect(),
            expired,
        }
    }

    /// True (and counted) when an alert of `rule` on this flow is suppressed.
    pub fn suppress(&self, rule: u32, client: Endpoint, server: Endpoint) -> bool {
        match self
            .active
            .iter()
            .find(|(s, _)| s.covers(rule, client, server))
        {
            Some((_, hits)) => {
                hits.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Each active suppression with the alerts it held back.
    pub fn applied(&self) -> impl Iterator<Item = (&Suppression, u64)> {
        self.active
            .iter()
            .map(|(s, n)| (s, n.load(Ordering::Relaxed)))
    }

    pub fn expired(&self) -> &[Suppression] {
        &self.expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ep(a: u8, port: u16) -> Endpoint {
        (IpAddr::V4(Ipv4Addr::new(10, 0, 0, a)), port)
    }

    #[test]
    fn scope_and_expiry() {
        let s = Suppression {
            rule: 6001,
            src: None,
            dst: "10.0.0.2/32".parse().ok(),
            port: Some(8080),
            reason: "lab".into(),
            expires: Some("2026-12-31".into()),
        };
        let set = Suppressions::new(std::slice::from_ref(&s), "2026-11-22");
        assert!(set.suppress(6001, ep(1, 40000), ep(2, 8080)));
        assert!(!set.suppress(6001, ep(1, 40000), ep(3, 8080)));
        assert!(!set.suppress(6001, ep(1, 40000), ep(2, 80)));
        assert!(!set.suppress(1001, ep(1, 40000), ep(2, 8080)));
        assert_eq!(set.applied().map(|(_, n)| n).sum::<u64>(), 1);
        let later = Suppressions::new(&[s], "2027-01-01");
        assert_eq!(later.expired().len(), 1);
        assert!(valid_date("2027-01-31") && !valid_date("2027-13-01") && !valid_date("27-01-31"));
    }
}
