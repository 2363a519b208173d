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
/// Our own cap on stacked VLAN tags; QinQ is two, three leaves room for oddities.
const MAX_VLAN_TAGS: usize = 3;

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
        linktype::ETHERNET => {
            let ether_type = be16(frame, 12).ok_or(DecodeError::TruncatedLink)?;
            ether_payload(
                ether_type,
                frame.get(14..).ok_or(DecodeError::TruncatedLink)?,
            )
        }
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

/// Follows 802.1Q / 802.1ad tags to the IP payload.
fn ether_payload(mut ether_type: u16, mut data: &[u8]) -> Result<Option<&[u8]>, DecodeError> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ether_type {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(Some(data)),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                ether_type = be16(data, 2).ok_or(DecodeError::TruncatedLink)?;
                data = data.get(4..).ok_or(DecodeError::TruncatedLink)?;
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
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
        let tags = [(ETHERTYPE_VLAN, 1); 8];
        let frame = ether(ETHERTYPE_IPV4, &tags, &IPV4_MIN);
        assert_eq!(network_payload(linktype::ETHERNET, &frame), Ok(None));
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
