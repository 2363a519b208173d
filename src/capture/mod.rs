//! Packet sources. A source hands out one borrowed frame at a time with its link type
//! and timestamp; it never interprets the bytes (that is `decode`'s job).

#[cfg(feature = "live")]
pub mod afpacket;
mod file;
#[cfg(feature = "live")]
pub mod live;

pub use file::{CaptureError, CaptureFile, RecordBlock, STDIN};

use crate::timestamp::Timestamp;

/// One captured frame, borrowed from the source's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    /// tcpdump.org LINKTYPE_ value of the interface the frame came from. In pcapng each
    /// interface has its own, so a file may mix them.
    pub linktype: i32,
    pub data: &'a [u8],
    /// Length on the wire; larger than `data.len()` when the capture was cut by snaplen.
    pub wire_len: u32,
}

impl Packet<'_> {
    /// Shorter than on the wire: cut by the snapshot length.
    pub fn snapped(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.wire_len)
    }
}

/// Widens the span `first..=last` to hold `ts` (capture files are not always in time
/// order).
pub fn widen(first: &mut Option<Timestamp>, last: &mut Option<Timestamp>, ts: Timestamp) {
    *first = Some(first.map_or(ts, |t| t.min(ts)));
    *last = Some(last.map_or(ts, |t| t.max(ts)));
}
