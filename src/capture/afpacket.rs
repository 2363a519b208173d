//! Live capture through AF_PACKET TPACKET_V3 rings (feature `live`, Linux), one ring
//! per worker: `live --capture afpacket`. The rings are read through the `netring`
//! crate, which holds the unsafe code (the shared memory map, the block hand-back);
//! nothing here is unsafe.
//!
//! All rings of one sensor join one PACKET_FANOUT group in hash mode: the kernel
//! hashes each frame's flow symmetrically (addresses and ports, the same both ways)
//! and hands it to one ring, so both directions of a flow meet on one worker without
//! a capture thread copying frames between them. Unlike the software sharder
//! (`workers`), the kernel looks no deeper than the outer headers: the inner flows
//! of a tunnel are placed by the tunnel's outer addresses and ports.
//!
//! The capture filter is compiled by libpcap, as for `--capture pcap`, and attached
//! to every ring as a classic socket filter.

use std::time::Duration;

use netring::{BpfFilter, BpfInsn, Capture, FanoutFlags, FanoutMode};

use super::live::{CaptureOptions, LiveCaptureError};
use super::Packet;
use crate::timestamp::Timestamp;

/// Bytes per ring block. The kernel fills a block, then hands it over whole (or
/// after `BLOCK_TIMEOUT_MS` on a quiet link); 1 MiB holds any frame, GRO's 64 KiB
/// included.
const BLOCK_BYTES: usize = 1 << 20;
/// A block with frames in it is handed over at the latest after this long.
const BLOCK_TIMEOUT_MS: u32 = 50;
/// How long a read waits for a block before returning, so the loop can notice a
/// shutdown and move the clock.
const WAIT: Duration = Duration::from_millis(100);
const LINKTYPE_ETHERNET: i32 = 1;

/// One worker's ring.
pub struct Ring {
    capture: Capture,
    iface: String,
}

impl Ring {
    /// Opens `rings` rings on the interface, all in one fanout group. Needs
    /// CAP_NET_RAW; the privileges can be dropped once this returns.
    pub fn open_group(
        options: &CaptureOptions,
        rings: usize,
    ) -> Result<Vec<Ring>, LiveCaptureError> {
        let iface = options.iface.clone();
        let filter = options
            .bpf
            .as_deref()
            .map(|filter| socket_filter(&iface, filter))
            .transpose()?;
        let blocks = usize::try_from(options.buffer_bytes)
            .unwrap_or(0)
            .div_ceil(BLOCK_BYTES)
            .max(4);
        // One group per sensor process: two sensors on one interface each see every
        // frame, as two libpcap captures would.
        let group = (std::process::id() & 0xffff) as u16;
        (0..rings.max(1))
            .map(|_| {
                let mut builder = Capture::builder()
                    .interface(&iface)
                    .block_size(BLOCK_BYTES)
                    .block_count(blocks)
                    .block_timeout_ms(BLOCK_TIMEOUT_MS)
                    .snap_len(u32::try_from(options.snaplen).unwrap_or(u32::MAX))
                    .promiscuous(options.promisc)
                    // Frames the host sends itself are not from the mirror (on `lo`
                    // each would otherwise come twice).
                    .ignore_outgoing(true)
                    .fill_rxhash(false)
                    .poll_timeout(WAIT)
                    .fanout(FanoutMode::Hash, group)
                    // The kernel hashes a fragment by its addresses and a whole datagram
                    // by its ports too: reassembled first, a flow's fragmented datagrams
                    // reach the worker its others do (Suricata's af-packet `defrag`).
                    .fanout_flags(FanoutFlags::DEFRAG);
                if let Some(filter) = &filter {
                    builder = builder.bpf_filter(filter.clone());
                }
                let capture = builder.build().map_err(|source| LiveCaptureError::Ring {
                    iface: iface.clone(),
                    source,
                })?;
                Ok(Ring {
                    capture,
                    iface: iface.clone(),
                })
            })
            .collect()
    }

    /// Hands every frame of the next filled block to `each`, then gives the block
    /// back to the kernel. False when no block came within the wait.
    pub fn read_block(
        &mut self,
        mut each: impl FnMut(&Packet<'_>),
    ) -> Result<bool, LiveCaptureError> {
        let batch = self.capture.next_batch_blocking(WAIT).map_err(|source| {
            LiveCaptureError::RingRead {
                iface: self.iface.clone(),
                source,
            }
        })?;
        let Some(batch) = batch else {
            return Ok(false);
        };
        for frame in batch.iter() {
            let ts = frame.timestamp();
            each(&Packet {
                ts: Timestamp::from_secs_nanos(u64::from(ts.sec), ts.nsec),
                linktype: LINKTYPE_ETHERNET,
                data: frame.data(),
                wire_len: u32::try_from(frame.original_len()).unwrap_or(u32::MAX),
            });
        }
        Ok(true)
    }

    /// After a read found no block: every frame this ring received before the time
    /// returned has been read. The kernel hands a block over at most a block timeout
    /// after its first frame; twice that allows for the poll's own lateness.
    pub fn read_everything_before(&self) -> Timestamp {
        let settle = 2 * u64::from(BLOCK_TIMEOUT_MS) * 1_000_000;
        Timestamp(Timestamp::now().0.saturating_sub(settle))
    }

    /// Frames the kernel dropped because this ring was full, since it opened.
    pub fn drops(&self) -> Option<u64> {
        self.capture
            .cumulative_stats()
            .ok()
            .map(|stats| u64::from(stats.drops))
    }
}

/// A tcpdump filter compiled by libpcap for Ethernet, as socket-filter instructions.
fn socket_filter(iface: &str, filter: &str) -> Result<BpfFilter, LiveCaptureError> {
    let error = |source| LiveCaptureError::Filter {
        iface: iface.to_owned(),
        filter: filter.to_owned(),
        source,
    };
    let compiler = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(error)?;
    let program = compiler.compile(filter, true).map_err(error)?;
    // The pcap crate shows an instruction only as text: "code jt jf k".
    let instructions = program
        .get_instructions()
        .iter()
        .map(|insn| {
            let text = insn.to_string();
            let mut fields = text.split(' ');
            let mut next = || fields.next().and_then(|f| f.parse::<u64>().ok());
            Some(BpfInsn {
                code: u16::try_from(next()?).ok()?,
                jt: u8::try_from(next()?).ok()?,
                jf: u8::try_from(next()?).ok()?,
                k: u32::try_from(next()?).ok()?,
            })
        })
        .collect::<Option<Vec<_>>>();
    instructions
        .and_then(|i| BpfFilter::new(i).ok())
        .ok_or_else(|| LiveCaptureError::SocketFilter {
            iface: iface.to_owned(),
            filter: filter.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_compiled_to_socket_instructions() {
        let filter = socket_filter("eth0", "udp port 5060").expect("a valid filter");
        let program = filter.into_instructions();
        // tcpdump -dd 'udp port 5060' starts by loading the EtherType (ldh [12]) and
        // ends with the two returns: the snap length, and 0 (not taken).
        assert_eq!(
            program.first(),
            Some(&BpfInsn {
                code: 0x28,
                jt: 0,
                jf: 0,
                k: 12
            })
        );
        assert_eq!(program.last().map(|i| (i.code, i.k)), Some((0x06, 0)));
        assert!(program.len() > 10, "{program:?}");
        assert!(matches!(
            socket_filter("eth0", "udp port"),
            Err(LiveCaptureError::Filter { .. })
        ));
    }
}
