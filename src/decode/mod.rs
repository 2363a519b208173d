//! L2–L4: from a captured frame to addresses, ports and the transport payload.
//!
//! Link layers are a few fixed offsets and are handled here by hand; IP and TCP/UDP,
//! with their options and extension headers, are left to etherparse.

mod defrag;
mod link;

pub use defrag::{DefragLimits, Ipv4Defragmenter};
pub use link::linktype;

use std::net::IpAddr;

use etherparse::{IpNumber, IpSlice, TcpSlice, UdpSlice};

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
    #[error("IPv6 fragment (not reassembled)")]
    Ipv6Fragment,
}

impl DecodeError {
    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::UnsupportedLinktype => "unsupported_linktype",
            DecodeError::TruncatedLink => "truncated_link",
            DecodeError::MalformedIp => "malformed_ip",
            DecodeError::MalformedTcp => "malformed_tcp",
            DecodeError::MalformedUdp => "malformed_udp",
            DecodeError::Ipv6Fragment => "ipv6_fragment",
        }
    }
}

/// An IPv4 fragment's identity and place in its datagram (RFC 791).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentInfo {
    pub id: u16,
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
    /// Set when this is a piece of a fragmented IPv4 datagram.
    pub fragment: Option<FragmentInfo>,
}

/// Outcome of link decoding for frames that are not errors.
pub enum Network<'a> {
    Ip(IpPacket<'a>),
    /// ARP, LLDP, STP …: well-formed, but nothing for this sensor.
    NotIp,
}

pub fn decode_network(linktype: i32, frame: &[u8]) -> Result<Network<'_>, DecodeError> {
    match link::network_payload(linktype, frame)? {
        Some(ip) => decode_ip(ip).map(Network::Ip),
        None => Ok(Network::NotIp),
    }
}

fn decode_ip(data: &[u8]) -> Result<IpPacket<'_>, DecodeError> {
    let ip = IpSlice::from_slice(data).map_err(|_| DecodeError::MalformedIp)?;
    let payload = ip.payload();
    let fragment = match &ip {
        IpSlice::Ipv4(v4) if payload.fragmented => {
            let header = v4.header();
            Some(FragmentInfo {
                id: header.identification(),
                offset: usize::from(header.fragments_offset().byte_offset()),
                more: header.more_fragments(),
            })
        }
        IpSlice::Ipv6(_) if payload.fragmented => return Err(DecodeError::Ipv6Fragment),
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
