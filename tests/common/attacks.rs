//! Captures built to attack the sensor (DESIGN §8, §9; issue "Hostile traffic"): each
//! function writes one attack, at the scale asked, as an Ethernet pcap. Shared by
//! `tests/hostile.rs` (small scale, asserting behaviour) and `examples/hostile.rs`
//! (large scale, for `bench/hostile.sh`), so the measured attack is the tested one.

#![allow(dead_code)]

use std::io::{self, Write};

pub use cleartrace::build::frame::{ipv4, ipv6, tcp, udp, Pcap};

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const CLIENT6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SERVER6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const TCP: u8 = 6;
const UDP: u8 = 17;
const SYN: u8 = 0x02;
const PSH_ACK: u8 = 0x18;

/// A client address per flow number, so floods spread over address pairs (workers).
fn client(n: u32) -> [u8; 4] {
    [10, 1 + (n >> 16) as u8, (n >> 8) as u8, n as u8]
}

/// One TCP request from a client to `dport`: SYN, then `payload` in `segment`-byte
/// segments.
fn tcp_request<W: Write>(
    pcap: &mut Pcap<W>,
    from: ([u8; 4], u16),
    dport: u16,
    payload: &[u8],
    segment: usize,
) -> io::Result<()> {
    let (src, sport) = from;
    let syn = tcp(sport, dport, 0, SYN, b"");
    pcap.frame(&ipv4(src, SERVER, TCP, 0, 0x4000, &syn))?;
    for (i, chunk) in payload.chunks(segment.max(1)).enumerate() {
        let seq = 1 + (i * segment) as u32;
        let l4 = tcp(sport, dport, seq, PSH_ACK, chunk);
        pcap.frame(&ipv4(src, SERVER, TCP, 0, 0x4000, &l4))?;
    }
    Ok(())
}

const BASIC: &[u8] = b"Authorization: Basic YWxpY2U6czNjcjN0LXBhc3M=\r\n"; // alice:s3cr3t-pass

/// The last fragment of a UDP datagram first, then `duplicates` copies of its first
/// fragment: the middle never comes. Quadratic reassembly stalls on this.
pub fn fragment_duplicates<W: Write>(pcap: &mut Pcap<W>, duplicates: u32) -> io::Result<()> {
    let first = udp(5060, 5060, &[b'A'; 1472]);
    let last = [b'B'; 64];
    // Offsets in 8-byte units with MF (0x2000): [0, 1480) then [2960, 3024).
    pcap.frame(&ipv4(CLIENT, SERVER, UDP, 7, 370, &last))?;
    for _ in 0..duplicates {
        pcap.frame(&ipv4(CLIENT, SERVER, UDP, 7, 0x2000, &first))?;
    }
    Ok(())
}

/// `datagrams` incomplete datagrams, IPv4 and IPv6 in turn, each one 1,480-byte first
/// fragment.
pub fn fragment_flood<W: Write>(pcap: &mut Pcap<W>, datagrams: u32) -> io::Result<()> {
    let piece = udp(5060, 5060, &[b'F'; 1472]);
    for n in 0..datagrams {
        if n % 2 == 0 {
            pcap.frame(&ipv4(client(n), SERVER, UDP, n as u16, 0x2000, &piece))?;
        } else {
            let mut src = CLIENT6;
            src[12..16].copy_from_slice(&n.to_be_bytes());
            pcap.frame(&ipv6(src, SERVER6, UDP, Some((n, 0, true)), &piece))?;
        }
    }
    Ok(())
}

/// `flows` TCP connections whose first data segment is lost: every later byte
/// (`bytes_per_flow`, in 1,460-byte segments) waits behind the hole.
pub fn gap_flows<W: Write>(
    pcap: &mut Pcap<W>,
    flows: u32,
    bytes_per_flow: usize,
) -> io::Result<()> {
    // Binary, as the bulk of what a mirror carries: the attack is on memory, not on
    // the personal-data scanner.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let segment: Vec<u8> = (0..1460)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    for n in 0..flows {
        let (src, sport) = (client(n), 20_000 + (n % 40_000) as u16);
        pcap.frame(&ipv4(
            src,
            SERVER,
            TCP,
            0,
            0x4000,
            &tcp(sport, 80, 0, SYN, b""),
        ))?;
        let mut seq = 1 + 1460;
        for _ in 0..bytes_per_flow.div_ceil(1460) {
            pcap.frame(&ipv4(
                src,
                SERVER,
                TCP,
                0,
                0x4000,
                &tcp(sport, 80, seq, PSH_ACK, &segment),
            ))?;
            seq += 1460;
        }
    }
    Ok(())
}

