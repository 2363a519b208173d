//! Live capture from an interface through libpcap (feature `live`). Like the file
//! source, it hands out borrowed frames and never interprets them.

use thiserror::Error;

use super::Packet;
use crate::timestamp::Timestamp;

#[derive(Debug, Error)]
pub enum LiveCaptureError {
    #[error("{iface}: cannot open for capture: {source}")]
    Open { iface: String, source: pcap::Error },
    #[error("{iface}: bad BPF filter {filter:?}: {source}")]
    Filter {
        iface: String,
        filter: String,
        source: pcap::Error,
    },
    #[error("{iface}: capture failed: {source}")]
    Read { iface: String, source: pcap::Error },
    #[error("{iface}: cannot open an AF_PACKET ring: {source}")]
    Ring {
        iface: String,
        source: netring::Error,
    },
    #[error("{iface}: BPF filter {filter:?} cannot be attached to an AF_PACKET socket")]
    SocketFilter { iface: String, filter: String },
    #[error("{iface}: reading an AF_PACKET ring failed: {source}")]
    RingRead {
        iface: String,
        source: netring::Error,
    },
}

/// How frames come off the interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CaptureMethod {
    /// libpcap, read by one capture thread that shards frames to the workers; the
    /// portable fallback.
    #[default]
    Pcap,
    /// AF_PACKET TPACKET_V3 rings, one per worker, in one PACKET_FANOUT group (Linux).
    Afpacket,
}

/// How to open the interface (libpcap's knobs, named as tcpdump names them).
#[derive(Clone, Debug)]
pub struct CaptureOptions {
    pub method: CaptureMethod,
    pub iface: String,
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub promisc: bool,
    /// Kernel ring buffer in bytes (with AF_PACKET, of each worker's ring).
    pub buffer_bytes: i32,
}

/// Time `wait` gives a quiet link before returning, so the loop can notice a shutdown
/// and move the clock. libpcap's own read timeout cannot do this on Linux: with
/// TPACKET_V3 the kernel retires no empty block, so a blocking read on a silent
/// interface never returns. The capture is non-blocking and polled instead.
const WAIT_MS: u16 = 100;

/// Counters of frames lost before they reached us, as libpcap reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelDrops {
    /// No room in the capture buffer.
    pub buffer: u64,
    /// Dropped by the interface or its driver.
    pub interface: u64,
}

pub struct LiveCapture {
    capture: pcap::Capture<pcap::Active>,
    iface: String,
    linktype: i32,
    /// libpcap's counters are 32-bit and wrap; the last raw values and our totals.
    last_raw: (u32, u32),
    drops: KernelDrops,
}

impl LiveCapture {
    pub fn open(options: &CaptureOptions) -> Result<Self, LiveCaptureError> {
        let open_error = |source| LiveCaptureError::Open {
            iface: options.iface.clone(),
            source,
        };
        let mut capture = pcap::Capture::from_device(options.iface.as_str())
            .map_err(open_error)?
            .promisc(options.promisc)
            .snaplen(options.snaplen)
            .buffer_size(options.buffer_bytes)
            .timeout(i32::from(WAIT_MS))
            .open()
            .and_then(pcap::Capture::setnonblock)
            .map_err(open_error)?;
        if options.iface == "any" {
            // SLL2 carries the interface index; SLL is the fallback libpcap picks
            // itself when the kernel or library is too old.
            let _ = capture.set_datalink(pcap::Linktype::LINUX_SLL2);
        }
        if let Some(filter) = &options.bpf {
            capture
                .filter(filter, true)
                .map_err(|source| LiveCaptureError::Filter {
                    iface: options.iface.clone(),
                    filter: filter.clone(),
                    source,
                })?;
        }
        let linktype = capture.get_datalink().0;
        Ok(LiveCapture {
            capture,
            iface: options.iface.clone(),
            linktype,
            last_raw: (0, 0),
            drops: KernelDrops::default(),
        })
    }

    /// Waits until a frame may be ready or the quiet-link interval passed; false on
    /// the latter.
    pub fn wait(&self) -> bool {
        use nix::poll::{poll, PollFd, PollFlags};
        use std::os::fd::AsFd;
        let mut fds = [PollFd::new(self.capture.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, WAIT_MS), Ok(n) if n > 0)
    }

    /// The next frame, or `None` when none is waiting (then `wait`).
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, LiveCaptureError> {
        match self.capture.next_packet() {
            Ok(packet) => {
                let ts = packet.header.ts;
                Ok(Some(Packet {
                    ts: Timestamp::from_secs_nanos(
                        u64::try_from(ts.tv_sec).unwrap_or(0),
                        u32::try_from(ts.tv_usec).unwrap_or(0).saturating_mul(1000),
                    ),
                    linktype: self.linktype,
                    data: packet.data,
                    wire_len: packet.header.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => Ok(None),
            Err(source) => Err(LiveCaptureError::Read {
                iface: self.iface.clone(),
                source,
            }),
        }
    }

    /// Frames lost since the capture opened, from libpcap's wrapping counters.
    pub fn drops(&mut self) -> KernelDrops {
        if let Ok(stat) = self.capture.stats() {
            let (dropped, if_dropped) = self.last_raw;
            self.drops.buffer += u64::from(stat.dropped.wrapping_sub(dropped));
            self.drops.interface += u64::from(stat.if_dropped.wrapping_sub(if_dropped));
            self.last_raw = (stat.dropped, stat.if_dropped);
        }
        self.drops
    }
}
