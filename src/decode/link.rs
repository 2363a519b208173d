//! Link-layer headers: where the network-layer bytes of a frame start.

use super::DecodeError;

/// tcpdump.org LINKTYPE_ values this decoder understands.
pub mod linktype {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    /// DLT_RAW as OpenBSD numbers it; libpcap maps it to 101 in files, some writers do not.
    pub const RAW_OPENBSD: i32 = 14;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag still emitted by some switches.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Our own cap on the link headers one frame may stack (VLAN tags, MPLS label
/// stacks, PPPoE, pseudowire Ethernet): QinQ plus MPLS is four; eight leaves room.
const MAX_LINK_HEADERS: usize = 8;
/// MPLS labels followed in one stack; carrier stacks are two to four deep.
const MAX_MPLS_LABELS: usize = 16;
/// PPP protocol numbers of IPv4 and IPv6 (RFC 1332, RFC 5072).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// BSD loopback address families (AF_INET, and AF_INET6 as FreeBSD, Darwin and
/// OpenBSD/NetBSD number it).
const AF_INET: u32 = 2;
const AF_INET6: [u32; 3] = [24, 28, 30];

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

/// The network-layer bytes of `frame`, or `None` for a frame that carries no IP.
pub(super) fn network_payload(linktype: i32, frame: &[u8]) -> Result<Option<&[u8]>, DecodeError> {
    match linktype {
        linktype::ETHERNET => ethernet_payload(frame),
        // Linux cooked v1: 16-byte header, protocol at 14.
        linktype::LINUX_SLL => {
            let protocol = be16(frame, 14).ok_or(DecodeError::TruncatedLink)?;
            ether_payload(protocol, frame.get(16..).ok_or(DecodeError::TruncatedLink)?)
        }
        // Linux cooked v2 (tcpdump -i any since 4.99): 20-byte header, protocol first.
        linktype::LINUX_SLL2 => {
            let protocol = be16(frame, 0).ok_or(DecodeError::TruncatedLink)?;
            ether_payload(protocol, frame.get(20..).ok_or(DecodeError::TruncatedLink)?)
        }
        linktype::RAW | linktype::RAW_OPENBSD | linktype::IPV4 | linktype::IPV6 => Ok(Some(frame)),
        // BSD loopback: a 4-byte address family, host order for NULL, network order for LOOP.
        linktype::NULL | linktype::LOOP => {
            let raw: [u8; 4] = frame
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(DecodeError::TruncatedLink)?;
            let family = if linktype == linktype::LOOP {
                u32::from_be_bytes(raw)
            } else {
                // The writer's byte order is unknown; families are small, so pick the
                // reading that gives a small number.
                let le = u32::from_le_bytes(raw);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            if family == AF_INET || AF_INET6.contains(&family) {
                Ok(Some(&frame[4..]))
            } else {
                Ok(None)
            }
        }
        _ => Err(DecodeError::UnsupportedLinktype),
    }
}

/// An Ethernet frame (inside a tunnel) followed to its IP payload.
pub(super) fn ethernet_payload(frame: &[u8]) -> Result<Option<&[u8]>, DecodeError> {
    let ether_type = be16(frame, 12).ok_or(DecodeError::TruncatedLink)?;
    ether_payload(
        ether_type,
        frame.get(14..).ok_or(DecodeError::TruncatedLink)?,
    )
}

/// Whether a PPP protocol number is IP.
pub(super) fn ppp_ip(protocol: u16) -> bool {
    matches!(protocol, PPP_IPV4 | PPP_IPV6)
}

/// Follows 802.1Q / 802.1ad tags, MPLS label stacks and PPPoE sessions to the IP
/// payload.
pub(super) fn ether_payload(
    mut ether_type: u16,
    mut data: &[u8],
) -> Result<Option<&[u8]>, DecodeError> {
    for _ in 0..=MAX_LINK_HEADERS {
        match ether_type {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(Some(data)),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                ether_type = be16(data, 2).ok_or(DecodeError::TruncatedLink)?;
                data = data.get(4..).ok_or(DecodeError::TruncatedLink)?;
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => match mpls(data)? {
                MplsPayload::Ip(ip) => return Ok(Some(ip)),
                MplsPayload::Ethernet(frame) => {
                    ether_type = be16(frame, 12).ok_or(DecodeError::MalformedMpls)?;
                    data = frame.get(14..).ok_or(DecodeError::MalformedMpls)?;
                }
                MplsPayload::Other => return Ok(None),
            },
            ETHERTYPE_PPPOE_SESSION => {
                // RFC 2516: version and type 1, code 0 in a session; then PPP.
                if data.get(..2) != Some(&[0x11, 0x00]) {
                    return Err(DecodeError::MalformedPppoe);
                }
                let protocol = be16(data, 6).ok_or(DecodeError::MalformedPppoe)?;
                data = &data[8..];
                ether_type = match protocol {
                    PPP_IPV4 => ETHERTYPE_IPV4,
                    PPP_IPV6 => ETHERTYPE_IPV6,
                    // LCP, PAP, IPCP …: the link's own control, no IP.
                    _ => return Ok(None),
                };
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

enum MplsPayload<'a> {
    Ip(&'a [u8]),
    /// A pseudowire's Ethernet frame (after its control word).
    Ethernet(&'a [u8]),
    Other,
}

/// An MPLS label stack (RFC 3032) to its bottom, and what it carries: the explicit
/// null labels name IPv4 / IPv6; otherwise, as every decoder does, the first nibble
/// (4, 6, or 0 for a pseudowire control word, RFC 4385).
fn mpls(data: &[u8]) -> Result<MplsPayload<'_>, DecodeError> {
    const IPV4_EXPLICIT_NULL: u32 = 0;
    const IPV6_EXPLICIT_NULL: u32 = 2;
    for depth in 0..MAX_MPLS_LABELS {
        let at = depth * 4;
        let entry = data.get(at..at + 4).ok_or(DecodeError::MalformedMpls)?;
        if entry[2] & 0x01 == 0 {
            continue;
        }
        let label = u32::from_be_bytes([0, entry[0], entry[1], entry[2]]) >> 4;
        let payload = &data[at + 4..];
        return Ok(match (label, payload.first().map(|b| b >> 4)) {
            (IPV4_EXPLICIT_NULL | IPV6_EXPLICIT_NULL, _) | (_, Some(4 | 6)) => {
                MplsPayload::Ip(payload)
            }
            (_, Some(0)) => {
                MplsPayload::Ethernet(payload.get(4..).ok_or(DecodeError::MalformedMpls)?)
            }
            _ => MplsPayload::Other,
        });
    }
    Err(DecodeError::MalformedMpls)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPV4_MIN: [u8; 20] = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    fn ether(ether_type: u16, tags: &[(u16, u16)], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for (tpid, tci) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&ether_type.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ethernet_plain_vlan_and_qinq() {
        let plain = ether(ETHERTYPE_IPV4, &[], &IPV4_MIN);
        assert_eq!(
            network_payload(linktype::ETHERNET, &plain),
            Ok(Some(&IPV4_MIN[..]))
        );
        let vlan = ether(ETHERTYPE_IPV4, &[(ETHERTYPE_VLAN, 100)], &IPV4_MIN);
        assert_eq!(
            network_payload(linktype::ETHERNET, &vlan),
            Ok(Some(&IPV4_MIN[..]))
        );
        let qinq = ether(
            ETHERTYPE_IPV4,
            &[(ETHERTYPE_QINQ, 10), (ETHERTYPE_VLAN, 20)],
            &IPV4_MIN,
        );
        assert_eq!(
            network_payload(linktype::ETHERNET, &qinq),
            Ok(Some(&IPV4_MIN[..]))
        );
    }

    #[test]
    fn ethernet_non_ip_and_truncated() {
        let arp = ether(0x0806, &[], &[0; 28]);
        assert_eq!(network_payload(linktype::ETHERNET, &arp), Ok(None));
        assert_eq!(
            network_payload(linktype::ETHERNET, &[0; 13]),
            Err(DecodeError::TruncatedLink)
        );
        let cut_tag = ether(ETHERTYPE_VLAN, &[], &[0, 1]);
        assert_eq!(
            network_payload(linktype::ETHERNET, &cut_tag),
            Err(DecodeError::TruncatedLink)
        );
    }

    #[test]
    fn endless_vlan_tags_stop() {
        let tags = [(ETHERTYPE_VLAN, 1); 16];
        let frame = ether(ETHERTYPE_IPV4, &tags, &IPV4_MIN);
        assert_eq!(network_payload(linktype::ETHERNET, &frame), Ok(None));
    }

    #[test]
    fn mpls_stacks_inside_vlan() {
        // Two labels, the second bottom of stack, then IPv4 by its first nibble.
        let mut labels = vec![0x00, 0x0f, 0xe0, 0x40, 0x00, 0x06, 0x31, 0x40];
        labels.extend_from_slice(&IPV4_MIN);
        let frame = ether(ETHERTYPE_MPLS, &[(ETHERTYPE_VLAN, 3399)], &labels);
        assert_eq!(
            network_payload(linktype::ETHERNET, &frame),
            Ok(Some(&IPV4_MIN[..]))
        );
        // A pseudowire: control word, then a whole Ethernet frame.
        let mut pw = vec![0x00, 0x01, 0x01, 0x40, 0, 0, 0, 0];
        pw.extend_from_slice(&ether(ETHERTYPE_IPV4, &[], &IPV4_MIN));
        let frame = ether(ETHERTYPE_MPLS, &[], &pw);
        assert_eq!(
            network_payload(linktype::ETHERNET, &frame),
            Ok(Some(&IPV4_MIN[..]))
        );
        // A stack that never reaches its bottom.
        let frame = ether(ETHERTYPE_MPLS, &[], &[0u8; 80]);
        assert_eq!(
            network_payload(linktype::ETHERNET, &frame),
            Err(DecodeError::MalformedMpls)
        );
    }

    #[test]
    fn pppoe_session_ip_and_control() {
        let mut session = vec![0x11, 0x00, 0x00, 0x01, 0x00, 22, 0x00, 0x21];
        session.extend_from_slice(&IPV4_MIN);
        let frame = ether(ETHERTYPE_PPPOE_SESSION, &[], &session);
        assert_eq!(
            network_payload(linktype::ETHERNET, &frame),
            Ok(Some(&IPV4_MIN[..]))
        );
        let lcp = ether(
            ETHERTYPE_PPPOE_SESSION,
            &[],
            &[0x11, 0, 0, 1, 0, 4, 0xc0, 0x21],
        );
        assert_eq!(network_payload(linktype::ETHERNET, &lcp), Ok(None));
        let bad = ether(ETHERTYPE_PPPOE_SESSION, &[], &[0x21, 0, 0, 1]);
        assert_eq!(
            network_payload(linktype::ETHERNET, &bad),
            Err(DecodeError::MalformedPppoe)
        );
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        sll.extend_from_slice(&IPV4_MIN);
        assert_eq!(
            network_payload(linktype::LINUX_SLL, &sll),
            Ok(Some(&IPV4_MIN[..]))
        );
        let mut sll2 = ETHERTYPE_IPV4.to_be_bytes().to_vec();
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&IPV4_MIN);
        assert_eq!(
            network_payload(linktype::LINUX_SLL2, &sll2),
            Ok(Some(&IPV4_MIN[..]))
        );
    }

    #[test]
    fn bsd_loopback_both_byte_orders() {
        let mut le = AF_INET.to_le_bytes().to_vec();
        le.extend_from_slice(&IPV4_MIN);
        assert_eq!(
            network_payload(linktype::NULL, &le),
            Ok(Some(&IPV4_MIN[..]))
        );
        let mut be = 30u32.to_be_bytes().to_vec();
        be.extend_from_slice(&IPV4_MIN);
        assert_eq!(
            network_payload(linktype::NULL, &be),
            Ok(Some(&IPV4_MIN[..]))
        );
        assert_eq!(
            network_payload(linktype::LOOP, &be),
            Ok(Some(&IPV4_MIN[..]))
        );
        assert_eq!(
            network_payload(linktype::NULL, &[2, 0]),
            Err(DecodeError::TruncatedLink)
        );
    }

    #[test]
    fn raw_and_unknown() {
        assert_eq!(
            network_payload(linktype::RAW, &IPV4_MIN),
            Ok(Some(&IPV4_MIN[..]))
        );
        assert_eq!(
            network_payload(147, &IPV4_MIN),
            Err(DecodeError::UnsupportedLinktype)
        );
    }
}
