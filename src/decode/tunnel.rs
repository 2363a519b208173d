//! Tunnels carried inside IP: GRE (RFC 2784/2890, and PPTP's enhanced GRE), ERSPAN
//! types I–III, VXLAN (RFC 7348), GENEVE (RFC 8926), GTP-U (3GPP TS 29.281) and
//! IP-in-IP (4in4, 4in6, 6in4, 6in6). One call peels one layer; the engine repeats it
//! up to `max_depth` times, so nesting of any kind is handled by the same loop.
//!
//! Each header is a few fixed fields read in place, as the link layers are; what is
//! inside (Ethernet, MPLS, PPP, IP) goes back to the link decoder.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{link, DecodeError, IpPacket};

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Transparent Ethernet bridging: a whole Ethernet frame (gretap, NVGRE, GENEVE).
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN_I_II: u16 = 0x88be;
const ETHERTYPE_ERSPAN_III: u16 = 0x22eb;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// PPP inside enhanced GRE (PPTP, RFC 2637).
const ETHERTYPE_PPP: u16 = 0x880b;

/// Which UDP destination ports are read as tunnels (config `[tunnels]`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TunnelConfig {
    pub vxlan_ports: Vec<u16>,
    pub geneve_ports: Vec<u16>,
    pub gtpu_ports: Vec<u16>,
    /// Tunnel layers peeled off one packet at most; a deeper packet is a decode error.
    pub max_depth: u8,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            vxlan_ports: vec![4789],
            geneve_ports: vec![6081],
            gtpu_ports: vec![2152],
            max_depth: 8,
        }
    }
}

/// The tunnel configuration made ready for the packet path: every UDP datagram's
/// destination port is checked against the tunnel ports, so they are also kept as a
/// bitmap (a slice search per datagram was about 7 % of all instructions on
/// RTP-heavy traffic). The worker sharder reads the same set.
#[derive(Clone, Debug)]
pub struct Tunnels {
    config: TunnelConfig,
    udp_ports: PortSet,
}

impl Tunnels {
    pub fn new(config: &TunnelConfig) -> Self {
        let mut udp_ports = PortSet::default();
        let ports = [
            &config.vxlan_ports,
            &config.geneve_ports,
            &config.gtpu_ports,
        ];
        for &port in ports.into_iter().flatten() {
            udp_ports.insert(port);
        }
        Tunnels {
            config: config.clone(),
            udp_ports,
        }
    }

    /// Tunnel layers peeled off one packet at most.
    pub fn max_depth(&self) -> u8 {
        self.config.max_depth
    }

    /// Whether UDP to `port` may carry a tunnel (VXLAN, GENEVE or GTP-U).
    pub fn is_udp_port(&self, port: u16) -> bool {
        self.udp_ports.contains(port)
    }
}

impl Default for Tunnels {
    fn default() -> Self {
        Tunnels::new(&TunnelConfig::default())
    }
}

/// A set of UDP ports, one bit each, with a one-word summary in front: the bitmap is
/// 8 KiB, and asked with the random ports of RTP (every UDP datagram asks) its words
/// missed the CPU's first-level cache about one time in three. The summary has bit
/// `port % 64` set for each member, so with the few tunnel ports configured almost
/// every other port is answered from it.
#[derive(Clone, Debug)]
struct PortSet {
    summary: u64,
    bits: Box<[u64; 1024]>,
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet {
            summary: 0,
            bits: Box::new([0; 1024]),
        }
    }
}

impl PortSet {
    fn insert(&mut self, port: u16) {
        self.summary |= 1 << (port & 63);
        self.bits[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    fn contains(&self, port: u16) -> bool {
        self.summary & (1 << (port & 63)) != 0
            && self.bits[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }
}

/// The encapsulations this module peels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encapsulation {
    Gre,
    Erspan,
    Vxlan,
    Geneve,
    GtpU,
    IpInIp,
}

/// What one tunnel header said about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    pub kind: Encapsulation,
    /// VXLAN / GENEVE virtual network identifier (24 bits).
    pub vni: Option<u32>,
    pub gre_key: Option<u32>,
    pub erspan_id: Option<u16>,
    /// GTP-U tunnel endpoint identifier.
    pub teid: Option<u32>,
}

impl Layer {
    fn new(kind: Encapsulation) -> Self {
        Layer {
            kind,
            vni: None,
            gre_key: None,
            erspan_id: None,
            teid: None,
        }
    }
}

/// The tunnel a flow was seen in, as EVE's `tunnel` object writes it (DESIGN §5): the
/// outermost header's addresses and IP protocol, the number of layers, and the
/// identifiers any layer carried (the innermost wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    pub src_ip: IpAddr,
    pub dest_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    pub proto: &'static str,
    pub depth: u8,
    /// The outermost encapsulation.
    #[serde(rename = "type")]
    pub kind: Encapsulation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gre_key: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erspan_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teid: Option<u32>,
}