/// `flows` HTTP requests whose header block never ends (`head_bytes` of headers each).
pub fn open_http_heads<W: Write>(
    pcap: &mut Pcap<W>,
    flows: u32,
    head_bytes: usize,
) -> io::Result<()> {
    let mut head = b"GET /index.html HTTP/1.1\r\nHost: pbx.example.test\r\n".to_vec();
    while head.len() < head_bytes {
        head.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    for n in 0..flows {
        tcp_request(
            pcap,
            (client(n), 30_000 + (n % 30_000) as u16),
            80,
            &head,
            1460,
        )?;
    }
    Ok(())
}

/// `flows` database sessions, alternately PostgreSQL (a StartupMessage) and MySQL (a
/// server greeting), each then sending the first `held_bytes` of a message whose header
/// promises a little more: every flow holds its partial message until the end.
pub fn open_database_messages<W: Write>(
    pcap: &mut Pcap<W>,
    flows: u32,
    held_bytes: usize,
) -> io::Result<()> {
    let body = vec![b'a'; held_bytes];
    for n in 0..flows {
        let src = client(n);
        let sport = 30_000 + (n % 30_000) as u16;
        let mut payload = Vec::new();
        if n % 2 == 0 {
            let startup = b"\0\0\0\x1e\0\x03\0\0user\0jane\0database\0x\0\0";
            payload.extend_from_slice(startup);
            payload.push(b'Q');
            payload.extend_from_slice(&(held_bytes as u32 + 8).to_be_bytes());
            payload.extend_from_slice(&body);
            tcp_request(pcap, (src, sport), 5432, &payload, 1460)?;
        } else {
            let syn = tcp(sport, 3306, 0, SYN, b"");
            pcap.frame(&ipv4(src, SERVER, TCP, 0, 0x4000, &syn))?;
            let mut greeting = b"\x0a10.11.19-MariaDB\0\x01\0\0\0abcdefgh\0\x00\xf7".to_vec();
            greeting.extend_from_slice(&[8, 2, 0, 0xff, 0x81, 21]);
            greeting.extend_from_slice(&[0; 10]);
            greeting.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
            let mut packet = (greeting.len() as u32).to_le_bytes()[..3].to_vec();
            packet.push(0);
            packet.extend_from_slice(&greeting);
            let l4 = tcp(3306, sport, 1, PSH_ACK, &packet);
            pcap.frame(&ipv4(SERVER, src, TCP, 0, 0x4000, &l4))?;
            let mut command = ((held_bytes + 8) as u32).to_le_bytes()[..3].to_vec();
            command.extend_from_slice(&[1, 0x8c, 0xa2, 0, 0]);
            command.extend_from_slice(&body);
            for (i, chunk) in command.chunks(1460).enumerate() {
                let l4 = tcp(sport, 3306, 1 + (i * 1460) as u32, PSH_ACK, chunk);
                pcap.frame(&ipv4(src, SERVER, TCP, 0, 0x4000, &l4))?;
            }
        }
    }
    Ok(())
}

/// A request with `Authorization: Basic` among `others` other short headers.
pub fn many_headers<W: Write>(pcap: &mut Pcap<W>, others: u32) -> io::Result<()> {
    let mut head = b"GET / HTTP/1.1\r\nHost: pbx.example.test\r\n".to_vec();
    head.extend_from_slice(BASIC);
    for n in 0..others {
        head.extend_from_slice(format!("X-{n}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    tcp_request(pcap, (CLIENT, 40_000), 80, &head, 1460)
}

/// A request whose `Authorization: Basic` comes first in a header block of
/// `head_bytes`, past any cap on a head held whole.
pub fn huge_head<W: Write>(pcap: &mut Pcap<W>, head_bytes: usize) -> io::Result<()> {
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    head.extend_from_slice(BASIC);
    while head.len() < head_bytes {
        head.extend_from_slice(b"X-Padding: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n");
    }
    head.extend_from_slice(b"\r\n");
    tcp_request(pcap, (CLIENT, 40_001), 80, &head, 1460)
}

/// A request whose one header of `header_bytes` arrives a byte per segment, with the
/// credentials after it.
pub fn slow_header<W: Write>(pcap: &mut Pcap<W>, header_bytes: usize) -> io::Result<()> {
    let mut head = b"GET / HTTP/1.1\r\nX-Slow: ".to_vec();
    head.resize(head.len() + header_bytes, b's');
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(BASIC);
    head.extend_from_slice(b"\r\n");
    tcp_request(pcap, (CLIENT, 40_002), 80, &head, 1)
}

/// A SIP MESSAGE over TCP whose head (`header_bytes` of padding after the identities)
/// and body arrive a byte per segment.
pub fn slow_sip<W: Write>(pcap: &mut Pcap<W>, header_bytes: usize) -> io::Result<()> {
    let body = b"Meet Jane Doe at reception, call +441632960555";
    let mut message = format!(
        "MESSAGE sip:+441632960123@pbx.example.test SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-slow\r\n\
From: \"Jane Doe\" <sip:+441632960555@pbx.example.test>;tag=slow\r\n\
To: <sip:+441632960123@pbx.example.test>\r\nCall-ID: slow@10.0.0.1\r\n\
CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Slow: ",
        body.len()
    )
    .into_bytes();
    message.resize(message.len() + header_bytes, b's');
    message.extend_from_slice(b"\r\n\r\n");
    message.extend_from_slice(body);
    tcp_request(pcap, (CLIENT, 40_003), 5060, &message, 1)
}

/// A SIP INVITE over UDP/IPv6 in three fragments: the identities in it must be judged
/// as if it came whole.
pub fn ipv6_fragmented_invite<W: Write>(pcap: &mut Pcap<W>) -> io::Result<()> {
    let mut invite = b"INVITE sip:+441632960123@pbx.example.test SIP/2.0\r\n\
Via: SIP/2.0/UDP [fd00::1]:5060;branch=z9hG4bK776asdhds\r\n\
From: \"Jane Doe\" <sip:+441632960555@pbx.example.test>;tag=1928301774\r\n\
To: <sip:+441632960123@pbx.example.test>\r\n\
Call-ID: a84b4c76e66710@fd00::1\r\nCSeq: 314159 INVITE\r\n\
Contact: <sip:+441632960555@[fd00::1]:5060>\r\nContent-Length: 0\r\n"
        .to_vec();
    while invite.len() < 2400 {
        invite.extend_from_slice(b"X-Filler: ffffffffffffffffffffffffffffffffffffffffffff\r\n");
    }
    invite.extend_from_slice(b"\r\n");
    let datagram = udp(5060, 5060, &invite);
    let pieces: Vec<&[u8]> = datagram.chunks(1232).collect();
    let last = pieces.len() - 1;
    for (i, piece) in pieces.iter().enumerate() {
        let fragment = Some((0xc0ffee, i * 1232, i < last));
        pcap.frame(&ipv6(CLIENT6, SERVER6, UDP, fragment, piece))?;
    }
    Ok(())
}

/// A request with Basic credentials: one 6001 alert wherever it is seen.
fn basic_request() -> Vec<u8> {
    let mut request = b"GET /phonebook HTTP/1.1\r\nHost: pbx.example.test\r\n".to_vec();
    request.extend_from_slice(BASIC);
    request.extend_from_slice(b"\r\n");
    request
}

/// `churn` SYNs, each from a new client numbered from `first`: new flows that push the
/// oldest out of a small flow table.
fn push_out<W: Write>(pcap: &mut Pcap<W>, first: u32, churn: u32) -> io::Result<()> {
    for n in 0..churn {
        pcap.frame(&ipv4(
            client(first + n),
            SERVER,
            TCP,
            0,
            0x4000,
            &tcp(50_000, 80, 0, SYN, b""),
        ))?;
    }
    Ok(())
}

/// A keep-alive connection sending a Basic-auth request every round, and between
/// rounds `churn` other connections that push it out of a small flow table.
pub fn eviction_churn<W: Write>(pcap: &mut Pcap<W>, rounds: u32, churn: u32) -> io::Result<()> {
    let request = basic_request();
    let (sport, mut seq) = (45_000, 1u32);
    pcap.frame(&ipv4(
        CLIENT,
        SERVER,
        TCP,
        0,
        0x4000,
        &tcp(sport, 80, 0, SYN, b""),
    ))?;
    for round in 0..rounds {
        pcap.frame(&ipv4(
            CLIENT,
            SERVER,
            TCP,
            0,
            0x4000,
            &tcp(sport, 80, seq, PSH_ACK, &request),
        ))?;
        seq += request.len() as u32;
        push_out(pcap, 1000 + round * churn, churn)?;
    }
    Ok(())
}

/// `frame` (an Ethernet frame) carried in VXLAN network `vni` between two VTEPs.
fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(frame);
    ipv4(
        [192, 0, 2, 1],
        [192, 0, 2, 2],
        UDP,
        0,
        0x4000,
        &udp(40_000, 4789, &payload),
    )
}

/// The same Basic-auth request, from the same inner addresses, in each VXLAN network of
/// `vnis` in turn, each pushed out of the flow table by `churn` new flows before the
/// next tenant's: tenants that reuse addresses are different flows, and one tenant's
/// evicted alert must not hide another's.
pub fn eviction_churn_in_tenants<W: Write>(
    pcap: &mut Pcap<W>,
    vnis: &[u32],
    churn: u32,
) -> io::Result<()> {
    let request = basic_request();
    for (round, vni) in vnis.iter().enumerate() {
        let packet = |seq, flags, payload: &[u8]| {
            vxlan(
                *vni,
                &ipv4(
                    CLIENT,
                    SERVER,
                    TCP,
                    0,
                    0x4000,
                    &tcp(45_000, 80, seq, flags, payload),
                ),
            )
        };
        pcap.frame(&packet(0, SYN, b""))?;
        pcap.frame(&packet(1, PSH_ACK, &request))?;
        push_out(pcap, 1000 + round as u32 * churn, churn)?;
    }
    Ok(())
}

/// A TDS session (PRELOGIN with ENCRYPT_NOT_SUP) whose SQL batch never ends: `packets`
/// 4 KiB packets without the end-of-message bit, a card number in the first. A
/// dissector that waits for the whole message holds it all.
pub fn tds_endless_batch<W: Write>(pcap: &mut Pcap<W>, packets: u32) -> io::Result<()> {
    let tds = |packet_type: u8, status: u8, payload: &[u8]| {
        let mut p = vec![packet_type, status];
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0, 1, 0]);
        p.extend_from_slice(payload);
        p
    };
    let prelogin = [
        0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xFF, 16, 0, 7, 0xD0, 0, 0, 2,
    ];
    let mut stream = tds(0x12, 1, &prelogin);
    let text: Vec<u8> = "SELECT 1 -- card 4111 1111 1111 1111"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut first = vec![0u8; 4088];
    first[..text.len()].copy_from_slice(&text);
    stream.extend(tds(0x01, 0, &first));
    for _ in 1..packets {
        stream.extend(tds(0x01, 0, &[b' '; 4088]));
    }
    tcp_request(pcap, (CLIENT, 40_004), 1433, &stream, 1460)
}

/// An SMB2 client that opens `creates` recordings (`rec-N.wav`) and never closes them
/// (no response comes either), then writes 8 MiB in one WRITE: a dissector that keeps
/// every pending CREATE, or holds a WRITE's data, grows with the attacker.
pub fn smb_unclosed_creates<W: Write>(pcap: &mut Pcap<W>, creates: u32) -> io::Result<()> {
    let header = |command: u16, message_id: u64| {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\xfeSMB");
        h[4..6].copy_from_slice(&64u16.to_le_bytes());
        h[12..14].copy_from_slice(&command.to_le_bytes());
        h[24..32].copy_from_slice(&message_id.to_le_bytes());
        h
    };
    let framed = |message: Vec<u8>| {
        let len = (message.len() as u32).to_be_bytes();
        let mut out = vec![0, len[1], len[2], len[3]];
        out.extend(message);
        out
    };
    let mut stream = Vec::new();
    for i in 0..creates {
        let name: Vec<u8> = format!("rec-{i}.wav")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        // CREATE (5): NameOffset 120 and NameLength at body bytes 44..48 ([MS-SMB2] 2.2.13).
        let mut m = header(5, u64::from(i));
        let mut body = vec![0u8; 56];
        body[..2].copy_from_slice(&57u16.to_le_bytes());
        body[44..46].copy_from_slice(&120u16.to_le_bytes());
        body[46..48].copy_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend(body);
        m.extend(name);
        stream.extend(framed(m));
    }
    // WRITE (9) of 8 MiB to a FileId nobody opened.
    let data_len = 8u32 << 20;
    let mut m = header(9, u64::from(creates));
    let mut body = vec![0u8; 48];
    body[..2].copy_from_slice(&49u16.to_le_bytes());
    body[4..8].copy_from_slice(&data_len.to_le_bytes());
    m.extend(body);
    m.resize(m.len() + data_len as usize, 0x55);
    stream.extend(framed(m));
    tcp_request(pcap, (CLIENT, 40_005), 445, &stream, 1460)
}
