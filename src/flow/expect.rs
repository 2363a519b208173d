//! Flows announced before they start (media described by SDP): an endpoint and what
//! it will carry. Bounded and aged, since announcements come from the wire.
//!
//! Keyed by the endpoint within its tenant's network (the segment of `FlowKey`): an
//! address announced in one VXLAN / GENEVE network says nothing about the same address
//! in another.
//!
//! Kept in announcement order (a renewal moves to the back), so the oldest is always
//! at the front: ageing and eviction cost what they remove, never a walk over the
//! table — a flood of SDP offers must not make each new one pay for all the others.

use hashlink::LinkedHashMap;

use super::SegmentEndpoint;
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
    entries: LinkedHashMap<SegmentEndpoint, (T, Timestamp)>,
    limits: ExpectationLimits,
    pub evicted: u64,
}

impl<T: Clone> Expectations<T> {
    pub fn new(limits: ExpectationLimits) -> Self {
        Expectations {
            entries: LinkedHashMap::new(),
            limits,
            evicted: 0,
        }
    }

    /// Announces (or renews) what `endpoint` will receive, made from what was
    /// announced before.
    pub fn renew(
        &mut self,
        endpoint: SegmentEndpoint,
        now: Timestamp,
        update: impl FnOnce(Option<T>) -> T,
    ) {
        // Removed first so a renewal goes to the back: the front stays the oldest.
        let old = self.entries.remove(&endpoint).map(|(value, _)| value);
        let value = update(old);
        if self.entries.len() >= self.limits.max_entries {
            self.expire(now);
            while self.entries.len() >= self.limits.max_entries.max(1) {
                if self.entries.pop_front().is_none() {
                    break;
                }
                self.evicted += 1;
            }
        }
        self.entries.insert(endpoint, (value, now));
    }

    /// What was announced for `endpoint`, if still valid.
    pub fn get(&self, endpoint: &SegmentEndpoint, now: Timestamp) -> Option<&T> {
        let ttl = self.limits.ttl_secs.saturating_mul(1_000_000_000);
        self.entries
            .get(endpoint)
            .filter(|(_, at)| now.since(*at) < ttl)
            .map(|(v, _)| v)
    }

    pub fn expire(&mut self, now: Timestamp) {
        let ttl = self.limits.ttl_secs.saturating_mul(1_000_000_000);
        while self
            .entries
            .front()
            .is_some_and(|(_, (_, at))| now.since(*at) >= ttl)
        {
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn bounded_and_aged() {
        let ep = |p| (0, (IpAddr::V4(Ipv4Addr::LOCALHOST), p));
        let mut e: Expectations<u8> = Expectations::new(ExpectationLimits {
            max_entries: 2,
            ttl_secs: 10,
        });
        e.renew(ep(1), Timestamp::from_secs(0), |_| 1);
        e.renew(ep(2), Timestamp::from_secs(1), |_| 2);
        e.renew(ep(3), Timestamp::from_secs(2), |_| 3);
        assert_eq!(e.entries.len(), 2);
        assert_eq!(e.evicted, 1);
        assert_eq!(e.get(&ep(3), Timestamp::from_secs(5)), Some(&3));
        assert_eq!(e.get(&ep(3), Timestamp::from_secs(20)), None);
        // A renewal makes an entry the newest: the other one is evicted next.
        e.renew(ep(2), Timestamp::from_secs(6), |_| 2);
        e.renew(ep(4), Timestamp::from_secs(7), |_| 4);
        assert_eq!(e.get(&ep(2), Timestamp::from_secs(8)), Some(&2));
        assert_eq!(e.get(&ep(3), Timestamp::from_secs(8)), None);
        e.expire(Timestamp::from_secs(16));
        assert_eq!(e.entries.len(), 1);
        assert_eq!(e.get(&ep(4), Timestamp::from_secs(16)), Some(&4));
        // The same address and port in another tenant's network is another endpoint.
        let (_, addr) = ep(4);
        assert_eq!(e.get(&(43, addr), Timestamp::from_secs(16)), None);
    }
}