impl Tunnel {
    /// The record of a packet that `outer` (its addresses and IP protocol) wrapped.
    pub fn new(
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        ports: Option<(u16, u16)>,
        layer: Layer,
    ) -> Self {
        Tunnel {
            src_ip: src,
            dest_ip: dst,
            src_port: ports.map(|p| p.0),
            dest_port: ports.map(|p| p.1),
            proto: match protocol {
                IPPROTO_IPIP => "IPv4",
                IPPROTO_IPV6 => "IPv6",
                IPPROTO_GRE => "GRE",
                _ => "UDP",
            },
            depth: 1,
            kind: layer.kind,
            vni: layer.vni,
            gre_key: layer.gre_key,
            erspan_id: layer.erspan_id,
            teid: layer.teid,
        }
    }

    /// One more layer inside this tunnel.
    pub fn nest(mut self, layer: Layer) -> Self {
        self.depth = self.depth.saturating_add(1);
        self.vni = layer.vni.or(self.vni);
        self.gre_key = layer.gre_key.or(self.gre_key);
        self.erspan_id = layer.erspan_id.or(self.erspan_id);
        self.teid = layer.teid.or(self.teid);
        self
    }

    /// What keeps overlapping tenant address spaces apart in the flow table: the
    /// VXLAN / GENEVE network identifier.
    pub fn segment(&self) -> u32 {
        self.vni.unwrap_or(0)
    }
}

/// One peeled layer: its header facts, and the network-layer bytes inside, or `None`
/// when the tunnel carries something other than IP (ARP, PPP control, GTP signalling).
#[derive(Debug, PartialEq, Eq)]
pub struct Decapsulated<'a> {
    pub layer: Layer,
    /// The outer UDP ports, for UDP-borne tunnels.
    pub ports: Option<(u16, u16)>,
    pub inner: Option<&'a [u8]>,
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

fn be24(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        0,
        *data.get(at)?,
        *data.get(at + 1)?,
        *data.get(at + 2)?,
    ]))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Peels one tunnel layer off an IP payload (`protocol` is its IP protocol number),
