//! L2–L4: from a captured frame to addresses, ports and the transport payload.
//!
//! Link layers are a few fixed offsets and are handled here by hand; IP and TCP/UDP,
//! with their options and extension headers, are left to etherparse.

mod defrag;
mod link;
pub mod tunnel;

pub use defrag::{DefragLimits, DefragStats, Defragmenter};
pub use link::linktype;

use std::net::IpAddr;

use etherparse::{IpNumber, IpSlice, Ipv6ExtensionSlice, TcpSlice, UdpSlice};

/// Why a frame could not be decoded; the label is the `reason` of
/// `cleartrace_decode_errors_total`, so it never carries packet data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported link type")]
    UnsupportedLinktype,
    #[error("frame shorter than its link header")]
    TruncatedLink,
    #[error("malformed or truncated IP header")]
    MalformedIp,
    #[error("malformed or truncated TCP header")]
    MalformedTcp,
    #[error("malformed or truncated UDP header")]
    MalformedUdp,
    #[error("malformed MPLS label stack")]
    MalformedMpls,
    #[error("malformed PPPoE session header")]
    MalformedPppoe,
    #[error("malformed or unsupported GRE header")]
    MalformedGre,
    #[error("malformed ERSPAN header")]
    MalformedErspan,
    #[error("malformed VXLAN payload")]
    MalformedVxlan,
    #[error("malformed GENEVE header")]
    MalformedGeneve,
    #[error("malformed GTP-U header")]
    MalformedGtp,
    #[error("more tunnel layers than configured")]
    TunnelTooDeep,
}

impl DecodeError {
    /// Every reason, so `decode_errors_total` has each from start-up, at 0.
    pub const ALL: [DecodeError; 13] = [
        DecodeError::UnsupportedLinktype,
        DecodeError::TruncatedLink,
        DecodeError::MalformedIp,
        DecodeError::MalformedTcp,
        DecodeError::MalformedUdp,
        DecodeError::MalformedMpls,
        DecodeError::MalformedPppoe,
        DecodeError::MalformedGre,
        DecodeError::MalformedErspan,
        DecodeError::MalformedVxlan,
        DecodeError::MalformedGeneve,
        DecodeError::MalformedGtp,
        DecodeError::TunnelTooDeep,
    ];

    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::UnsupportedLinktype => "unsupported_linktype",
            DecodeError::TruncatedLink => "truncated_link",
            DecodeError::MalformedIp => "malformed_ip",
            DecodeError::MalformedTcp => "malformed_tcp",
            DecodeError::MalformedUdp => "malformed_udp",
            DecodeError::MalformedMpls => "malformed_mpls",
            DecodeError::MalformedPppoe => "malformed_pppoe",
            DecodeError::MalformedGre => "malformed_gre",
            DecodeError::MalformedErspan => "malformed_erspan",
            DecodeError::MalformedVxlan => "malformed_vxlan",
            DecodeError::MalformedGeneve => "malformed_geneve",
            DecodeError::MalformedGtp => "malformed_gtp",
            DecodeError::TunnelTooDeep => "tunnel_too_deep",
        }
    }
}

/// A fragment's identity and place in its datagram: IPv4's 16-bit identification
/// (RFC 791) or IPv6's 32-bit one from the Fragment header (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentInfo {
    pub id: u32,
    pub offset: usize,
    pub more: bool,
}

/// The network layer of a frame: addresses, the transport protocol and its bytes.
#[derive(Clone, Copy, Debug)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub payload: &'a [u8],
    /// Set when this is a piece of a fragmented datagram.
    pub fragment: Option<FragmentInfo>,
}

/// Outcome of link decoding for frames that are not errors.
pub enum Network<'a> {
    Ip(IpPacket<'a>),
    /// ARP, LLDP, STP …: well-formed, but nothing for this sensor.
    NotIp,
}

/// The frame's IP packet, by value: for callers off the per-packet path (the worker
/// sharder's slow path, the fuzz entries), which `with_network` serves.
pub fn decode_network(linktype: i32, frame: &[u8]) -> Result<Network<'_>, DecodeError> {
    Ok(with_network(linktype, frame, |ip| *ip)?.map_or(Network::NotIp, Network::Ip))
}

