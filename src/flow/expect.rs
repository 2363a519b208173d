//! Flows announced before they start (media described by SDP): an endpoint and what
//! it will carry. Bounded and aged, since announcements come from the wire.

use std::collections::HashMap;

use super::Endpoint;
use crate::timestamp::Timestamp;

#[derive(Clone, Copy, Debug)]
pub struct ExpectationLimits {
    pub max_entries: usize,
    /// Seconds an announcement stays valid without being renewed.
    pub ttl_secs: u64,
}

impl Default for ExpectationLimits {
    fn default() -> Self {
        ExpectationLimits {
            max_entries: 4096,
            ttl_secs: 600,
        }
    }
}

pub struct Expectations<T> {
    entries: HashMap<Endpoint, (T, Timestamp)>,
    limits: ExpectationLimits,
    pub evicted: u64,
}

impl<T: Clone> Expectations<T> {
    pub fn new(limits: ExpectationLimits) -> Self {
        Expectations {
            entries: HashMap::new(),
            limits,
            evicted: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Announces (or renews) what `endpoint` will receive.
    pub fn insert(&mut self, endpoint: Endpoint, value: T, now: Timestamp) {
        if !self.entries.contains_key(&endpoint) && self.entries.len() >= self.limits.max_entries {
            self.expire(now);
            if self.entries.len() >= self.limits.max_entries {
                if let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(k, _)| *k)
                {
                    self.entries.remove(&oldest);
                    self.evicted += 1;
                }
            }
        }
        self.entries.insert(endpoint, (value, now));
    }

    /// What was announced for `endpoint`, if still valid.
    pub fn get(&self, endpoint: &Endpoint, now: Timestamp) -> Option<&T> {
        let ttl = self.limits.ttl_secs.saturating_mul(1_000_000_000);
        self.entries
            .get(endpoint)
            .filter(|(_, at)| now.since(*at) < ttl)
            .map(|(v, _)| v)
    }

    pub fn expire(&mut self, now: Timestamp) {
        let ttl = self.limits.ttl_secs.saturating_mul(1_000_000_000);
        self.entries.retain(|_, (_, at)| now.since(*at) < ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn bounded_and_aged() {
        let ep = |p| (IpAddr::V4(Ipv4Addr::LOCALHOST), p);
        let mut e: Expectations<u8> = Expectations::new(ExpectationLimits {
            max_entries: 2,
            ttl_secs: 10,
        });
        e.insert(ep(1), 1, Timestamp::from_secs(0));
        e.insert(ep(2), 2, Timestamp::from_secs(1));
        e.insert(ep(3), 3, Timestamp::from_secs(2));
        assert_eq!(e.len(), 2);
        assert_eq!(e.evicted, 1);
        assert_eq!(e.get(&ep(3), Timestamp::from_secs(5)), Some(&3));
        assert_eq!(e.get(&ep(3), Timestamp::from_secs(20)), None);
    }
}