/// or says it is no tunnel. A UDP datagram on a tunnel port whose header does not
/// fit is taken for ordinary UDP (ports are hints); a malformed layer past that
/// point is an error.
// Inlined: asked of every IP packet, and nearly all leave at the first test.
#[inline]
pub fn decapsulate<'a>(
    tunnels: &Tunnels,
    protocol: u8,
    payload: &'a [u8],
) -> Result<Option<Decapsulated<'a>>, DecodeError> {
    let plain = |kind, inner| {
        Ok(Some(Decapsulated {
            layer: Layer::new(kind),
            ports: None,
            inner: Some(inner),
        }))
    };
    match protocol {
        IPPROTO_IPIP | IPPROTO_IPV6 => plain(Encapsulation::IpInIp, payload),
        IPPROTO_GRE => gre(payload).map(Some),
        IPPROTO_UDP => match tunnel_port(tunnels, payload) {
            Some(port) => udp(tunnels, payload, port, true),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The inner addresses behind the first fragment of a tunnel datagram that was
/// fragmented: its headers are all there, but its length fields point past the cut.
/// The worker of the reassembled datagram is chosen by them.
pub fn first_fragment_inner(
    tunnels: &Tunnels,
    protocol: u8,
    payload: &[u8],
) -> Option<(IpAddr, IpAddr)> {
    let inner = match protocol {
        IPPROTO_IPIP | IPPROTO_IPV6 => Some(payload),
        IPPROTO_GRE => gre(payload).ok()?.inner,
        IPPROTO_UDP => {
            udp(tunnels, payload, tunnel_port(tunnels, payload)?, false)
                .ok()??
                .inner
        }
        _ => None,
    }?;
    let v4 = |at: usize| -> Option<IpAddr> {
        Some(IpAddr::from(
            <[u8; 4]>::try_from(inner.get(at..at + 4)?).ok()?,
        ))
    };
    let v6 = |at: usize| -> Option<IpAddr> {
        Some(IpAddr::from(
            <[u8; 16]>::try_from(inner.get(at..at + 16)?).ok()?,
        ))
    };
    match inner.first()? >> 4 {
        4 => Some((v4(12)?, v4(16)?)),
        6 => Some((v6(8)?, v6(24)?)),
        _ => None,
    }
}

/// The innermost IP header a frame's tunnels lead to, as far as it is reachable
/// without reassembly. It decides a flow's worker, so the packets of an inner flow
/// meet on one worker whichever tunnel endpoints carried them (a 6in4 relay one way,
/// native IPv6 the other; GTP-U with separate uplink and downlink endpoints).
pub fn innermost<'a>(tunnels: &Tunnels, mut ip: IpPacket<'a>) -> IpPacket<'a> {
    for _ in 0..tunnels.max_depth() {
        if ip.fragment.is_some() {
            break;
        }
        let Ok(Some(Decapsulated {
            inner: Some(inner), ..
        })) = decapsulate(tunnels, ip.protocol, ip.payload)
        else {
            break;
        };
        match super::decode_ip(inner) {
            Ok(next) => ip = next,
            Err(_) => break,
        }
    }
    ip
}

/// The destination port of a UDP datagram, when it is a tunnel port. Asked before
/// `udp` is called: this runs for every UDP datagram, and most are no tunnel.
fn tunnel_port(tunnels: &Tunnels, datagram: &[u8]) -> Option<u16> {
    be16(datagram, 2).filter(|&port| tunnels.is_udp_port(port))
}

/// The tunnel inside a datagram to tunnel port `dst_port`. `whole`: the datagram is
/// complete (not the first fragment of one), so length fields that point past it are
/// malformed.
fn udp<'a>(
    tunnels: &Tunnels,
    datagram: &'a [u8],
    dst_port: u16,
    whole: bool,
) -> Result<Option<Decapsulated<'a>>, DecodeError> {
    let config = &tunnels.config;
    let vxlan = config.vxlan_ports.contains(&dst_port);
    let geneve = config.geneve_ports.contains(&dst_port);
    let gtpu = config.gtpu_ports.contains(&dst_port);
    if !(vxlan || geneve || gtpu) {
        return Ok(None);
    }
    let (Some(src_port), Some(length)) = (be16(datagram, 0), be16(datagram, 4)) else {
        return Ok(None);
    };
    // The UDP length bounds the payload when it is sane; padding beyond it is dropped.
    let end = usize::from(length).clamp(8, datagram.len().max(8));
    let Some(payload) = datagram.get(8..end) else {
        return Ok(None);
    };
    let peeled = if vxlan {
        vxlan_header(payload)
    } else if geneve {
        geneve_header(payload)
    } else {
        gtpu_header(payload, whole)
    };
    Ok(match peeled {
        Some(Ok((layer, inner))) => Some(Decapsulated {
            layer,
            ports: Some((src_port, dst_port)),
            inner,
        }),
        Some(Err(e)) => return Err(e),
        None => None,
    })
}

/// An Ethernet frame inside a tunnel, followed to its IP payload.
fn ethernet(frame: &[u8], error: DecodeError) -> Result<Option<&[u8]>, DecodeError> {
    link::ethernet_payload(frame).map_err(|e| match e {
        DecodeError::TruncatedLink => error,
        other => other,
    })
}

/// `None`: not this tunnel after all (plain UDP). `Some(Err)`: a malformed layer.
type Peeled<'a> = Option<Result<(Layer, Option<&'a [u8]>), DecodeError>>;