/// `decode_network`, handing the packet to `then` where it was decoded: `Ok(None)` for
/// a frame that carries no IP. The per-packet path uses this. An `IpPacket` returned
/// by value is written field by field (addresses are a tag byte and the address
/// bytes), then moved from `Option` to `Result` to `Network`, each with its own layout;
/// the wide loads of those copies stalled on the narrow stores (store forwarding), and
/// they were the hottest instructions of the whole path.
#[inline]
pub fn with_network<'a, R>(
    linktype: i32,
    frame: &'a [u8],
    then: impl FnOnce(&IpPacket<'a>) -> R,
) -> Result<Option<R>, DecodeError> {
    let Some(data) = link::network_payload(linktype, frame)? else {
        return Ok(None);
    };
    match &plain_ip(data) {
        Some(ip) => Ok(Some(then(ip))),
        None => Ok(Some(then(&by_etherparse(data)?))),
    }
}

/// An IP header (either version) and what it carries.
pub fn decode_ip(data: &[u8]) -> Result<IpPacket<'_>, DecodeError> {
    match plain_ip(data) {
        Some(ip) => Ok(ip),
        None => by_etherparse(data),
    }
}

/// Every shape `plain_ip` leaves: options, fragments, extension headers, lengths that
/// do not add up.
#[inline(never)]
fn by_etherparse(data: &[u8]) -> Result<IpPacket<'_>, DecodeError> {
    let ip = IpSlice::from_slice(data).map_err(|_| DecodeError::MalformedIp)?;
    let payload = ip.payload();
    let fragment = match &ip {
        IpSlice::Ipv4(v4) if payload.fragmented => {
            let header = v4.header();
            Some(FragmentInfo {
                id: u32::from(header.identification()),
                offset: usize::from(header.fragments_offset().byte_offset()),
                more: header.more_fragments(),
            })
        }
        IpSlice::Ipv6(v6) if payload.fragmented => {
            // etherparse stops at the Fragment header: its fields say where this piece
            // goes, and `payload` is what follows it.
            let header = v6
                .extensions()
                .clone()
                .into_iter()
                .find_map(|ext| match ext {
                    Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                });
            let header = header.ok_or(DecodeError::MalformedIp)?;
            Some(FragmentInfo {
                id: header.identification(),
                offset: usize::from(header.fragment_offset().byte_offset()),
                more: header.more_fragments(),
            })
        }
        _ => None,
    };
    Ok(IpPacket {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        protocol: payload.ip_number.0,
        payload: payload.payload,
        fragment,
    })
}

/// The shape nearly every packet has: IPv4 with a 20-byte header, not a fragment, not
/// AH; or IPv6 whose next header is TCP or UDP. Read in place, and exactly as
/// etherparse reads them (the tests compare the two); every other shape, and every
/// length that does not add up, goes to etherparse. This path is a third of the
/// per-packet cost saved on RTP-heavy links.
#[inline(always)]
fn plain_ip(data: &[u8]) -> Option<IpPacket<'_>> {
    const IPV4_HEADER: usize = 20;
    const IPV6_HEADER: usize = 40;
    const AUTH: u8 = 51;
    match data.first()? >> 4 {
        4 => {
            let h: &[u8; IPV4_HEADER] = data.get(..IPV4_HEADER)?.try_into().ok()?;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let not_fragment = u16::from_be_bytes([h[6], h[7]]) & 0x3fff == 0;
            if h[0] != 0x45 || h[9] == AUTH || !not_fragment || total < IPV4_HEADER {
                return None;
            }
            Some(IpPacket {
                src: IpAddr::from([h[12], h[13], h[14], h[15]]),
                dst: IpAddr::from([h[16], h[17], h[18], h[19]]),
                protocol: h[9],
                payload: data.get(IPV4_HEADER..total)?,
                fragment: None,
            })
        }
        6 => {
            let h: &[u8; IPV6_HEADER] = data.get(..IPV6_HEADER)?.try_into().ok()?;
            let length = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let next = h[6];
            if !(next == 6 || next == 17) || length == 0 {
                return None;
            }
            let src: [u8; 16] = h[8..24].try_into().ok()?;
            let dst: [u8; 16] = h[24..40].try_into().ok()?;
            Some(IpPacket {
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
                protocol: next,
                payload: data.get(IPV6_HEADER..IPV6_HEADER + length)?,
                fragment: None,
            })
        }
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    /// ICMP, SCTP, ESP …: counted, not dissected.
    Other,
}

