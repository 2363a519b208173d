//! IP fragment reassembly, IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5), with hard
//! bounds: fragments are attacker controlled.
//!
//! Every fragment costs O(log k + k) in the k disjoint byte ranges its datagram holds
//! (merged as they arrive, capped), never a walk over all fragments received: a flood of
//! duplicates at one offset is one binary search each. Datagrams are kept in arrival
//! order, so the oldest is the one evicted when the table is full and expiry on packet
//! time only looks at the front. Overlaps keep the bytes seen first; duplicates,
//! overlaps, oversize and malformed pieces are counted by name.

use std::net::IpAddr;

use hashlink::LinkedHashMap;

use super::{FragmentInfo, IpPacket};
use crate::timestamp::Timestamp;

/// The largest datagram either family can describe without jumbograms (16-bit lengths).
const MAX_DATAGRAM: usize = 65_535;
/// Our own cap on the disjoint ranges one datagram may hold while incomplete: real
/// fragmentation makes a few dozen (65,535 / 1,280-byte MTU ≈ 52).
const MAX_RANGES: usize = 256;

#[derive(Clone, Copy, Debug)]
pub struct DefragLimits {
    /// Datagrams reassembled at the same time; the oldest is dropped beyond this.
    pub max_datagrams: usize,
    /// Seconds a datagram may wait for its missing pieces (Linux uses 30, RFC 8200 60).
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
    id: u32,
}

struct Partial {
    first_seen: Timestamp,
    data: Vec<u8>,
    /// Byte ranges received: sorted, disjoint and not touching (merged on arrival).
    ranges: Vec<(usize, usize)>,
    /// Known once the last fragment (MF = 0) arrived.
    total_len: Option<usize>,
}

/// What happened to one fragment, beyond "kept".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    New,
    /// Every byte was already there.
    Duplicate,
    /// Some bytes were already there; the first ones are kept.
    Overlap,
}

impl Partial {
    /// Writes the bytes of `[start, end)` not yet received and merges the range.
    fn add(&mut self, start: usize, payload: &[u8]) -> Piece {
        let end = start + payload.len();
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        // Ranges that overlap or touch [start, end) form one run [first, last).
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let last = first + self.ranges[first..].partition_point(|&(s, _)| s <= end);
        let mut cursor = start;
        let mut covered = 0;
        for &(s, e) in &self.ranges[first..last] {
            let (s, e) = (s.max(start), e.min(end));
            if s > cursor {
                self.data[cursor..s].copy_from_slice(&payload[cursor - start..s - start]);
            }
            covered += e.saturating_sub(s);
            cursor = cursor.max(e);
        }
        if cursor < end {
            self.data[cursor..end].copy_from_slice(&payload[cursor - start..]);
        }
        let merged = match self.ranges[first..last] {
            [] => (start, end),
            [(s, _), .., (_, e)] | [(s, e)] => (s.min(start), e.max(end)),
        };
        self.ranges.splice(first..last, [merged]);
        match covered {
            0 => Piece::New,
            c if c >= payload.len() => Piece::Duplicate,
            _ => Piece::Overlap,
        }
    }

    fn complete(&self) -> Option<usize> {
        let total = self.total_len?;
        (self.ranges.as_slice() == [(0, total)]).then_some(total)
    }
}

/// Counters the engine exports.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefragStats {
    pub reassembled: u64,
    /// Dropped to make room for a new datagram (table full).
    pub evicted: u64,
    pub timed_out: u64,
    /// Dropped to keep the engine inside its memory budget.
    pub shed: u64,
    /// Pieces that would end past 65,535 bytes (a ping-of-death shape).
    pub oversize: u64,
    /// Misaligned, contradicting the datagram's end, or too many pieces.
    pub invalid: u64,
    pub duplicates: u64,
    pub overlaps: u64,
}

impl DefragStats {
    /// Named counters for the summary and metrics (`ip.fragment_…`).
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("ip.fragment_timed_out", self.timed_out),
            ("ip.fragment_oversize", self.oversize),
            ("ip.fragment_invalid", self.invalid),
            ("ip.fragment_duplicate", self.duplicates),
            ("ip.fragment_overlap", self.overlaps),
            ("ip.fragment_shed", self.shed),
        ]
    }
}