/// RFC 7348: flags (I bit set), 24 reserved bits, VNI, 8 reserved bits; then Ethernet.
fn vxlan_header(data: &[u8]) -> Peeled<'_> {
    const VALID_VNI: u8 = 0x08;
    if data.len() < 8 || data[0] & VALID_VNI == 0 {
        return None;
    }
    let mut layer = Layer::new(Encapsulation::Vxlan);
    layer.vni = be24(data, 4);
    Some(ethernet(&data[8..], DecodeError::MalformedVxlan).map(|inner| (layer, inner)))
}

/// RFC 8926: version 0, option length in 4-byte words, protocol type, VNI; options
/// are skipped.
fn geneve_header(data: &[u8]) -> Peeled<'_> {
    let (first, protocol, vni) = (*data.first()?, be16(data, 2)?, be24(data, 4)?);
    if first >> 6 != 0 {
        return None;
    }
    let header = 8 + usize::from(first & 0x3f) * 4;
    let mut layer = Layer::new(Encapsulation::Geneve);
    layer.vni = Some(vni);
    let Some(inner) = data.get(header..) else {
        return Some(Err(DecodeError::MalformedGeneve));
    };
    Some(
        match protocol {
            ETHERTYPE_TEB => ethernet(inner, DecodeError::MalformedGeneve),
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Some(inner)),
            _ => Ok(None),
        }
        .map(|inner| (layer, inner)),
    )
}

/// GTPv1-U: version 1, protocol type GTP; only G-PDUs (message type 255) carry user
/// IP packets. The optional sequence / N-PDU / extension fields and the extension
/// header chain are skipped.
fn gtpu_header(data: &[u8], whole: bool) -> Peeled<'_> {
    const G_PDU: u8 = 0xff;
    const OPTIONAL_FIELDS: u8 = 0x07;
    /// Extension headers followed at most; real ones carry one or two.
    const MAX_EXTENSIONS: usize = 8;
    let (flags, message, length) = (*data.first()?, *data.get(1)?, be16(data, 2)?);
    if flags >> 5 != 1 || flags & 0x10 == 0 {
        return None;
    }
    let mut layer = Layer::new(Encapsulation::GtpU);
    layer.teid = be32(data, 4);
    let body_end = 8 + usize::from(length);
    let body = match data.get(..body_end) {
        Some(body) => body,
        None if !whole => data,
        None => return Some(Err(DecodeError::MalformedGtp)),
    };
    if message != G_PDU {
        // Echo, error indication, end marker: the tunnel's own signalling.
        return Some(Ok((layer, None)));
    }
    let mut at = 8;
    if flags & OPTIONAL_FIELDS != 0 {
        let Some(&first_next) = body.get(11) else {
            return Some(Err(DecodeError::MalformedGtp));
        };
        at = 12;
        let mut next = first_next;
        let mut followed = 0;
        while next != 0 {
            // Each extension: length in 4-byte units, content, next type.
            let len = usize::from(body.get(at).copied().unwrap_or(0)) * 4;
            followed += 1;
            if len == 0 || followed > MAX_EXTENSIONS {
                return Some(Err(DecodeError::MalformedGtp));
            }
            let Some(&after) = body.get(at + len - 1) else {
                return Some(Err(DecodeError::MalformedGtp));
            };
            next = after;
            at += len;
        }
    }
    let inner = &body[at.min(body.len())..];
    let ip = matches!(inner.first().map(|b| b >> 4), Some(4 | 6));
    Some(Ok((layer, ip.then_some(inner))))
}

