//! IPv4 fragment reassembly (RFC 791 §3.2) with hard bounds: fragments are attacker
//! controlled, so the number of datagrams in progress, their size and their age are capped.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{FragmentInfo, IpPacket};
use crate::timestamp::Timestamp;

/// The largest datagram IPv4 can describe (16-bit total length).
const MAX_DATAGRAM: usize = 65_535;

#[derive(Clone, Copy, Debug)]
pub struct DefragLimits {
    /// Datagrams reassembled at the same time; the oldest is dropped beyond this.
    pub max_datagrams: usize,
    /// Seconds a datagram may wait for its missing pieces (Linux uses 30).
    pub timeout_secs: u64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 1024,
            timeout_secs: 30,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DatagramKey {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    id: u16,
}

struct Partial {
    first_seen: Timestamp,
    data: Vec<u8>,
    /// Byte ranges received, unsorted; few per datagram in practice.
    received: Vec<(usize, usize)>,
    /// Known once the last fragment (MF = 0) arrived.
    total_len: Option<usize>,
}

impl Partial {
    fn covered(&self, total: usize) -> bool {
        let mut ranges = self.received.clone();
        ranges.sort_unstable();
        let mut end = 0;
        for (s, e) in ranges {
            if s > end {
                return false;
            }
            end = end.max(e);
        }
        end >= total
    }
}

/// Counters the engine exports.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefragStats {
    pub reassembled: u64,
    pub evicted: u64,
    pub timed_out: u64,
    pub invalid: u64,
}

#[derive(Default)]
pub struct Ipv4Defragmenter {
    limits: DefragLimits,
    partials: HashMap<DatagramKey, Partial>,
    pub stats: DefragStats,
}

impl Ipv4Defragmenter {
    pub fn new(limits: DefragLimits) -> Self {
        Ipv4Defragmenter {
            limits,
            partials: HashMap::new(),
            stats: DefragStats::default(),
        }
    }

    /// Adds one fragment; returns the transport bytes once the datagram is whole.
    pub fn insert(
        &mut self,
        ts: Timestamp,
        packet: &IpPacket<'_>,
        frag: FragmentInfo,
    ) -> Option<Vec<u8>> {
        let key = DatagramKey {
            src: packet.src,
            dst: packet.dst,
            protocol: packet.protocol,
            id: frag.id,
        };
        let end = frag.offset + packet.payload.len();
        if end > MAX_DATAGRAM || (frag.more && packet.payload.len() % 8 != 0) {
            self.stats.invalid += 1;
            return None;
        }
        if !self.partials.contains_key(&key) && self.partials.len() >= self.limits.max_datagrams {
            self.expire(ts);
            if self.partials.len() >= self.limits.max_datagrams {
                if let Some(oldest) = self
                    .partials
                    .iter()
                    .min_by_key(|(_, p)| p.first_seen)
                    .map(|(k, _)| *k)
                {
                    self.partials.remove(&oldest);
                    self.stats.evicted += 1;
                }
            }
        }
        let partial = self.partials.entry(key).or_insert_with(|| Partial {
            first_seen: ts,
            data: Vec::new(),
            received: Vec::new(),
            total_len: None,
        });
        if !frag.more {
            if partial.total_len.is_some_and(|t| t != end) {
                self.stats.invalid += 1;
                self.partials.remove(&key);
                return None;
            }
            partial.total_len = Some(end);
        }
        if partial.data.len() < end {
            partial.data.resize(end, 0);
        }
        partial.data[frag.offset..end].copy_from_slice(packet.payload);
        partial.received.push((frag.offset, end));
        let total = partial.total_len?;
        if !partial.covered(total) {
            return None;
        }
        let mut whole = self.partials.remove(&key)?.data;
        whole.truncate(total);
        self.stats.reassembled += 1;
        Some(whole)
    }

    /// Drops datagrams that waited longer than the timeout.
    pub fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_secs.saturating_mul(1_000_000_000);
        let before = self.partials.len();
        self.partials
            .retain(|_, p| now.since(p.first_seen) < timeout);
        self.stats.timed_out += (before - self.partials.len()) as u64;
    }

    pub fn pending(&self) -> usize {
        self.partials.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn piece(payload: &[u8]) -> IpPacket<'_> {
        IpPacket {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            protocol: 17,
            payload,
            fragment: None,
        }
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut d = Ipv4Defragmenter::new(DefragLimits::default());
        let a = [1u8; 16];
        let b = [2u8; 5];
        let t = Timestamp::from_secs(1);
        let last = FragmentInfo {
            id: 7,
            offset: 16,
            more: false,
        };
        assert!(d.insert(t, &piece(&b), last).is_none());
        let first = FragmentInfo {
            id: 7,
            offset: 0,
            more: true,
        };
        let whole = d.insert(t, &piece(&a), first).expect("complete");
        assert_eq!(whole.len(), 21);
        assert_eq!(&whole[16..], &b);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn bounded_and_expiring() {
        let mut d = Ipv4Defragmenter::new(DefragLimits {
            max_datagrams: 4,
            timeout_secs: 30,
        });
        let data = [0u8; 8];
        for id in 0..100u16 {
            d.insert(
                Timestamp::from_secs(1),
                &piece(&data),
                FragmentInfo {
                    id,
                    offset: 0,
                    more: true,
                },
            );
        }
        assert_eq!(d.pending(), 4);
        assert_eq!(d.stats.evicted, 96);
        d.expire(Timestamp::from_secs(100));
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn rejects_oversize_and_misaligned() {
        let mut d = Ipv4Defragmenter::new(DefragLimits::default());
        let data = [0u8; 9];
        let t = Timestamp::from_secs(1);
        assert!(d
            .insert(
                t,
                &piece(&data),
                FragmentInfo {
                    id: 1,
                    offset: 0,
                    more: true
                }
            )
            .is_none());
        assert!(d
            .insert(
                t,
                &piece(&data),
                FragmentInfo {
                    id: 2,
                    offset: 65_530,
                    more: false
                }
            )
            .is_none());
        assert_eq!(d.stats.invalid, 2);
        assert_eq!(d.pending(), 0);
    }
}