/// One reassembly table for both families: keys carry the addresses, so an IPv4 and
/// an IPv6 datagram never meet.
#[derive(Default)]
pub struct Defragmenter {
    limits: DefragLimits,
    partials: LinkedHashMap<DatagramKey, Partial>,
    /// Bytes of datagram buffers held, for the engine's memory budget.
    held: usize,
    pub stats: DefragStats,
}

impl Defragmenter {
    pub fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            ..Defragmenter::default()
        }
    }

    /// Adds one fragment; returns the transport bytes once the datagram is whole.
    pub fn insert(
        &mut self,
        ts: Timestamp,
        packet: &IpPacket<'_>,
        frag: FragmentInfo,
    ) -> Option<Vec<u8>> {
        self.expire(ts);
        let key = DatagramKey {
            src: packet.src,
            dst: packet.dst,
            protocol: packet.protocol,
            id: frag.id,
        };
        let end = frag.offset + packet.payload.len();
        if end > MAX_DATAGRAM {
            self.stats.oversize += 1;
            self.drop_datagram(&key);
            return None;
        }
        if packet.payload.is_empty() || (frag.more && packet.payload.len() % 8 != 0) {
            self.stats.invalid += 1;
            return None;
        }
        if !self.partials.contains_key(&key) {
            while self.partials.len() >= self.limits.max_datagrams.max(1) {
                if self.pop_oldest().is_none() {
                    break;
                }
                self.stats.evicted += 1;
            }
        }
        let partial = self.partials.entry(key).or_insert_with(|| Partial {
            first_seen: ts,
            data: Vec::new(),
            ranges: Vec::new(),
            total_len: None,
        });
        let contradicts = match partial.total_len {
            Some(total) => end > total || (!frag.more && end != total),
            // A last fragment that ends before bytes already received.
            None => !frag.more && partial.ranges.last().is_some_and(|&(_, e)| e > end),
        };
        if contradicts {
            self.stats.invalid += 1;
            self.drop_datagram(&key);
            return None;
        }
        if !frag.more {
            partial.total_len = Some(end);
        }
        let before = partial.data.capacity();
        let piece = partial.add(frag.offset, packet.payload);
        let grown = partial.data.capacity() - before;
        let too_many = partial.ranges.len() > MAX_RANGES;
        let complete = partial.complete();
        self.held += grown;
        match piece {
            Piece::New => {}
            Piece::Duplicate => self.stats.duplicates += 1,
            Piece::Overlap => self.stats.overlaps += 1,
        }
        if too_many {
            self.stats.invalid += 1;
            self.drop_datagram(&key);
            return None;
        }
        let total = complete?;
        let mut whole = self.take(&key)?.data;
        whole.truncate(total);
        self.stats.reassembled += 1;
        Some(whole)
    }

    /// Drops datagrams that waited longer than the timeout, on packet time. Datagrams
    /// are in arrival order, so this looks at the front only.
    pub fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_secs.saturating_mul(1_000_000_000);
        while self
            .partials
            .front()
            .is_some_and(|(_, p)| now.since(p.first_seen) >= timeout)
        {
            self.pop_oldest();
            self.stats.timed_out += 1;
        }
    }

    /// Frees the oldest datagrams until at most `target` bytes are held; returns the
    /// bytes freed.
    pub fn shed(&mut self, target: usize) -> usize {
        let before = self.held;
        while self.held > target {
            if self.pop_oldest().is_none() {
                break;
            }
            self.stats.shed += 1;
        }
        before - self.held
    }

    /// Bytes held in incomplete datagrams.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    #[cfg(test)]
    fn pending(&self) -> usize {
        self.partials.len()
    }

    fn pop_oldest(&mut self) -> Option<()> {
        let (_, partial) = self.partials.pop_front()?;
        self.held -= partial.data.capacity();
        Some(())
    }

    fn take(&mut self, key: &DatagramKey) -> Option<Partial> {
        let partial = self.partials.remove(key)?;
        self.held -= partial.data.capacity();
        Some(partial)
    }

    fn drop_datagram(&mut self, key: &DatagramKey) {
        self.take(key);
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

    fn frag(id: u32, offset: usize, more: bool) -> FragmentInfo {
        FragmentInfo { id, offset, more }
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let a = [1u8; 16];
        let b = [2u8; 5];
        let t = Timestamp::from_secs(1);
        assert!(d.insert(t, &piece(&b), frag(7, 16, false)).is_none());
        let whole = d.insert(t, &piece(&a), frag(7, 0, true)).expect("complete");
        assert_eq!(whole.len(), 21);
        assert_eq!(&whole[16..], &b);
        assert_eq!(d.pending(), 0);
        assert_eq!(d.held_bytes(), 0);
    }

    #[test]
    fn bounded_and_expiring_on_packet_time() {
        let mut d = Defragmenter::new(DefragLimits {
            max_datagrams: 4,
            timeout_secs: 30,
        });
        let data = [0u8; 8];
        for id in 0..100 {
            d.insert(Timestamp::from_secs(1), &piece(&data), frag(id, 0, true));
        }
        assert_eq!(d.pending(), 4);
        assert_eq!(d.stats.evicted, 96);
        // The next fragment, 30 s later, finds the old datagrams gone.
        d.insert(Timestamp::from_secs(31), &piece(&data), frag(500, 0, true));
        assert_eq!(d.pending(), 1);
        assert_eq!(d.stats.timed_out, 4);
    }

    #[test]
    fn oversize_misaligned_and_contradicting_are_counted() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let t = Timestamp::from_secs(1);
        assert!(d.insert(t, &piece(&[0u8; 9]), frag(1, 0, true)).is_none());
        assert!(d
            .insert(t, &piece(&[0u8; 9]), frag(2, 65_530, false))
            .is_none());
        assert_eq!((d.stats.invalid, d.stats.oversize), (1, 1));
        // A last fragment, then a piece past its end.
        d.insert(t, &piece(&[0u8; 8]), frag(3, 8, false));
        d.insert(t, &piece(&[0u8; 16]), frag(3, 8, true));
        assert_eq!(d.stats.invalid, 2);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn duplicates_and_overlaps_keep_the_first_bytes() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let t = Timestamp::from_secs(1);
        assert!(d.insert(t, &piece(&[1u8; 16]), frag(9, 8, true)).is_none());
        for _ in 0..1000 {
            assert!(d.insert(t, &piece(&[2u8; 16]), frag(9, 8, true)).is_none());
        }
        // [0, 16) overlaps [8, 24) on its second half.
        assert!(d.insert(t, &piece(&[3u8; 16]), frag(9, 0, true)).is_none());
        let whole = d
            .insert(t, &piece(&[4u8; 4]), frag(9, 24, false))
            .expect("complete");
        assert_eq!(&whole[..8], &[3u8; 8]);
        assert_eq!(&whole[8..24], &[1u8; 16]);
        assert_eq!(&whole[24..], &[4u8; 4]);
        assert_eq!((d.stats.duplicates, d.stats.overlaps), (1000, 1));
    }

    #[test]
    fn too_many_pieces_drop_the_datagram() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let t = Timestamp::from_secs(1);
        // Every other 8-byte block: no two pieces merge.
        for i in 0..=MAX_RANGES {
            d.insert(t, &piece(&[0u8; 8]), frag(5, i * 16, true));
        }
        assert_eq!(d.pending(), 0);
        assert_eq!(d.stats.invalid, 1);
    }

    #[test]
    fn shedding_frees_the_oldest_first() {
        let mut d = Defragmenter::new(DefragLimits::default());
        for id in 0..10 {
            d.insert(
                Timestamp::from_secs(1),
                &piece(&[0u8; 1024]),
                frag(id, 0, true),
            );
        }
        let held = d.held_bytes();
        assert!(held >= 10 * 1024);
        let freed = d.shed(held / 2);
        assert!(d.held_bytes() <= held / 2 && freed > 0);
        assert_eq!(d.stats.shed as usize, 10 - d.pending());
        // The youngest survive.
        assert!(d
            .insert(
                Timestamp::from_secs(1),
                &piece(&[0u8; 8]),
                frag(9, 1024, false)
            )
            .is_some());
    }
}