/// GRE version 0 (RFC 2784 with RFC 2890's key and sequence) and version 1 (PPTP).
fn gre(data: &[u8]) -> Result<Decapsulated<'_>, DecodeError> {
    const CHECKSUM: u16 = 0x8000;
    const ROUTING: u16 = 0x4000;
    const KEY: u16 = 0x2000;
    const SEQUENCE: u16 = 0x1000;
    const ACK: u16 = 0x0080;
    let (flags, protocol) = match (be16(data, 0), be16(data, 2)) {
        (Some(f), Some(p)) => (f, p),
        _ => return Err(DecodeError::MalformedGre),
    };
    let version = flags & 0x7;
    let mut layer = Layer::new(Encapsulation::Gre);
    let mut at = 4;
    match version {
        0 => {
            // RFC 1701 source routing is long obsolete; nothing sends it.
            if flags & ROUTING != 0 {
                return Err(DecodeError::MalformedGre);
            }
            if flags & CHECKSUM != 0 {
                at += 4;
            }
            if flags & KEY != 0 {
                layer.gre_key = Some(be32(data, at).ok_or(DecodeError::MalformedGre)?);
                at += 4;
            }
        }
        // PPTP: the key field is payload length and call id, always present.
        1 if flags & KEY != 0 && protocol == ETHERTYPE_PPP => at += 4,
        _ => return Err(DecodeError::MalformedGre),
    }
    let sequence = flags & SEQUENCE != 0;
    if sequence {
        at += 4;
    }
    if version == 1 && flags & ACK != 0 {
        at += 4;
    }
    let body = data.get(at..).ok_or(DecodeError::MalformedGre)?;
    let inner = match protocol {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(body),
        ETHERTYPE_TEB => ethernet(body, DecodeError::MalformedGre)?,
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => {
            link::ether_payload(protocol, body).map_err(|_| DecodeError::MalformedGre)?
        }
        // Type I has no header of its own (and no sequence number); type II has one.
        ETHERTYPE_ERSPAN_I_II if !sequence => {
            layer.kind = Encapsulation::Erspan;
            ethernet(body, DecodeError::MalformedErspan)?
        }
        ETHERTYPE_ERSPAN_I_II => {
            layer.kind = Encapsulation::Erspan;
            erspan(body, 1, 8, &mut layer)?
        }
        ETHERTYPE_ERSPAN_III => {
            layer.kind = Encapsulation::Erspan;
            erspan(body, 2, 12, &mut layer)?
        }
        ETHERTYPE_PPP => ppp(body),
        _ => None,
    };
    Ok(Decapsulated {
        layer,
        ports: None,
        inner,
    })
}

/// ERSPAN type II (version 1, 8-byte header) and III (version 2, 12 bytes, an
/// optional 8-byte platform subheader, and a frame type: Ethernet or IP).
fn erspan<'a>(
    data: &'a [u8],
    version: u8,
    header: usize,
    layer: &mut Layer,
) -> Result<Option<&'a [u8]>, DecodeError> {
    const FRAME_TYPE_IP: u8 = 2;
    let malformed = DecodeError::MalformedErspan;
    let first = *data.first().ok_or(malformed)?;
    if first >> 4 != version || data.len() < header {
        return Err(malformed);
    }
    layer.erspan_id = be16(data, 2).map(|s| s & 0x03ff);
    let mut at = header;
    let mut frame_type = 0;
    if version == 2 {
        frame_type = (data[10] >> 2) & 0x1f;
        if data[11] & 0x01 != 0 {
            at += 8;
        }
    }
    let frame = data.get(at..).ok_or(malformed)?;
    match frame_type {
        0 => ethernet(frame, malformed),
        FRAME_TYPE_IP => Ok(Some(frame)),
        _ => Ok(None),
    }
}

