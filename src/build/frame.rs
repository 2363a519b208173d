//! Ethernet II, IPv4 (RFC 791), IPv6 (RFC 8200), UDP and TCP headers around a payload,
//! and a pcap writer: the frames tests and attack captures are built of. Checksums are
//! left at 0 (the sensor does not verify them, as captures from offloading NICs carry
//! none).

use std::io::{self, Write};

/// IPv6 Fragment header (RFC 8200 §4.5).
const FRAGMENT: u8 = 44;

/// A little-endian µs pcap of Ethernet frames, 10 µs apart.
pub struct Pcap<W: Write> {
    out: W,
    ts_us: u64,
    pub frames: u64,
}

impl<W: Write> Pcap<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&[
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ])?;
        Ok(Pcap {
            out,
            ts_us: 1_700_000_000_000_000,
            frames: 0,
        })
    }

    pub fn frame(&mut self, data: &[u8]) -> io::Result<()> {
        self.ts_us += 10;
        let secs = (self.ts_us / 1_000_000) as u32;
        let micros = (self.ts_us % 1_000_000) as u32;
        let len = data.len() as u32;
        for field in [secs, micros, len, len] {
            self.out.write_all(&field.to_le_bytes())?;
        }
        self.frames += 1;
        self.out.write_all(data)
    }

    /// Moves the clock on without a frame.
    pub fn wait_secs(&mut self, secs: u64) {
        self.ts_us += secs * 1_000_000;
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

pub fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// IPv4 around an L4 payload; `fragment` is the flags-and-offset word (RFC 791).
pub fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    id: u16,
    fragment: u16,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = ethernet(0x0800);
    let total = (20 + l4.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&fragment.to_be_bytes());
    f.extend_from_slice(&[64, protocol, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(l4);
    f
}

/// IPv6 around an L4 payload, with a Fragment header (RFC 8200 §4.5) when `fragment`
/// is `Some((id, offset, more))`.
pub fn ipv6(
    src: [u8; 16],
    dst: [u8; 16],
    next: u8,
    fragment: Option<(u32, usize, bool)>,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = ethernet(0x86dd);
    let extra = if fragment.is_some() { 8 } else { 0 };
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&((l4.len() + extra) as u16).to_be_bytes());
    f.extend_from_slice(&[if fragment.is_some() { FRAGMENT } else { next }, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    if let Some((id, offset, more)) = fragment {
        f.extend_from_slice(&[next, 0]);
        f.extend_from_slice(&((offset as u16) | u16::from(more)).to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
    }
    f.extend_from_slice(l4);
    f
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + payload.len());
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

pub fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(20 + payload.len());
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend_from_slice(payload);
    h
}
