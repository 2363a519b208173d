//! One direction of a TCP connection put back in order.
//!
//! Sequence numbers are compared by signed 32-bit distance (RFC 1982 serial arithmetic)
//! so wrap-around needs no special case. Retransmitted bytes are dropped, overlaps keep
//! the bytes seen first, out-of-order segments wait in a bounded buffer, and when the
//! buffer is full or the flow ends the missing range is declared a gap and skipped: a
//! sensor on a SPAN port loses packets and must carry on after the hole.

/// What the reassembler hands to the application layer, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    Data(&'a [u8]),
    /// This many bytes were never seen.
    Gap(u32),
}

#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    /// Bytes held out of order per direction.
    pub max_buffered_bytes: usize,
    /// Segments held out of order per direction.
    pub max_buffered_segments: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_buffered_bytes: 256 * 1024,
            max_buffered_segments: 256,
        }
    }
}

#[derive(Default, Debug)]
pub struct StreamReassembler {
    /// Next byte expected; unset until a SYN or the first data segment (mid-stream pick-up).
    next_seq: Option<u32>,
    /// Out-of-order segments, each (sequence number, bytes).
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    pub retransmitted_bytes: u64,
    pub gaps: u64,
}

fn distance(from: u32, to: u32) -> i32 {
    to.wrapping_sub(from) as i32
}

impl StreamReassembler {
    /// A SYN fixes the initial sequence number; data starts one after it.
    pub fn on_syn(&mut self, seq: u32) {
        if self.next_seq.is_none() {
            self.next_seq = Some(seq.wrapping_add(1));
        }
    }

    pub fn on_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        limits: &ReassemblyLimits,
        deliver: &mut dyn FnMut(StreamChunk<'_>),
    ) {
        if payload.is_empty() {
            return;
        }
        let next = *self.next_seq.get_or_insert(seq);
        let ahead = distance(next, seq);
        if ahead <= 0 {
            self.deliver_from(seq, payload, deliver);
            self.drain(deliver);
            return;
        }
        let over = self.pending_bytes + payload.len() > limits.max_buffered_bytes
            || self.pending.len() >= limits.max_buffered_segments;
        if over {
            // Give up waiting for the hole: skip to the earliest byte we hold.
            self.skip_to_earliest(seq, deliver);
            self.drain(deliver);
            self.on_segment(seq, payload, limits, deliver);
            return;
        }
        self.pending_bytes += payload.len();
        self.pending.push((seq, payload.to_vec()));
    }

    /// Bytes of out-of-order segments held.
    pub fn buffered_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Delivers what is still buffered, with gaps for what never came. Called when the
    /// flow ends, or early when the engine's memory budget is full.
    pub fn flush(&mut self, deliver: &mut dyn FnMut(StreamChunk<'_>)) {
        while let Some(earliest) = self.earliest_pending() {
            self.skip_to_earliest(earliest, deliver);
            self.drain(deliver);
        }
        self.pending = Vec::new();
    }

    fn earliest_pending(&self) -> Option<u32> {
        let next = self.next_seq?;
        self.pending
            .iter()
            .map(|(s, _)| *s)
            .min_by_key(|s| distance(next, *s))
    }

    fn skip_to_earliest(&mut self, candidate: u32, deliver: &mut dyn FnMut(StreamChunk<'_>)) {
        let Some(next) = self.next_seq else { return };
        let target = match self.earliest_pending() {
            Some(p) if distance(p, candidate) > 0 => p,
            _ => candidate,
        };
        let hole = distance(next, target);
        if hole > 0 {
            deliver(StreamChunk::Gap(hole as u32));
            self.gaps += 1;
            self.next_seq = Some(target);
        }
    }

    /// Delivers the part of a segment at or after `next_seq`.
    fn deliver_from(&mut self, seq: u32, payload: &[u8], deliver: &mut dyn FnMut(StreamChunk<'_>)) {
        let Some(next) = self.next_seq else { return };
        let behind = distance(seq, next);
        let skip = usize::try_from(behind).unwrap_or(0);
        if skip >= payload.len() {
            self.retransmitted_bytes += payload.len() as u64;
            return;
        }
        self.retransmitted_bytes += skip as u64;
        let fresh = &payload[skip..];
        deliver(StreamChunk::Data(fresh));
        self.next_seq = Some(next.wrapping_add(fresh.len() as u32));
    }

    /// Delivers buffered segments that have become in order.
    fn drain(&mut self, deliver: &mut dyn FnMut(StreamChunk<'_>)) {
        while let Some(next) = self.next_seq {
            let Some(i) = self
                .pending
                .iter()
                .position(|(s, _)| distance(next, *s) <= 0)
            else {
                break;
            };
            let (seq, data) = self.pending.swap_remove(i);
            self.pending_bytes -= data.len();
            self.deliver_from(seq, &data, deliver);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segments: &[(u32, &[u8])], limits: ReassemblyLimits) -> (Vec<u8>, Vec<u32>) {
        let mut r = StreamReassembler::default();
        r.on_syn(999);
        let mut out = Vec::new();
        let mut gaps = Vec::new();
        let mut sink = |c: StreamChunk<'_>| match c {
            StreamChunk::Data(d) => out.extend_from_slice(d),
            StreamChunk::Gap(n) => gaps.push(n),
        };
        for (seq, data) in segments {
            r.on_segment(*seq, data, &limits, &mut sink);
        }
        r.flush(&mut sink);
        (out, gaps)
    }

    #[test]
    fn in_order_retransmit_overlap() {
        let (out, gaps) = run(
            &[
                (1000, b"abc"),
                (1000, b"abc"),
                (1002, b"cdef"),
                (1006, b"g"),
            ],
            ReassemblyLimits::default(),
        );
        assert_eq!(out, b"abcdefg");
        assert!(gaps.is_empty());
    }

    #[test]
    fn out_of_order_is_reordered() {
        let (out, gaps) = run(
            &[(1003, b"def"), (1000, b"abc")],
            ReassemblyLimits::default(),
        );
        assert_eq!(out, b"abcdef");
        assert!(gaps.is_empty());
    }

    #[test]
    fn gap_is_skipped_at_flush() {
        let (out, gaps) = run(&[(1000, b"ab"), (1010, b"xy")], ReassemblyLimits::default());
        assert_eq!(out, b"abxy");
        assert_eq!(gaps, vec![8]);
    }

    #[test]
    fn full_buffer_declares_gap() {
        let limits = ReassemblyLimits {
            max_buffered_bytes: 4,
            max_buffered_segments: 8,
        };
        let (out, gaps) = run(&[(1010, b"xyz"), (1013, b"uvw")], limits);
        assert_eq!(out, b"xyzuvw");
        assert_eq!(gaps, vec![10]);
    }

    #[test]
    fn sequence_wraps() {
        let mut r = StreamReassembler::default();
        r.on_syn(u32::MAX - 1);
        let mut out = Vec::new();
        let mut sink = |c: StreamChunk<'_>| {
            if let StreamChunk::Data(d) = c {
                out.extend_from_slice(d)
            }
        };
        let limits = ReassemblyLimits::default();
        r.on_segment(1, b"cd", &limits, &mut sink);
        r.on_segment(u32::MAX, b"ab", &limits, &mut sink);
        assert_eq!(out, b"abcd");
    }
}