/// A PPP frame (RFC 1661), address/control and protocol field possibly compressed.
fn ppp(data: &[u8]) -> Option<&[u8]> {
    let data = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
    let (protocol, rest) = match *data.first()? {
        // Protocol-field compression: an odd first byte is the whole field.
        b if b & 1 == 1 => (u16::from(b), data.get(1..)?),
        _ => (be16(data, 0)?, data.get(2..)?),
    };
    link::ppp_ip(protocol).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPV4_MIN: [u8; 20] = [
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    fn ether_ipv4() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f.extend_from_slice(&IPV4_MIN);
        f
    }

    fn udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut d = 40000u16.to_be_bytes().to_vec();
        d.extend_from_slice(&dst_port.to_be_bytes());
        d.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(payload);
        d
    }

    fn peel(protocol: u8, data: &[u8]) -> Result<Option<Decapsulated<'_>>, DecodeError> {
        decapsulate(&Tunnels::default(), protocol, data)
    }

    #[test]
    fn gre_with_key_and_sequence_carries_ip() {
        let mut gre = vec![0xb0, 0x00, 0x08, 0x00]; // C K S
        gre.extend_from_slice(&[0; 4]); // checksum + reserved
        gre.extend_from_slice(&7u32.to_be_bytes());
        gre.extend_from_slice(&1u32.to_be_bytes());
        gre.extend_from_slice(&IPV4_MIN);
        let d = peel(IPPROTO_GRE, &gre).unwrap().unwrap();
        assert_eq!(d.layer.gre_key, Some(7));
        assert_eq!(d.inner, Some(&IPV4_MIN[..]));
        // Cut inside the key: malformed, not a panic.
        assert_eq!(
            peel(IPPROTO_GRE, &gre[..10]),
            Err(DecodeError::MalformedGre)
        );
        // Source routing and unknown versions are refused.
        assert_eq!(
            peel(IPPROTO_GRE, &[0x40, 0, 8, 0, 0, 0, 0, 0]),
            Err(DecodeError::MalformedGre)
        );
        assert_eq!(
            peel(IPPROTO_GRE, &[0, 2, 8, 0]),
            Err(DecodeError::MalformedGre)
        );
    }

    #[test]
    fn gre_bridged_ethernet_and_pptp() {
        let mut teb = vec![0, 0, 0x65, 0x58];
        teb.extend_from_slice(&ether_ipv4());
        assert_eq!(
            peel(IPPROTO_GRE, &teb).unwrap().unwrap().inner,
            Some(&IPV4_MIN[..])
        );
        // PPTP: version 1, key (length + call id), sequence, PPP with address/control.
        let mut pptp = vec![0x30, 0x01, 0x88, 0x0b, 0, 24, 0, 1, 0, 0, 0, 1];
        pptp.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
        pptp.extend_from_slice(&IPV4_MIN);
        assert_eq!(
            peel(IPPROTO_GRE, &pptp).unwrap().unwrap().inner,
            Some(&IPV4_MIN[..])
        );
        // Compressed PPP carrying LCP: a tunnel without IP.
        let lcp = [
            0x30, 0x01, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1, 0xc0, 0x21, 1, 1,
        ];
        assert_eq!(peel(IPPROTO_GRE, &lcp).unwrap().unwrap().inner, None);
    }

    #[test]
    fn erspan_types() {
        // Type I: no sequence, no ERSPAN header.
        let mut t1 = vec![0, 0, 0x88, 0xbe];
        t1.extend_from_slice(&ether_ipv4());
        let d = peel(IPPROTO_GRE, &t1).unwrap().unwrap();
        assert_eq!(
            (d.layer.kind, d.inner),
            (Encapsulation::Erspan, Some(&IPV4_MIN[..]))
        );
        // Type II: sequence, 8-byte header with session id 100.
        let mut t2 = vec![
            0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 23, 0, 100, 0, 0, 0, 0,
        ];
        t2.extend_from_slice(&ether_ipv4());
        let d = peel(IPPROTO_GRE, &t2).unwrap().unwrap();
        assert_eq!(
            (d.layer.erspan_id, d.inner),
            (Some(100), Some(&IPV4_MIN[..]))
        );
        // Type III with the optional subheader, then a wrong version.
        let mut t3 = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 1, 0x20, 20, 0, 5];
        t3.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x01]);
        t3.extend_from_slice(&[0; 8]);
        t3.extend_from_slice(&ether_ipv4());
        let d = peel(IPPROTO_GRE, &t3).unwrap().unwrap();
        assert_eq!((d.layer.erspan_id, d.inner), (Some(5), Some(&IPV4_MIN[..])));
        t3[8] = 0x10;
        assert_eq!(peel(IPPROTO_GRE, &t3), Err(DecodeError::MalformedErspan));
    }

    #[test]
    fn vxlan_and_geneve_by_port() {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend_from_slice(&ether_ipv4());
        let datagram = udp(4789, &vx);
        let d = peel(IPPROTO_UDP, &datagram).unwrap().unwrap();
        assert_eq!((d.layer.vni, d.inner), (Some(1), Some(&IPV4_MIN[..])));
        assert_eq!(d.ports, Some((40000, 4789)));
        // Without the I flag it is no VXLAN: ordinary UDP on that port.
        vx[0] = 0;
        assert_eq!(peel(IPPROTO_UDP, &udp(4789, &vx)), Ok(None));
        // Another port is ordinary UDP, unless configured.
        vx[0] = 0x08;
        assert_eq!(peel(IPPROTO_UDP, &udp(8472, &vx)), Ok(None));
        let config = TunnelConfig {
            vxlan_ports: vec![8472],
            ..TunnelConfig::default()
        };
        assert!(
            decapsulate(&Tunnels::new(&config), IPPROTO_UDP, &udp(8472, &vx))
                .unwrap()
                .is_some()
        );
        // GENEVE with one 8-byte option, carrying IPv4 directly.
        let mut gen = vec![0x02, 0, 0x08, 0x00, 0, 0, 9, 0];
        gen.extend_from_slice(&[0; 8]);
        gen.extend_from_slice(&IPV4_MIN);
        let datagram = udp(6081, &gen);
        let d = peel(IPPROTO_UDP, &datagram).unwrap().unwrap();
        assert_eq!((d.layer.vni, d.inner), (Some(9), Some(&IPV4_MIN[..])));
        // Options longer than the packet.
        gen[0] = 0x3f;
        assert_eq!(
            peel(IPPROTO_UDP, &udp(6081, &gen[..20])),
            Err(DecodeError::MalformedGeneve)
        );
    }

    #[test]
    fn gtpu_gpdu_with_extension_header() {
        // Flags: version 1, PT, E; G-PDU; then seq, N-PDU, next ext 0x85 (PDU session).
        let mut g = vec![
            0x34, 0xff, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0x85, 1, 0x10, 0x05, 0,
        ];
        g.extend_from_slice(&IPV4_MIN);
        let len = (g.len() - 8) as u16;
        g[2..4].copy_from_slice(&len.to_be_bytes());
        let datagram = udp(2152, &g);
        let d = peel(IPPROTO_UDP, &datagram).unwrap().unwrap();
        assert_eq!((d.layer.teid, d.inner), (Some(42), Some(&IPV4_MIN[..])));
        // A zero-length extension header never ends the chain: malformed.
        g[12] = 0;
        assert_eq!(
            peel(IPPROTO_UDP, &udp(2152, &g)),
            Err(DecodeError::MalformedGtp)
        );
        // Echo request: GTP, but no user packet.
        let echo = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(
            peel(IPPROTO_UDP, &udp(2152, &echo)).unwrap().unwrap().inner,
            None
        );
        // Length beyond the datagram.
        let cut = [0x30, 0xff, 0, 200, 0, 0, 0, 1];
        assert_eq!(
            peel(IPPROTO_UDP, &udp(2152, &cut)),
            Err(DecodeError::MalformedGtp)
        );
    }

    #[test]
    fn first_fragment_names_the_inner_addresses() {
        // A G-PDU whose length runs past the cut: malformed when whole, but the first
        // fragment of a datagram still names its inner flow.
        let mut g = vec![0x30, 0xff, 0x05, 0xdc, 0, 0, 0, 1];
        g.extend_from_slice(&IPV4_MIN);
        let datagram = udp(2152, &g);
        assert_eq!(peel(IPPROTO_UDP, &datagram), Err(DecodeError::MalformedGtp));
        let inner = first_fragment_inner(&Tunnels::default(), IPPROTO_UDP, &datagram);
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        assert_eq!(inner, Some((a, b)));
        // Plain UDP is no tunnel.
        assert_eq!(
            first_fragment_inner(&Tunnels::default(), IPPROTO_UDP, &udp(53, &g)),
            None
        );
    }

    #[test]
    fn ip_in_ip_and_nesting_record() {
        let d = peel(IPPROTO_IPIP, &IPV4_MIN).unwrap().unwrap();
        assert_eq!(d.inner, Some(&IPV4_MIN[..]));
        assert_eq!(peel(6, &IPV4_MIN), Ok(None));
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let mut vxlan = Layer::new(Encapsulation::Vxlan);
        vxlan.vni = Some(77);
        let t = Tunnel::new(a, b, IPPROTO_GRE, None, Layer::new(Encapsulation::Gre)).nest(vxlan);
        assert_eq!(
            (t.depth, t.proto, t.vni, t.segment()),
            (2, "GRE", Some(77), 77)
        );
        // A GRE key does not separate flows; a VNI does.
        let mut keyed = Layer::new(Encapsulation::Gre);
        keyed.gre_key = Some(5);
        assert_eq!(Tunnel::new(a, b, IPPROTO_GRE, None, keyed).segment(), 0);
    }
}
