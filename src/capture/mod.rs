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