/// Parses the transport header of a whole (possibly reassembled) IP payload.
pub fn decode_transport(protocol: u8, payload: &[u8]) -> Result<Transport<'_>, DecodeError> {
    match IpNumber(protocol) {
        IpNumber::TCP => {
            let tcp = TcpSlice::from_slice(payload).map_err(|_| DecodeError::MalformedTcp)?;
            Ok(Transport::Tcp(TcpSegment {
                src_port: tcp.source_port(),
                dst_port: tcp.destination_port(),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: TcpFlags {
                    syn: tcp.syn(),
                    ack: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                },
                payload: tcp.payload(),
            }))
        }
        IpNumber::UDP => {
            // Lax: a UDP length that disagrees with the IP length is common on the wire
            // (padding, offloads); the IP layer already bounded the slice.
            let udp = UdpSlice::from_slice_lax(payload).map_err(|_| DecodeError::MalformedUdp)?;
            Ok(Transport::Udp(UdpDatagram {
                src_port: udp.source_port(),
                dst_port: udp.destination_port(),
                payload: udp.payload(),
            }))
        }
        _ => Ok(Transport::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALL` must name every reason. A variant added to the enum breaks this match
    /// (the test does not compile) until it is added here and to `ALL`.
    #[test]
    fn all_names_every_reason_once() {
        fn listed(e: DecodeError) -> bool {
            // No wildcard: a variant added to the enum makes this match incomplete.
            match e {
                DecodeError::UnsupportedLinktype
                | DecodeError::TruncatedLink
                | DecodeError::MalformedIp
                | DecodeError::MalformedTcp
                | DecodeError::MalformedUdp
                | DecodeError::MalformedMpls
                | DecodeError::MalformedPppoe
                | DecodeError::MalformedGre
                | DecodeError::MalformedErspan
                | DecodeError::MalformedVxlan
                | DecodeError::MalformedGeneve
                | DecodeError::MalformedGtp
                | DecodeError::TunnelTooDeep => DecodeError::ALL.contains(&e),
            }
        }
        assert!(DecodeError::ALL.into_iter().all(listed));
        let mut reasons: Vec<&str> = DecodeError::ALL.map(DecodeError::reason).to_vec();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), DecodeError::ALL.len());
    }

    /// What etherparse makes of the bytes, in the fast path's terms.
    fn by_etherparse(data: &[u8]) -> Option<(IpAddr, IpAddr, u8, &[u8])> {
        let ip = IpSlice::from_slice(data).ok()?;
        let payload = ip.payload();
        (!payload.fragmented).then(|| {
            (
                ip.source_addr(),
                ip.destination_addr(),
                payload.ip_number.0,
                payload.payload,
            )
        })
    }

    #[test]
    fn fast_path_reads_what_etherparse_reads() {
        let mut v4 = vec![
            0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        v4.extend_from_slice(&[0x13, 0xc4, 0x13, 0xc4, 0, 8, 0, 0, 0xee, 0xee]);
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        v6.extend((0..32).map(|i| i as u8));
        v6.extend_from_slice(&[0x13, 0xc4, 0x13, 0xc4, 0, 8, 0, 0]);
        // Fields the fast path decides on, mutated at random (a fixed-seed LCG).
        let v4_fields = [0usize, 2, 3, 6, 7, 9];
        let v6_fields = [0usize, 4, 5, 6];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut agreed = 0;
        for round in 0..200_000 {
            let (base, fields) = if round % 2 == 0 {
                (&v4, &v4_fields[..])
            } else {
                (&v6, &v6_fields[..])
            };
            let mut data = base.clone();
            for _ in 0..2 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let field = fields[(seed >> 33) as usize % fields.len()];
                data[field] = (seed >> 16) as u8;
            }
            let cut = (seed >> 40) as usize % (data.len() + 1);
            let data = if round % 7 == 0 {
                &data[..cut]
            } else {
                &data[..]
            };
            if let Some(fast) = plain_ip(data) {
                let slow = by_etherparse(data).expect("etherparse rejects what the fast path took");
                assert_eq!(
                    (fast.src, fast.dst, fast.protocol, fast.payload),
                    slow,
                    "{data:02x?}"
                );
                agreed += 1;
            }
        }
        assert!(agreed > 2_000, "fast path taken only {agreed} times");
    }
}
