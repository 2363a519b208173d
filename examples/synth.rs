//! Deterministic synthetic telephony capture generator: benchmark input for cleartrace.
//!
//! Writes a classic pcap (LINKTYPE_ETHERNET, microsecond timestamps from 2026-01-05
//! 09:00:00 UTC, snaplen 65535) that looks like the mirror port of a voice VLAN: many
//! concurrent SIP/UDP calls between phones (10.20.0.0/16, fd00:20::/64) and a PBX, their
//! G.711 RTP media (the dominant share of packets) exactly at the addresses and ports the
//! SDP announced, ~15 % SRTP calls (RTP/SAVP with an `a=crypto` key in the clear SIP),
//! ~10 % calls with RFC 4733 DTMF, TLS 1.0/1.2/1.3 sessions to 443/5061, LDAP binds and
//! directory searches, SNMP v2c polls, HTTP provisioning with Basic credentials and PBX
//! syslog, ~20 % over IPv6 and ~30 % with an 802.1Q tag. All identities are synthetic
//! (example.test, +49 30 555 numbers).
//!
//! `--flood N` writes N TCP SYNs instead, each opening a new flow (memory test).
//!
//! The same seed and options give a byte-identical file: a private splitmix64 stream, a
//! time-ordered event queue with a sequence tie-break, no clock and no hash maps.
//!
//! It lives outside the sensor on purpose: it produces bench input (see bench/README.md)
//! and is not on the sensor's hot path, so it uses only the crate's existing
//! dependencies and none of the sensor's code.
//!
//! ```text
//! cargo run --release --example synth -- --size 1G --seed 1 -o /work/bench-data/synth-1g.pcap
//! cargo run --release --example synth -- --flood 1000000 -o /work/bench-data/flood-1m.pcap
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::Parser;
use cleartrace::build::{ber, tls, u16s, with_len};

/// 2026-01-05 09:00:00 UTC (a Monday).
const EPOCH: u64 = 1_767_603_600;
const DOMAIN: &str = "pbx.example.test";
const PHONES: u64 = 4000;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
/// Bytes of the pcap record header kept in front of every frame.
const REC: usize = 16;
const MS: u64 = 1_000;
const SEC: u64 = 1_000_000;

#[derive(Parser, Debug)]
#[command(about = "Deterministic synthetic telephony pcap (bench input for cleartrace)")]
struct Args {
    /// Output pcap file.
    #[arg(short, long)]
    output: PathBuf,
    /// Target size: bytes, or with a K/M/G/T suffix (binary: 1G = 2^30 bytes; 2.5G is
    /// fine). Stops at the first packet boundary at or past it.
    #[arg(long, default_value = "100M", value_parser = parse_size)]
    size: u64,
    /// PRNG seed; same seed and options give a byte-identical file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Instead of the mix: N TCP SYNs, each opening a distinct new flow, 1 µs apart.
    #[arg(long)]
    flood: Option<u64>,
    /// Share of sessions over IPv6.
    #[arg(long, default_value_t = 0.2, value_parser = parse_share)]
    ipv6_share: f64,
    /// Share of sessions whose frames carry an 802.1Q tag (VLAN 20 voice, 10 data).
    #[arg(long, default_value_t = 0.3, value_parser = parse_share)]
    vlan_share: f64,
    /// New calls per second of capture time (about 45 s each on average).
    #[arg(long, default_value_t = 4.0)]
    calls_per_sec: f64,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&t[..t.len() - 1], 1 << 30),
        Some(b't' | b'T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|e| format!("bad size {s:?}: {e}"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("bad size {s:?}"));
    }
    Ok((v * mult as f64).round() as u64)
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("bad share {s:?}: {e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("share {s} not within 0..1"))
    }
}

// ---------------------------------------------------------------------------------
// Randomness

/// splitmix64: small, fast, and the same on every platform.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Exponential with this mean.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        let mut left = n;
        while left > 0 {
            let w = self.next().to_le_bytes();
            let k = left.min(8);
            out.extend_from_slice(&w[..k]);
            left -= k;
        }
    }
}

fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------
// Identities and addresses

const FIRST: &[&str] = &[
    "Anna", "Bernd", "Clara", "David", "Elena", "Felix", "Greta", "Hannes", "Ines", "Jonas",
    "Katrin", "Lukas", "Marie", "Nils", "Olga", "Paul", "Rita", "Stefan", "Tanja", "Uwe", "Vera",
    "Wolfgang", "Yvonne", "Zoran", "Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace",
    "Heidi", "Ivan", "Judy", "Oscar", "Peggy", "Rupert", "Sybil", "Trent", "Wendy",
];
const LAST: &[&str] = &[
    "Schmidt",
    "Meyer",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Hartmann",
    "Lange",
    "Krause",
    "Lehmann",
    "Walter",
    "Miller",
    "Smith",
    "Jones",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Novak",
    "Horvat",
    "Kowalski",
    "Nowak",
    "Jensen",
    "Hansen",
    "Rossi",
    "Russo",
    "Garcia",
    "Martin",
];
const PHONE_UAS: &[&str] = &[
    "ExamplePhone T46/1.2.3",
    "ExamplePhone T54/2.0.1",
    "ExampleSoft 4.1.7 (Linux)",
    "ExampleDECT W70/3.3.0",
];
const PBX_UA: &str = "ExamplePBX 7.2.1";

/// A synthetic person: directory entry and E.164 number +49 30 555 NNNN.
#[derive(Clone, Copy)]
struct Person {
    first: &'static str,
    last: &'static str,
    /// 4930555NNNN
    num: u64,
}

impl Person {
    /// Person `idx` (0..10000) of this seed: phones are 0..4000, outside callers 5000...
    fn new(seed: u64, idx: u64) -> Person {
        let h = mix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ idx);
        Person {
            first: FIRST[(h % FIRST.len() as u64) as usize],
            last: LAST[((h >> 20) % LAST.len() as u64) as usize],
            num: 49_305_550_000 + idx % 10_000,
        }
    }
    fn mail(&self) -> String {
        format!(
            "{}.{}@example.test",
            self.first.to_ascii_lowercase(),
            self.last.to_ascii_lowercase()
        )
    }
    fn uid(&self) -> String {
        format!(
            "{}.{}{}",
            self.first.to_ascii_lowercase(),
            self.last.to_ascii_lowercase(),
            self.num % 10_000
        )
    }
}

/// One L2/L3 address in a flow: the IPv4 address sits in the first 4 bytes.
#[derive(Clone, Copy, Default)]
struct Host {
    ip: [u8; 16],
    mac: [u8; 6],
}

/// A machine with both an IPv4 (10.NET.x.y) and an IPv6 (fd00:NET::x) address.
#[derive(Clone, Copy)]
struct Node {
    net: u8,
    idx: u16,
}

impl Node {
    fn host(self, v6: bool) -> Host {
        let [hi, lo] = self.idx.to_be_bytes();
        let mut ip = [0u8; 16];
        if v6 {
            // fd00:NET::IDX with NET written in decimal digits, as people do.
            let net_hex = (self.net / 10) * 16 + self.net % 10;
            ip[0] = 0xfd;
            ip[3] = net_hex;
            ip[14] = hi;
            ip[15] = lo;
        } else {
            ip[..4].copy_from_slice(&[10, self.net, hi, lo]);
        }
        Host {
            ip,
            mac: [0x02, 0x00, 0x0a, self.net, hi, lo],
        }
    }
}

fn phone(idx: u64) -> Node {
    Node {
        net: 20,
        idx: (idx + 10) as u16,
    }
}
const fn srv(idx: u16) -> Node {
    Node { net: 10, idx }
}
const PBX_SIG: [Node; 2] = [srv(10), srv(11)];
const PBX_MEDIA: [Node; 4] = [srv(20), srv(21), srv(22), srv(23)];
const SBC: Node = srv(5);
const PROV: Node = srv(30);
const PORTAL: Node = srv(31);
const LEGACY: Node = srv(40);
const LDAP: Node = srv(50);
const NMS: Node = Node { net: 30, idx: 5 };
const SYSLOG: Node = Node { net: 30, idx: 6 };

fn pc(idx: u64) -> Node {
    Node {
        net: 40,
        idx: (idx + 10) as u16,
    }
}

/// Displays an address of a host, v4 or v6, optionally in brackets (SIP host part).
struct Ip<'a>(&'a Host, bool, bool);

impl fmt::Display for Ip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = &self.0.ip;
        if self.1 {
            let a = Ipv6Addr::from(*ip);
            if self.2 {
                write!(f, "[{a}]")
            } else {
                write!(f, "{a}")
            }
        } else {
            write!(f, "{}", Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))
        }
    }
}

/// A bidirectional 5-tuple with its link-layer dressing.
#[derive(Clone, Copy, Default)]
struct Flow {
    v6: bool,
    /// 0: untagged.
    vlan: u16,
    pcp: u8,
    dscp: u8,
    a: Host,
    b: Host,
    ap: u16,
    bp: u16,
}

// ---------------------------------------------------------------------------------
// pcap output

#[derive(Clone, Copy)]
struct Hdr {
    l3: usize,
    l4: usize,
    v6: bool,
    udp: bool,
}

struct Pcap {
    w: BufWriter<File>,
    /// The frame being built, behind room for its record header; reused.
    buf: Vec<u8>,
    bytes: u64,
    packets: u64,
    ipid: u16,
}

impl Pcap {
    fn create(path: &PathBuf) -> Result<Pcap> {
        let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::with_capacity(8 << 20, f);
        let mut hdr = Vec::with_capacity(24);
        hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        hdr.extend_from_slice(&0i32.to_le_bytes());
        hdr.extend_from_slice(&0u32.to_le_bytes());
        hdr.extend_from_slice(&65535u32.to_le_bytes());
        hdr.extend_from_slice(&1u32.to_le_bytes());
        w.write_all(&hdr)?;
        Ok(Pcap {
            w,
            buf: Vec::with_capacity(70_000),
            bytes: 24,
            packets: 0,
            ipid: 1,
        })
    }

    /// Ethernet, optional 802.1Q, IP, and the L4 ports.
    fn begin(&mut self, f: &Flow, from_a: bool, proto: u8) -> Hdr {
        let (src, dst) = if from_a { (&f.a, &f.b) } else { (&f.b, &f.a) };
        let b = &mut self.buf;
        b.clear();
        b.resize(REC, 0);
        b.extend_from_slice(&dst.mac);
        b.extend_from_slice(&src.mac);
        if f.vlan != 0 {
            b.extend_from_slice(&[0x81, 0x00]);
            b.extend_from_slice(&((u16::from(f.pcp) << 13) | f.vlan).to_be_bytes());
        }
        let l3 = b.len() + 2;
        if f.v6 {
            let tc = f.dscp << 2;
            b.extend_from_slice(&[0x86, 0xdd, 0x60 | (tc >> 4), (tc & 0x0f) << 4, 0, 0]);
            b.extend_from_slice(&[0, 0, proto, 64]);
            b.extend_from_slice(&src.ip);
            b.extend_from_slice(&dst.ip);
        } else {
            b.extend_from_slice(&[0x08, 0x00, 0x45, f.dscp << 2, 0, 0, 0, 0]);
            b.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
            b.extend_from_slice(&src.ip[..4]);
            b.extend_from_slice(&dst.ip[..4]);
        }
        let l4 = b.len();
        let (sp, dp) = if from_a { (f.ap, f.bp) } else { (f.bp, f.ap) };
        b.extend_from_slice(&sp.to_be_bytes());
        b.extend_from_slice(&dp.to_be_bytes());
        Hdr {
            l3,
            l4,
            v6: f.v6,
            udp: proto == 17,
        }
    }

    fn udp(&mut self, f: &Flow, from_a: bool) -> Hdr {
        let h = self.begin(f, from_a, 17);
        self.buf.extend_from_slice(&[0; 4]);
        h
    }

    fn tcp(&mut self, f: &Flow, from_a: bool, seq: u32, ack: u32, flags: u8) -> Hdr {
        let h = self.begin(f, from_a, 6);
        let syn = flags & SYN != 0;
        let b = &mut self.buf;
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&ack.to_be_bytes());
        b.push(if syn { 7 << 4 } else { 5 << 4 });
        b.push(flags);
        b.extend_from_slice(&64240u16.to_be_bytes());
        b.extend_from_slice(&[0; 4]);
        if syn {
            let mss: u16 = if f.v6 { 1440 } else { 1460 };
            b.extend_from_slice(&[2, 4]);
            b.extend_from_slice(&mss.to_be_bytes());
            b.extend_from_slice(&[1, 1, 4, 2]);
        }
        h
    }

    /// Lengths, checksums, record header; writes the frame.
    fn finish(&mut self, t: u64, h: Hdr) -> Result<()> {
        let b = &mut self.buf;
        let total = b.len();
        let l4len = total - h.l4;
        let l4len16 = u16::try_from(l4len).context("L4 segment too long")?;
        let mut sum;
        if h.v6 {
            b[h.l3 + 4..h.l3 + 6].copy_from_slice(&l4len16.to_be_bytes());
            sum = csum_add(0, &b[h.l3 + 8..h.l3 + 40]);
        } else {
            let iplen = u16::try_from(total - h.l3).context("IP packet too long")?;
            b[h.l3 + 2..h.l3 + 4].copy_from_slice(&iplen.to_be_bytes());
            b[h.l3 + 4..h.l3 + 6].copy_from_slice(&self.ipid.to_be_bytes());
            self.ipid = self.ipid.wrapping_add(1);
            let c = !fold(csum_add(0, &b[h.l3..h.l3 + 20]));
            b[h.l3 + 10..h.l3 + 12].copy_from_slice(&c.to_be_bytes());
            sum = csum_add(0, &b[h.l3 + 12..h.l3 + 20]);
        }
        sum += if h.udp { 17 } else { 6 };
        sum += l4len as u64;
        let coff = if h.udp {
            b[h.l4 + 4..h.l4 + 6].copy_from_slice(&l4len16.to_be_bytes());
            h.l4 + 6
        } else {
            h.l4 + 16
        };
        sum = csum_add(sum, &b[h.l4..]);
        let mut c = !fold(sum);
        if c == 0 && h.udp {
            c = 0xffff;
        }
        b[coff..coff + 2].copy_from_slice(&c.to_be_bytes());
        let cap = u32::try_from(total - REC)?;
        let secs = u32::try_from(EPOCH + t / SEC).context("timestamp past 2106")?;
        b[0..4].copy_from_slice(&secs.to_le_bytes());
        b[4..8].copy_from_slice(&((t % SEC) as u32).to_le_bytes());
        b[8..12].copy_from_slice(&cap.to_le_bytes());
        b[12..16].copy_from_slice(&cap.to_le_bytes());
        self.w.write_all(b)?;
        self.bytes += total as u64;
        self.packets += 1;
        Ok(())
    }
}

/// One's-complement sum (RFC 1071) of big-endian 32-bit words; `fold` makes it 16 bits.
fn csum_add(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let r = chunks.remainder();
    let mut last = [0u8; 4];
    last[..r.len()].copy_from_slice(r);
    acc + u64::from(u32::from_be_bytes(last))
}

fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

// ---------------------------------------------------------------------------------
// Encoders: G.711 (BER and TLS are cleartrace::build's)

/// ITU-T G.711 A-law (reference algorithm).
fn alaw(pcm: i16) -> u8 {
    const SEG_END: [i32; 8] = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
    let mut v = i32::from(pcm) >> 3;
    let mask = if v >= 0 {
        0xd5
    } else {
        v = -v - 1;
        0x55
    };
    let Some(seg) = SEG_END.iter().position(|&e| v <= e) else {
        return 0x7f ^ mask;
    };
    let q = if seg < 2 { v >> 1 } else { v >> seg };
    ((seg as u8) << 4 | (q & 0x0f) as u8) ^ mask
}

/// ITU-T G.711 µ-law (reference algorithm).
fn ulaw(pcm: i16) -> u8 {
    const SEG_END: [i32; 8] = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
    let mut v = i32::from(pcm) >> 2;
    let mask = if v < 0 {
        v = -v;
        0x7f
    } else {
        0xff
    };
    v = v.min(8159) + (0x84 >> 2);
    let Some(seg) = SEG_END.iter().position(|&e| v <= e) else {
        return 0x7f ^ mask;
    };
    (((seg as u8) << 4) | ((v >> (seg + 1)) & 0x0f) as u8) ^ mask
}

/// Speech-like audio (talk spurts of drifting tones plus noise, and near-silence),
/// G.711-encoded: PCMA at index 0, PCMU at 1. A whole number of 20 ms frames.
fn audio_tables(rng: &mut Rng) -> [Vec<u8>; 2] {
    const LEN: usize = 6400 * 160;
    let mut a = Vec::with_capacity(LEN);
    let mut u = Vec::with_capacity(LEN);
    let (mut p1, mut p2) = (0.0f64, 0.0f64);
    let mut f1 = 180.0;
    let mut amp = 0.0;
    for i in 0..LEN {
        if i % 1600 == 0 {
            // every 200 ms: talk or pause, new pitch
            amp = if rng.chance(0.6) {
                2000.0 + 6000.0 * rng.unit()
            } else {
                30.0
            };
            f1 = 110.0 + 160.0 * rng.unit();
        }
        p1 += 2.0 * std::f64::consts::PI * f1 / 8000.0;
        p2 += 2.0 * std::f64::consts::PI * f1 * 2.7 / 8000.0;
        let noise = (rng.unit() - 0.5) * amp * 0.3;
        let s = amp * (p1.sin() + 0.4 * p2.sin()) * 0.7 + noise;
        let s = s.clamp(-32767.0, 32767.0) as i16;
        a.push(alaw(s));
        u.push(ulaw(s));
    }
    [a, u]
}

// ---------------------------------------------------------------------------------
// Calendar (for Date headers and syslog stamps)

struct Civil {
    y: i64,
    mo: usize,
    d: u64,
    h: u64,
    mi: u64,
    s: u64,
    us: u64,
    wd: usize,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn civil(t: u64) -> Civil {
    let secs = EPOCH + t / SEC;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // H. Hinnant's civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        y: yoe + era * 400 + i64::from(m <= 2),
        mo: (m - 1) as usize,
        d: d as u64,
        h: sod / 3600,
        mi: sod / 60 % 60,
        s: sod % 60,
        us: t % SEC,
        wd: ((days + 4) % 7) as usize,
    }
}

// ---------------------------------------------------------------------------------
// Sessions

/// A scripted exchange (SIP dialog, TLS/LDAP/HTTP connection, SNMP or syslog datagrams):
/// payloads in one buffer, one step per packet, TCP sequence numbers kept as it plays.
#[derive(Default)]
struct Script {
    flow: Flow,
    tcp: bool,
    /// Next sequence number of a and of b.
    seq: [u32; 2],
    data: Vec<u8>,
    steps: Vec<Step>,
    next: usize,
}

#[derive(Clone, Copy)]
struct Step {
    at: u64,
    from_a: bool,
    flags: u8,
    off: u32,
    len: u32,
}

impl Script {
    /// One packet whose payload is `data[from..]`.
    fn push(&mut self, at: u64, from_a: bool, flags: u8, from: usize) {
        self.steps.push(Step {
            at,
            from_a,
            flags,
            off: from as u32,
            len: (self.data.len() - from) as u32,
        });
    }
    fn tcp_open(&mut self, t: &mut u64, rtt: u64) {
        let n = self.data.len();
        self.push(*t, true, SYN, n);
        *t += rtt / 2;
        self.push(*t, false, SYN | ACK, n);
        *t += rtt / 2;
        self.push(*t, true, ACK, n);
    }
    /// `data[from..]` as one message, cut into MSS-sized segments.
    fn tcp_send(&mut self, t: &mut u64, from_a: bool, from: usize) {
        let mss = if self.flow.v6 { 1440 } else { 1460 };
        let end = self.data.len();
        let mut off = from;
        while off < end {
            let n = mss.min(end - off);
            let last = off + n == end;
            self.steps.push(Step {
                at: *t,
                from_a,
                flags: if last { PSH | ACK } else { ACK },
                off: off as u32,
                len: n as u32,
            });
            off += n;
            *t += 12;
        }
    }
    fn tcp_close(&mut self, t: &mut u64, from_a: bool, rtt: u64) {
        let n = self.data.len();
        self.push(*t, from_a, FIN | ACK, n);
        *t += rtt / 2;
        self.push(*t, !from_a, FIN | ACK, n);
        *t += rtt / 2;
        self.push(*t, from_a, ACK, n);
    }
}

/// One direction of a call's media.
#[derive(Default)]
struct Rtp {
    /// a sends to b.
    flow: Flow,
    ssrc: u32,
    seq: u16,
    ts: u32,
    pt: u8,
    srtp: bool,
    first: bool,
    /// Nominal time of the next packet; the packet goes out a little after it (jitter).
    nominal: u64,
    end: u64,
    /// Offset in the audio table.
    audio: usize,
    dtmf: Dtmf,
}

/// RFC 4733 events to send, one digit after the other.
#[derive(Default)]
struct Dtmf {
    digits: [u8; 24],
    n: u8,
    idx: u8,
    start: u64,
    active: bool,
    ev_ts: u32,
    ev_pkts: u8,
    sent: u8,
    end_sent: u8,
}

#[derive(PartialEq, Eq)]
struct Ev {
    t: u64,
    seq: u64,
    what: u32,
}

impl Ord for Ev {
    // BinaryHeap is a max-heap: earliest time, then earliest queued, first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.t, o.seq).cmp(&(self.t, self.seq))
    }
}

impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

struct Queue {
    heap: BinaryHeap<Ev>,
    seq: u64,
}

impl Queue {
    fn push(&mut self, t: u64, what: u32) {
        self.seq += 1;
        self.heap.push(Ev {
            t,
            seq: self.seq,
            what,
        });
    }
}

const TAG_SCRIPT: u32 = 0;
const TAG_RTP: u32 = 1 << 30;
const TAG_ARRIVAL: u32 = 2 << 30;
const TAG_MASK: u32 = 3 << 30;

#[derive(Clone, Copy)]
enum Arrival {
    Call,
    Tls,
    Ldap,
    Snmp,
    Http,
    Syslog,
}
const ARRIVALS: [Arrival; 6] = [
    Arrival::Call,
    Arrival::Tls,
    Arrival::Ldap,
    Arrival::Snmp,
    Arrival::Http,
    Arrival::Syslog,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum TlsV {
    V10,
    V12,
    V13,
}

#[derive(Default)]
struct Stats {
    calls: u64,
    busy: u64,
    srtp: u64,
    dtmf: u64,
    tls: [u64; 3],
    ldap: u64,
    snmp: u64,
    http: u64,
    syslog: u64,
    v6: u64,
    vlan: u64,
}

struct Sim {
    rng: Rng,
    seed: u64,
    v6_share: f64,
    vlan_share: f64,
    calls_per_sec: f64,
    q: Queue,
    out: Pcap,
    scripts: Vec<Script>,
    free_scripts: Vec<u32>,
    rtps: Vec<Rtp>,
    free_rtps: Vec<u32>,
    audio: [Vec<u8>; 2],
    /// Uniform noise for SRTP ciphertext and tags.
    noise: Vec<u8>,
    sdp: Vec<u8>,
    now: u64,
    st: Stats,
}

/// A SIP dialog's fixed parts (UAC = caller side).
struct Dialog {
    v6: bool,
    uac: Host,
    uas: Host,
    caller: Person,
    callee: Person,
    ftag: u32,
    ttag: u32,
    call_id: u64,
    uac_ua: &'static str,
    uas_ua: &'static str,
}

impl Dialog {
    fn ip<'a>(&self, h: &'a Host) -> Ip<'a> {
        Ip(h, self.v6, true)
    }
    fn via(&self, o: &mut Vec<u8>, from_uac: bool, branch: u64, resp: bool) -> Result<()> {
        let h = if from_uac { &self.uac } else { &self.uas };
        let rport = if resp { "rport=5060" } else { "rport" };
        write!(
            o,
            "Via: SIP/2.0/UDP {}:5060;{rport};branch=z9hG4bK{branch:016x}\r\n",
            self.ip(h)
        )?;
        Ok(())
    }
    fn party(o: &mut Vec<u8>, hdr: &str, p: &Person, tag: Option<u32>) -> Result<()> {
        write!(
            o,
            "{hdr}: \"{} {}\" <sip:+{}@{DOMAIN}>",
            p.first, p.last, p.num
        )?;
        if let Some(t) = tag {
            write!(o, ";tag={t:08x}")?;
        }
        o.extend_from_slice(b"\r\n");
        Ok(())
    }
    /// From, To, Call-ID, CSeq of a transaction the UAC (or else the UAS) started.
    fn ids(&self, o: &mut Vec<u8>, uac_side: bool, to_tag: bool, cseq: &str) -> Result<()> {
        if uac_side {
            Self::party(o, "From", &self.caller, Some(self.ftag))?;
            Self::party(o, "To", &self.callee, to_tag.then_some(self.ttag))?;
        } else {
            Self::party(o, "From", &self.callee, Some(self.ttag))?;
            Self::party(o, "To", &self.caller, Some(self.ftag))?;
        }
        write!(
            o,
            "Call-ID: {:016x}@{}\r\nCSeq: {cseq}\r\n",
            self.call_id,
            Ip(&self.uac, self.v6, false)
        )?;
        Ok(())
    }
    fn contact(&self, o: &mut Vec<u8>, uac: bool) -> Result<()> {
        let (p, h) = if uac {
            (&self.caller, &self.uac)
        } else {
            (&self.callee, &self.uas)
        };
        write!(o, "Contact: <sip:+{}@{}:5060>\r\n", p.num, self.ip(h))?;
        Ok(())
    }
    fn end(o: &mut Vec<u8>, body: &[u8]) -> Result<()> {
        if !body.is_empty() {
            o.extend_from_slice(b"Content-Type: application/sdp\r\n");
        }
        write!(o, "Content-Length: {}\r\n\r\n", body.len())?;
        o.extend_from_slice(body);
        Ok(())
    }
}

const ALLOW: &str = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE\r\n\
                     Supported: replaces, timer\r\n";

/// An `a=crypto` key: 30 random bytes, 40 base64 characters.
fn crypto_key(rng: &mut Rng) -> String {
    let mut k = Vec::with_capacity(32);
    rng.fill(&mut k, 30);
    base64::engine::general_purpose::STANDARD.encode(&k)
}

struct SdpSpec<'a> {
    v6: bool,
    host: &'a Host,
    port: u16,
    sess: u64,
    user: &'a str,
    /// None: the offer (8 0 101); Some(pt): an answer with that codec.
    answer: Option<u8>,
    crypto: Option<&'a str>,
}

fn write_sdp(o: &mut Vec<u8>, s: &SdpSpec<'_>) -> Result<()> {
    let fam = if s.v6 { "IP6" } else { "IP4" };
    let ip = Ip(s.host, s.v6, false);
    write!(
        o,
        "v=0\r\no={} {} {} IN {fam} {ip}\r\ns={}\r\nc=IN {fam} {ip}\r\nt=0 0\r\n",
        s.user, s.sess, s.sess, s.user
    )?;
    match (s.crypto, s.answer) {
        (Some(key), pt) => {
            let pt = pt.unwrap_or(8);
            write!(o, "m=audio {} RTP/SAVP {pt} 101\r\n", s.port)?;
            write!(o, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n")?;
            write_rtpmap(o, pt)?;
        }
        (None, None) => {
            write!(o, "m=audio {} RTP/AVP 8 0 101\r\n", s.port)?;
            write_rtpmap(o, 8)?;
            write_rtpmap(o, 0)?;
        }
        (None, Some(pt)) => {
            write!(o, "m=audio {} RTP/AVP {pt} 101\r\n", s.port)?;
            write_rtpmap(o, pt)?;
        }
    }
    o.extend_from_slice(
        b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
    );
    Ok(())
}

fn write_rtpmap(o: &mut Vec<u8>, pt: u8) -> Result<()> {
    let name = if pt == 8 { "PCMA" } else { "PCMU" };
    write!(o, "a=rtpmap:{pt} {name}/8000\r\n")?;
    Ok(())
}

impl Sim {
    fn new(args: &Args, out: Pcap) -> Sim {
        let mut rng = Rng::new(args.seed);
        let audio = audio_tables(&mut rng);
        let mut noise = Vec::with_capacity(1 << 20);
        rng.fill(&mut noise, 1 << 20);
        let mut q = Queue {
            heap: BinaryHeap::new(),
            seq: 0,
        };
        // Every kind starts within the first half second, so small files hold them all.
        for (k, first) in ARRIVALS.iter().zip([20, 100, 250, 150, 350, 50]) {
            q.push(first * MS, TAG_ARRIVAL | *k as u32);
        }
        Sim {
            rng,
            seed: args.seed,
            v6_share: args.ipv6_share,
            vlan_share: args.vlan_share,
            calls_per_sec: args.calls_per_sec,
            q,
            out,
            scripts: Vec::new(),
            free_scripts: Vec::new(),
            rtps: Vec::new(),
            free_rtps: Vec::new(),
            audio,
            noise,
            sdp: Vec::with_capacity(1024),
            now: 0,
            st: Stats::default(),
        }
    }

    fn run(&mut self, target: u64) -> Result<()> {
        while self.out.bytes < target {
            let Some(ev) = self.q.heap.pop() else { break };
            self.now = ev.t;
            let idx = (ev.what & !TAG_MASK) as usize;
            match ev.what & TAG_MASK {
                TAG_SCRIPT => self.script_step(ev.t, idx)?,
                TAG_RTP => self.rtp_tick(ev.t, idx)?,
                _ => self.arrival(ev.t, idx)?,
            }
        }
        Ok(())
    }

    // --- playing sessions ---------------------------------------------------------

    fn script_step(&mut self, t: u64, i: usize) -> Result<()> {
        let s = &mut self.scripts[i];
        let st = s.steps[s.next];
        let payload = &s.data[st.off as usize..(st.off + st.len) as usize];
        if s.tcp {
            let d = usize::from(!st.from_a);
            let seq = s.seq[d];
            let ack = if st.flags & ACK != 0 { s.seq[1 - d] } else { 0 };
            let h = self.out.tcp(&s.flow, st.from_a, seq, ack, st.flags);
            self.out.buf.extend_from_slice(payload);
            self.out.finish(t, h)?;
            let ctl = u32::from(st.flags & (SYN | FIN) != 0);
            s.seq[d] = seq.wrapping_add(st.len).wrapping_add(ctl);
        } else {
            let h = self.out.udp(&s.flow, st.from_a);
            self.out.buf.extend_from_slice(payload);
            self.out.finish(t, h)?;
        }
        s.next += 1;
        if let Some(n) = s.steps.get(s.next) {
            self.q.push(n.at.max(t), TAG_SCRIPT | i as u32);
        } else {
            self.free_scripts.push(i as u32);
        }
        Ok(())
    }

    fn rtp_tick(&mut self, t: u64, i: usize) -> Result<()> {
        let r = &mut self.rtps[i];
        let h = self.out.udp(&r.flow, true);
        let b = &mut self.out.buf;
        let tick_ts = r.ts;
        r.ts = r.ts.wrapping_add(160);
        let mut marker = std::mem::take(&mut r.first);
        let d = &mut r.dtmf;
        if !d.active && d.idx < d.n && r.nominal >= d.start {
            d.active = true;
            d.ev_ts = tick_ts;
            d.sent = 0;
            d.end_sent = 0;
            d.ev_pkts = self.rng.range(5, 9) as u8;
            marker = true;
        }
        if d.active {
            let end = d.sent >= d.ev_pkts;
            if end {
                d.end_sent += 1;
            } else {
                d.sent += 1;
            }
            let dur = u16::from(d.sent) * 160;
            let digit = d.digits[d.idx as usize];
            b.push(0x80);
            b.push(101 | u8::from(marker) << 7);
            b.extend_from_slice(&r.seq.to_be_bytes());
            b.extend_from_slice(&d.ev_ts.to_be_bytes());
            b.extend_from_slice(&r.ssrc.to_be_bytes());
            b.extend_from_slice(&[digit, u8::from(end) << 7 | 10]);
            b.extend_from_slice(&dur.to_be_bytes());
            if d.end_sent == 3 {
                d.active = false;
                d.idx += 1;
                d.start = r.nominal + self.rng.range(80, 250) * MS;
            }
        } else {
            b.push(0x80);
            b.push(r.pt | u8::from(marker) << 7);
            b.extend_from_slice(&r.seq.to_be_bytes());
            b.extend_from_slice(&tick_ts.to_be_bytes());
            b.extend_from_slice(&r.ssrc.to_be_bytes());
            if r.srtp {
                let off = self.rng.below((self.noise.len() - 170) as u64) as usize;
                b.extend_from_slice(&self.noise[off..off + 170]);
            } else {
                let table = &self.audio[usize::from(r.pt == 0)];
                b.extend_from_slice(&table[r.audio..r.audio + 160]);
                r.audio += 160;
                if r.audio + 160 > table.len() {
                    r.audio = 0;
                }
            }
        }
        r.seq = r.seq.wrapping_add(1);
        self.out.finish(t, h)?;
        r.nominal += 20 * MS;
        if r.nominal >= r.end {
            self.free_rtps.push(i as u32);
        } else {
            let jitter = self.rng.below(400);
            self.q.push(r.nominal + jitter, TAG_RTP | i as u32);
        }
        Ok(())
    }

    // --- creating sessions --------------------------------------------------------

    fn arrival(&mut self, t: u64, kind: usize) -> Result<()> {
        let k = ARRIVALS[kind];
        let mean_s = match k {
            Arrival::Call => {
                self.new_call(t)?;
                1.0 / self.calls_per_sec
            }
            Arrival::Tls => {
                self.new_tls(t)?;
                if self.st.tls.iter().sum::<u64>() < 3 {
                    0.2
                } else {
                    2.0
                }
            }
            Arrival::Ldap => {
                self.new_ldap(t)?;
                4.0
            }
            Arrival::Snmp => {
                self.new_snmp_poll(t)?;
                0.0
            }
            Arrival::Http => {
                self.new_http(t)?;
                3.0
            }
            Arrival::Syslog => {
                self.new_syslog(t)?;
                0.8
            }
        };
        let gap = if mean_s == 0.0 {
            5 * SEC + self.rng.below(20 * MS)
        } else {
            (self.rng.exp(mean_s) * SEC as f64) as u64 + 1
        };
        self.q.push(t + gap, TAG_ARRIVAL | kind as u32);
        Ok(())
    }

    fn take_script(&mut self, flow: Flow, tcp: bool) -> (usize, Script) {
        let i = match self.free_scripts.pop() {
            Some(i) => i as usize,
            None => {
                self.scripts.push(Script::default());
                self.scripts.len() - 1
            }
        };
        let mut s = std::mem::take(&mut self.scripts[i]);
        s.flow = flow;
        s.tcp = tcp;
        s.data.clear();
        s.steps.clear();
        s.next = 0;
        s.seq = [self.rng.u32(), self.rng.u32()];
        if flow.v6 {
            self.st.v6 += 1;
        }
        if flow.vlan != 0 {
            self.st.vlan += 1;
        }
        (i, s)
    }

    fn put_script(&mut self, i: usize, s: Script) {
        let first = s.steps.first().map(|st| st.at);
        self.scripts[i] = s;
        match first {
            Some(at) => self.q.push(at, TAG_SCRIPT | i as u32),
            None => self.free_scripts.push(i as u32),
        }
    }

    fn new_rtp(&mut self, flow: Flow, start: u64, end: u64, pt: u8, srtp: bool) -> usize {
        let i = match self.free_rtps.pop() {
            Some(i) => i as usize,
            None => {
                self.rtps.push(Rtp::default());
                self.rtps.len() - 1
            }
        };
        let frames = (self.audio[0].len() / 160 - 1) as u64;
        self.rtps[i] = Rtp {
            flow,
            ssrc: self.rng.u32(),
            seq: self.rng.u32() as u16,
            ts: self.rng.u32(),
            pt,
            srtp,
            first: true,
            nominal: start,
            end,
            audio: self.rng.below(frames) as usize * 160,
            dtmf: Dtmf::default(),
        };
        i
    }

    fn flow_opts(&mut self, voice: bool) -> (bool, u16) {
        let v6 = self.rng.chance(self.v6_share);
        let vlan = if self.rng.chance(self.vlan_share) {
            if voice {
                20
            } else {
                10
            }
        } else {
            0
        };
        (v6, vlan)
    }

    fn ephemeral(&mut self) -> u16 {
        self.rng.range(32768, 60999) as u16
    }

    fn new_call(&mut self, t0: u64) -> Result<()> {
        let no = self.st.calls;
        self.st.calls += 1;
        let u = self.rng.unit();
        let (srtp, dtmf) = match no {
            0 => (false, false),
            1 => (true, false),
            2 => (false, true),
            _ => (u < 0.15, (0.15..0.25).contains(&u)),
        };
        let busy = no > 2 && self.rng.chance(0.04);
        let (v6, vlan) = self.flow_opts(true);
        let pidx = self.rng.below(PHONES);
        let phone_h = phone(pidx).host(v6);
        let pbx_h = self.rng.pick(&PBX_SIG).host(v6);
        let relay_h = self.rng.pick(&PBX_MEDIA).host(v6);
        let owner = Person::new(self.seed, pidx);
        let other_idx = if self.rng.chance(0.5) {
            self.rng.below(PHONES)
        } else {
            5000 + self.rng.below(5000)
        };
        let other = Person::new(self.seed, other_idx);
        let outbound = no == 0 || self.rng.chance(0.6);
        let phone_ua = *self.rng.pick(PHONE_UAS);
        let phone_port = 2 * self.rng.range(8192, 16383) as u16;
        let relay_port = 2 * self.rng.range(5000, 9999) as u16;
        // (signalling host, media host, media port, user agent) of UAC and UAS
        let phone_side = (phone_h, phone_h, phone_port, phone_ua);
        let pbx_side = (pbx_h, relay_h, relay_port, PBX_UA);
        let (uac, uas) = if outbound {
            (phone_side, pbx_side)
        } else {
            (pbx_side, phone_side)
        };
        let (caller, callee) = if outbound {
            (owner, other)
        } else {
            (other, owner)
        };
        let dlg = Dialog {
            v6,
            uac: uac.0,
            uas: uas.0,
            caller,
            callee,
            ftag: self.rng.u32(),
            ttag: self.rng.u32(),
            call_id: self.rng.next(),
            uac_ua: uac.3,
            uas_ua: uas.3,
        };
        let pt = if srtp || self.rng.chance(0.7) { 8 } else { 0 };
        let (key_a, key_b) = if srtp {
            (
                Some(crypto_key(&mut self.rng)),
                Some(crypto_key(&mut self.rng)),
            )
        } else {
            (None, None)
        };
        let sig = Flow {
            v6,
            vlan,
            pcp: 3,
            dscp: 24,
            a: uac.0,
            b: uas.0,
            ap: 5060,
            bp: 5060,
        };
        let (si, mut s) = self.take_script(sig, false);
        let b_inv = self.rng.next();
        let sess = self.rng.range(1_000_000, 9_999_999);

        // INVITE
        let o = &mut s.data;
        let m = o.len();
        self.sdp.clear();
        write_sdp(
            &mut self.sdp,
            &SdpSpec {
                v6,
                host: &uac.1,
                port: uac.2,
                sess,
                user: if outbound { "phone" } else { "pbx" },
                answer: None,
                crypto: key_a.as_deref(),
            },
        )?;
        write!(o, "INVITE sip:+{}@{DOMAIN} SIP/2.0\r\n", callee.num)?;
        dlg.via(o, true, b_inv, false)?;
        o.extend_from_slice(b"Max-Forwards: 70\r\n");
        dlg.ids(o, true, false, "101 INVITE")?;
        dlg.contact(o, true)?;
        write!(o, "{ALLOW}User-Agent: {}\r\n", dlg.uac_ua)?;
        Dialog::end(o, &self.sdp)?;
        let mut t = t0;
        s.push(t, true, 0, m);

        // 100 Trying
        t += self.rng.range(400, 3000);
        let o = &mut s.data;
        let m = o.len();
        o.extend_from_slice(b"SIP/2.0 100 Trying\r\n");
        dlg.via(o, true, b_inv, true)?;
        dlg.ids(o, true, false, "101 INVITE")?;
        write!(o, "Server: {}\r\n", dlg.uas_ua)?;
        Dialog::end(o, &[])?;
        s.push(t, false, 0, m);

        if busy {
            self.st.busy += 1;
            t += self.rng.range(20, 400) * MS;
            let o = &mut s.data;
            let m = o.len();
            o.extend_from_slice(b"SIP/2.0 486 Busy Here\r\n");
            dlg.via(o, true, b_inv, true)?;
            dlg.ids(o, true, true, "101 INVITE")?;
            write!(o, "Server: {}\r\n", dlg.uas_ua)?;
            Dialog::end(o, &[])?;
            s.push(t, false, 0, m);
            t += self.rng.range(1, 5) * MS;
            let o = &mut s.data;
            let m = o.len();
            write!(o, "ACK sip:+{}@{DOMAIN} SIP/2.0\r\n", callee.num)?;
            dlg.via(o, true, b_inv, false)?;
            o.extend_from_slice(b"Max-Forwards: 70\r\n");
            dlg.ids(o, true, true, "101 ACK")?;
            write!(o, "User-Agent: {}\r\n", dlg.uac_ua)?;
            Dialog::end(o, &[])?;
            s.push(t, true, 0, m);
            self.put_script(si, s);
            return Ok(());
        }

        // 180 Ringing
        t += self.rng.range(20, 120) * MS;
        let o = &mut s.data;
        let m = o.len();
        o.extend_from_slice(b"SIP/2.0 180 Ringing\r\n");
        dlg.via(o, true, b_inv, true)?;
        dlg.ids(o, true, true, "101 INVITE")?;
        dlg.contact(o, false)?;
        write!(o, "Server: {}\r\n", dlg.uas_ua)?;
        Dialog::end(o, &[])?;
        s.push(t, false, 0, m);

        // 200 OK with the answer
        t += self.rng.range(800, 8000) * MS;
        let t_ok = t;
        self.sdp.clear();
        write_sdp(
            &mut self.sdp,
            &SdpSpec {
                v6,
                host: &uas.1,
                port: uas.2,
                sess: sess + 17,
                user: if outbound { "pbx" } else { "phone" },
                answer: Some(pt),
                crypto: key_b.as_deref(),
            },
        )?;
        let o = &mut s.data;
        let m = o.len();
        o.extend_from_slice(b"SIP/2.0 200 OK\r\n");
        dlg.via(o, true, b_inv, true)?;
        dlg.ids(o, true, true, "101 INVITE")?;
        dlg.contact(o, false)?;
        write!(o, "{ALLOW}Server: {}\r\n", dlg.uas_ua)?;
        Dialog::end(o, &self.sdp)?;
        s.push(t, false, 0, m);

        // ACK
        t += self.rng.range(2, 30) * MS;
        let t_ack = t;
        let o = &mut s.data;
        let m = o.len();
        write!(
            o,
            "ACK sip:+{}@{}:5060 SIP/2.0\r\n",
            callee.num,
            dlg.ip(&dlg.uas)
        )?;
        dlg.via(o, true, self.rng.next(), false)?;
        o.extend_from_slice(b"Max-Forwards: 70\r\n");
        dlg.ids(o, true, true, "101 ACK")?;
        write!(o, "User-Agent: {}\r\n", dlg.uac_ua)?;
        Dialog::end(o, &[])?;
        s.push(t, true, 0, m);

        // BYE after the conversation, from either side, and its 200 OK
        let min_s = if dtmf { 15.0 } else { 5.0 };
        let dur_s = (min_s + self.rng.exp(35.0)).min(120.0);
        let t_bye = t_ok + (dur_s * SEC as f64) as u64;
        let by_uac = self.rng.chance(0.6);
        let b_bye = self.rng.next();
        let o = &mut s.data;
        let m = o.len();
        let (num, host) = if by_uac {
            (callee.num, &dlg.uas)
        } else {
            (caller.num, &dlg.uac)
        };
        write!(o, "BYE sip:+{num}@{}:5060 SIP/2.0\r\n", dlg.ip(host))?;
        dlg.via(o, by_uac, b_bye, false)?;
        o.extend_from_slice(b"Max-Forwards: 70\r\n");
        dlg.ids(o, by_uac, true, if by_uac { "102 BYE" } else { "1 BYE" })?;
        let ua = if by_uac { dlg.uac_ua } else { dlg.uas_ua };
        write!(o, "User-Agent: {ua}\r\n")?;
        Dialog::end(o, &[])?;
        s.push(t_bye, by_uac, 0, m);
        let o = &mut s.data;
        let m = o.len();
        o.extend_from_slice(b"SIP/2.0 200 OK\r\n");
        dlg.via(o, by_uac, b_bye, true)?;
        dlg.ids(o, by_uac, true, if by_uac { "102 BYE" } else { "1 BYE" })?;
        let ua = if by_uac { dlg.uas_ua } else { dlg.uac_ua };
        write!(o, "Server: {ua}\r\n")?;
        Dialog::end(o, &[])?;
        s.push(t_bye + self.rng.range(2, 20) * MS, !by_uac, 0, m);
        self.put_script(si, s);

        // Media, both ways, at exactly the announced addresses.
        let media = |from: &(Host, Host, u16, &str), to: &(Host, Host, u16, &str)| Flow {
            v6,
            vlan,
            pcp: 5,
            dscp: 46,
            a: from.1,
            b: to.1,
            ap: from.2,
            bp: to.2,
        };
        let back_start = t_ok + self.rng.range(5, 40) * MS;
        let back = self.new_rtp(media(&uas, &uac), back_start, t_bye, pt, srtp);
        let fwd_start = t_ack + self.rng.range(5, 30) * MS;
        let fwd = self.new_rtp(media(&uac, &uas), fwd_start, t_bye, pt, srtp);
        if srtp {
            self.st.srtp += 1;
        }
        if dtmf {
            self.st.dtmf += 1;
            let digits = self.dtmf_digits();
            let d = &mut self.rtps[fwd].dtmf;
            d.n = digits.len() as u8;
            d.digits[..digits.len()].copy_from_slice(&digits);
            d.start = fwd_start + self.rng.range(1500, 5000) * MS;
        }
        for i in [back, fwd] {
            let at = self.rtps[i].nominal;
            self.q.push(at, TAG_RTP | i as u32);
        }
        Ok(())
    }

    /// RFC 4733 event codes: an IVR choice, a PIN, an account, or a test card number.
    fn dtmf_digits(&mut self) -> Vec<u8> {
        const HASH: u8 = 11;
        let mut d = Vec::with_capacity(24);
        match self.rng.below(4) {
            0 => d.push(self.rng.range(1, 4) as u8),
            1 => {
                for _ in 0..4 {
                    d.push(self.rng.below(10) as u8);
                }
                d.push(HASH);
            }
            2 => {
                d.push(2);
                for _ in 0..8 {
                    d.push(self.rng.below(10) as u8);
                }
                d.push(HASH);
            }
            _ => {
                // 4111 1111 1111 1111: the well-known Luhn-valid test PAN
                d.push(4);
                d.extend_from_slice(&[1; 15]);
                d.push(HASH);
            }
        }
        d
    }

    fn new_tls(&mut self, t0: u64) -> Result<()> {
        let no: u64 = self.st.tls.iter().sum();
        let u = self.rng.unit();
        let ver = match no {
            0 => TlsV::V12,
            1 => TlsV::V13,
            2 => TlsV::V10,
            _ if u < 0.08 => TlsV::V10,
            _ if u < 0.5 => TlsV::V12,
            _ => TlsV::V13,
        };
        self.st.tls[ver as usize] += 1;
        let (server, port, sni) = if ver == TlsV::V10 {
            (LEGACY, 443, "legacy-vm.example.test")
        } else {
            *self.rng.pick(&[
                (SBC, 5061u16, "sbc.example.test"),
                (PROV, 443, "prov.example.test"),
                (PORTAL, 443, "portal.example.test"),
            ])
        };
        let from_phone = port == 5061 || self.rng.chance(0.5);
        let (v6, vlan) = self.flow_opts(from_phone);
        let client = if from_phone {
            phone(self.rng.below(PHONES))
        } else {
            pc(self.rng.below(800))
        };
        let flow = Flow {
            v6,
            vlan,
            pcp: if from_phone { 3 } else { 0 },
            dscp: if port == 5061 { 24 } else { 0 },
            a: client.host(v6),
            b: server.host(v6),
            ap: self.ephemeral(),
            bp: port,
        };
        let (si, mut s) = self.take_script(flow, true);
        let rtt = self.rng.range(200, 2000);
        let mut t = t0;
        s.tcp_open(&mut t, rtt);
        let rng = &mut self.rng;
        let rec_ver = if ver == TlsV::V10 { 0x0301 } else { 0x0303 };

        // ClientHello
        t += rng.range(50, 300);
        let m = s.data.len();
        let mut csid = Vec::new();
        if ver != TlsV::V10 {
            rng.fill(&mut csid, 32);
        }
        client_hello(&mut s.data, rng, ver, sni, port == 443, &csid);
        s.tcp_send(&mut t, true, m);

        // Server flight
        t += rtt / 2 + rng.range(200, 3000);
        let m = s.data.len();
        let mut ssid = csid.clone();
        if ver != TlsV::V13 {
            ssid.clear();
            rng.fill(&mut ssid, 32);
        }
        let suite = match ver {
            TlsV::V13 => 0x1301,
            TlsV::V12 => 0xc02f,
            TlsV::V10 => {
                if rng.chance(0.7) {
                    0x002f
                } else {
                    0x000a
                }
            }
        };
        server_hello(&mut s.data, rng, ver, &ssid, suite);
        if ver == TlsV::V13 {
            tls::push_record(&mut s.data, 20, 0x0303, |o| o.push(1));
            // EncryptedExtensions, Certificate, CertificateVerify, Finished
            let n = rng.range(1800, 3800) as usize;
            tls::push_record(&mut s.data, 23, 0x0303, |o| rng.fill(o, n));
        }
        s.tcp_send(&mut t, false, m);

        // Client key exchange / finished
        t += rtt / 2 + rng.range(300, 2000);
        let m = s.data.len();
        match ver {
            TlsV::V13 => {
                tls::push_record(&mut s.data, 20, 0x0303, |o| o.push(1));
                tls::push_record(&mut s.data, 23, 0x0303, |o| rng.fill(o, 53));
            }
            TlsV::V12 | TlsV::V10 => {
                tls::push_record(&mut s.data, 22, rec_ver, |o| {
                    tls::push_handshake(o, 16, |o| {
                        if ver == TlsV::V12 {
                            o.push(65);
                            o.push(4);
                            rng.fill(o, 64);
                        } else {
                            o.extend_from_slice(&128u16.to_be_bytes());
                            rng.fill(o, 128);
                        }
                    })
                });
                tls::push_record(&mut s.data, 20, rec_ver, |o| o.push(1));
                let fin = if ver == TlsV::V12 { 40 } else { 48 };
                tls::push_record(&mut s.data, 22, rec_ver, |o| rng.fill(o, fin));
            }
        }
        s.tcp_send(&mut t, true, m);
        if ver != TlsV::V13 {
            t += rtt / 2 + rng.range(100, 800);
            let m = s.data.len();
            tls::push_record(&mut s.data, 20, rec_ver, |o| o.push(1));
            let fin = if ver == TlsV::V12 { 40 } else { 48 };
            tls::push_record(&mut s.data, 22, rec_ver, |o| rng.fill(o, fin));
            s.tcp_send(&mut t, false, m);
        }

        // Application data: a few request/response rounds.
        let app_len = |rng: &mut Rng, lo: u64, hi: u64| {
            let n = rng.range(lo, hi) as usize;
            if ver == TlsV::V10 {
                n / 16 * 16 + 16
            } else {
                n
            }
        };
        for _ in 0..rng.range(1, 4) {
            t += rng.range(1, 300) * MS;
            let m = s.data.len();
            let n = app_len(rng, 120, 900);
            tls::push_record(&mut s.data, 23, rec_ver, |o| rng.fill(o, n));
            s.tcp_send(&mut t, true, m);
            t += rtt / 2 + rng.range(300, 20_000);
            let m = s.data.len();
            for _ in 0..rng.range(1, 3) {
                let n = app_len(rng, 100, 8000);
                tls::push_record(&mut s.data, 23, rec_ver, |o| rng.fill(o, n));
            }
            s.tcp_send(&mut t, false, m);
        }
        // close_notify (encrypted), then FIN
        t += rng.range(5, 500) * MS;
        let m = s.data.len();
        let n = if ver == TlsV::V13 { 19 } else { 26 };
        let n = if ver == TlsV::V10 { 32 } else { n };
        let ctype = if ver == TlsV::V13 { 23 } else { 21 };
        tls::push_record(&mut s.data, ctype, rec_ver, |o| rng.fill(o, n));
        s.tcp_send(&mut t, true, m);
        t += 50;
        s.tcp_close(&mut t, true, rtt);
        self.put_script(si, s);
        Ok(())
    }

    fn new_ldap(&mut self, t0: u64) -> Result<()> {
        self.st.ldap += 1;
        let from_pbx = self.rng.chance(0.6);
        let (v6, vlan) = self.flow_opts(false);
        let client = if from_pbx {
            *self.rng.pick(&PBX_SIG)
        } else {
            phone(self.rng.below(PHONES))
        };
        let flow = Flow {
            v6,
            vlan,
            pcp: 0,
            dscp: 0,
            a: client.host(v6),
            b: LDAP.host(v6),
            ap: self.ephemeral(),
            bp: 389,
        };
        let (si, mut s) = self.take_script(flow, true);
        let rtt = self.rng.range(200, 1500);
        let mut t = t0;
        s.tcp_open(&mut t, rtt);
        let (dn, pw): (&[u8], &[u8]) = if from_pbx {
            (
                b"cn=pbx-svc,ou=services,dc=example,dc=test",
                b"Synth-Pbx-Bind-2026",
            )
        } else {
            (
                b"cn=phonebook,ou=services,dc=example,dc=test",
                b"phonebook-ro",
            )
        };
        t += self.rng.range(50, 300);
        let m = s.data.len();
        ldap_msg(&mut s.data, 1, |o| {
            ber::push_tlv(o, 0x60, |o| {
                ber::push_integer(o, 0x02, 3);
                ber::push_bytes(o, 0x04, dn);
                ber::push_bytes(o, 0x80, pw);
            })
        });
        s.tcp_send(&mut t, true, m);
        t += rtt / 2 + self.rng.range(300, 3000);
        let m = s.data.len();
        ldap_msg(&mut s.data, 1, |o| ldap_result(o, 0x61));
        s.tcp_send(&mut t, false, m);
        let searches = self.rng.range(1, 3);
        for k in 0..searches {
            let who = Person::new(self.seed, self.rng.below(PHONES));
            let num = format!("+{}", who.num);
            let id = 2 + k as i64;
            t += self.rng.range(1, 50) * MS;
            let m = s.data.len();
            ldap_msg(&mut s.data, id, |o| {
                ber::push_tlv(o, 0x63, |o| {
                    ber::push_bytes(o, 0x04, b"ou=people,dc=example,dc=test");
                    o.extend_from_slice(&[0x0a, 1, 2, 0x0a, 1, 0]);
                    ber::push_integer(o, 0x02, 1);
                    ber::push_integer(o, 0x02, 10);
                    o.extend_from_slice(&[0x01, 1, 0]);
                    ber::push_tlv(o, 0xa3, |o| {
                        ber::push_bytes(o, 0x04, b"telephoneNumber");
                        ber::push_bytes(o, 0x04, num.as_bytes());
                    });
                    ber::push_tlv(o, 0x30, |o| {
                        for a in ["cn", "mail", "telephoneNumber"] {
                            ber::push_bytes(o, 0x04, a.as_bytes());
                        }
                    });
                })
            });
            s.tcp_send(&mut t, true, m);
            t += rtt / 2 + self.rng.range(300, 5000);
            let m = s.data.len();
            if self.rng.chance(0.9) {
                let entry_dn = format!("uid={},ou=people,dc=example,dc=test", who.uid());
                let cn = format!("{} {}", who.first, who.last);
                let mail = who.mail();
                let tel = format!("+49 30 555 {:04}", who.num % 10_000);
                ldap_msg(&mut s.data, id, |o| {
                    ber::push_tlv(o, 0x64, |o| {
                        ber::push_bytes(o, 0x04, entry_dn.as_bytes());
                        ber::push_tlv(o, 0x30, |o| {
                            for (k, v) in [("cn", &cn), ("mail", &mail), ("telephoneNumber", &tel)]
                            {
                                ber::push_tlv(o, 0x30, |o| {
                                    ber::push_bytes(o, 0x04, k.as_bytes());
                                    ber::push_tlv(o, 0x31, |o| {
                                        ber::push_bytes(o, 0x04, v.as_bytes())
                                    });
                                });
                            }
                        });
                    })
                });
            }
            ldap_msg(&mut s.data, id, |o| ldap_result(o, 0x65));
            s.tcp_send(&mut t, false, m);
        }
        t += self.rng.range(1, 100) * MS;
        let m = s.data.len();
        ldap_msg(&mut s.data, 2 + searches as i64, |o| {
            o.extend_from_slice(&[0x42, 0])
        });
        s.tcp_send(&mut t, true, m);
        t += 100;
        s.tcp_close(&mut t, true, rtt);
        self.put_script(si, s);
        Ok(())
    }

    fn new_snmp_poll(&mut self, t0: u64) -> Result<()> {
        let mut t = t0;
        for k in 0..4 {
            self.st.snmp += 1;
            let (v6, vlan) = self.flow_opts(false);
            let (agent, descr, contact, name, location);
            if k == 0 {
                let p = Person::new(self.seed, 9000);
                agent = *self.rng.pick(&PBX_SIG);
                descr = format!("{PBX_UA} (Linux 6.1.0 x86_64)");
                contact = format!(
                    "{} {} <{}>, +49 30 555 {:04}",
                    p.first,
                    p.last,
                    p.mail(),
                    p.num % 10_000
                );
                name = format!("pbx{:02}.example.test", agent.idx);
                location = "Berlin DC1, rack 4".to_string();
            } else {
                let idx = self.rng.below(PHONES);
                let p = Person::new(self.seed, idx);
                agent = phone(idx);
                descr = (*self.rng.pick(PHONE_UAS)).to_string();
                contact = format!("{} {} <{}>", p.first, p.last, p.mail());
                name = format!("phone-{}.example.test", p.num % 10_000);
                location = format!("Building A, floor {}, desk {}", idx % 5, idx % 97);
            }
            let community: &[u8] = if self.rng.chance(0.7) {
                b"public"
            } else {
                b"voice-ro-synth"
            };
            let flow = Flow {
                v6,
                vlan,
                pcp: 0,
                dscp: 0,
                a: NMS.host(v6),
                b: agent.host(v6),
                ap: self.ephemeral(),
                bp: 161,
            };
            let (si, mut s) = self.take_script(flow, false);
            let req_id = i64::from(self.rng.u32() >> 1);
            let oids = [1u32, 4, 5, 6];
            let m = s.data.len();
            snmp_msg(&mut s.data, community, 0xa0, req_id, |o| {
                for leaf in oids {
                    ber::push_tlv(o, 0x30, |o| {
                        ber::push_oid(o, &[1, 3, 6, 1, 2, 1, 1, leaf, 0]);
                        o.extend_from_slice(&[0x05, 0x00]);
                    });
                }
            });
            s.push(t, true, 0, m);
            let m = s.data.len();
            let vals = [&descr, &contact, &name, &location];
            snmp_msg(&mut s.data, community, 0xa2, req_id, |o| {
                for (leaf, v) in oids.iter().zip(vals) {
                    ber::push_tlv(o, 0x30, |o| {
                        ber::push_oid(o, &[1, 3, 6, 1, 2, 1, 1, *leaf, 0]);
                        ber::push_bytes(o, 0x04, v.as_bytes());
                    });
                }
            });
            s.push(t + self.rng.range(500, 8000), false, 0, m);
            self.put_script(si, s);
            t += self.rng.range(10, 30) * MS;
        }
        Ok(())
    }

    fn new_http(&mut self, t0: u64) -> Result<()> {
        self.st.http += 1;
        let idx = self.rng.below(PHONES);
        let owner = Person::new(self.seed, idx);
        let node = phone(idx);
        let (v6, vlan) = self.flow_opts(true);
        let client = node.host(v6);
        let flow = Flow {
            v6,
            vlan,
            pcp: 0,
            dscp: 0,
            a: client,
            b: PROV.host(v6),
            ap: self.ephemeral(),
            bp: 80,
        };
        let (si, mut s) = self.take_script(flow, true);
        let rtt = self.rng.range(200, 1500);
        let mut t = t0;
        s.tcp_open(&mut t, rtt);
        let mac: String = client.mac.iter().map(|b| format!("{b:02x}")).collect();
        let ua = format!("ExamplePhone-T46/1.2.3 ({mac})");
        let creds = base64::engine::general_purpose::STANDARD
            .encode(format!("{mac}:prov-{:08x}", mix(self.seed ^ idx) as u32));
        let variant = self.rng.below(10);
        // (method, path, with credentials) of each request
        let mut reqs: Vec<(&str, String, bool)> = Vec::new();
        match variant {
            0..=4 => {
                reqs.push(("GET", format!("/prov/{mac}.cfg"), false));
                reqs.push(("GET", format!("/prov/{mac}.cfg"), true));
            }
            5..=7 => reqs.push(("GET", format!("/prov/{mac}.cfg"), true)),
            _ => reqs.push(("POST", "/api/v1/phone-status".to_string(), false)),
        }
        for (method, path, auth) in &reqs {
            t += self.rng.range(50, 2000);
            let m = s.data.len();
            let o = &mut s.data;
            write!(
                o,
                "{method} {path} HTTP/1.1\r\nHost: prov.example.test\r\nUser-Agent: {ua}\r\nAccept: */*\r\n"
            )?;
            if *auth {
                write!(o, "Authorization: Basic {creds}\r\n")?;
            }
            if *method == "POST" {
                let body = format!(
                    "{{\"mac\":\"{mac}\",\"line\":\"+{}\",\"registered\":true,\"fw\":\"1.2.3\"}}",
                    owner.num
                );
                write!(
                    o,
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )?;
            } else {
                o.extend_from_slice(b"Connection: keep-alive\r\n\r\n");
            }
            s.tcp_send(&mut t, true, m);
            t += rtt / 2 + self.rng.range(500, 20_000);
            let c = civil(t);
            let date = format!(
                "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
                DAYS[c.wd], c.d, MONTHS[c.mo], c.y, c.h, c.mi, c.s
            );
            let m = s.data.len();
            let o = &mut s.data;
            let (status, ctype, body) = if *method == "POST" {
                ("200 OK", "application/json", "{\"ok\":true}\n".to_string())
            } else if !*auth {
                ("401 Unauthorized", "", String::new())
            } else {
                let body = format!(
                    "# provisioning for {mac}\naccount.1.enable = 1\naccount.1.label = {first} {last}\n\
                     account.1.display_name = {first} {last}\naccount.1.user_name = +{num}\n\
                     account.1.auth_name = +{num}\naccount.1.sip_server.1.address = {DOMAIN}\n\
                     account.1.sip_server.1.transport = 0\nvoice.tone.country = Germany\n",
                    first = owner.first,
                    last = owner.last,
                    num = owner.num
                );
                ("200 OK", "text/plain; charset=utf-8", body)
            };
            write!(
                o,
                "HTTP/1.1 {status}\r\nDate: {date}\r\nServer: prov-server/2.4\r\n"
            )?;
            if ctype.is_empty() {
                o.extend_from_slice(b"WWW-Authenticate: Basic realm=\"provisioning\"\r\n");
            } else {
                write!(o, "Content-Type: {ctype}\r\n")?;
            }
            write!(o, "Content-Length: {}\r\n\r\n{body}", body.len())?;
            s.tcp_send(&mut t, false, m);
        }
        t += self.rng.range(1, 50) * MS;
        s.tcp_close(&mut t, true, rtt);
        self.put_script(si, s);
        Ok(())
    }

    fn new_syslog(&mut self, t0: u64) -> Result<()> {
        self.st.syslog += 1;
        let (v6, vlan) = self.flow_opts(false);
        let pbx = *self.rng.pick(&PBX_SIG);
        let flow = Flow {
            v6,
            vlan,
            pcp: 0,
            dscp: 0,
            a: pbx.host(v6),
            b: SYSLOG.host(v6),
            ap: self.ephemeral(),
            bp: 514,
        };
        let a = Person::new(self.seed, self.rng.below(PHONES));
        let b = Person::new(self.seed, 5000 + self.rng.below(5000));
        let (si, mut s) = self.take_script(flow, false);
        let c = civil(t0);
        let host = format!("pbx{:02}", pbx.idx);
        let pid = 1000 + u64::from(pbx.idx) * 37;
        let o = &mut s.data;
        let kind = self.rng.below(6);
        let secs = self.rng.range(5, 120);
        let text = match kind {
            0 => format!(
                "call {:08x}: from \"{} {}\" <+{}> to +{} answered",
                self.rng.u32(),
                a.first,
                a.last,
                a.num,
                b.num
            ),
            1 => format!(
                "CDR caller=+{} callee=+{} duration={secs}s disposition=ANSWERED",
                a.num, b.num
            ),
            2 => format!(
                "registration of +{} from {} succeeded (expires 3600)",
                a.num,
                Ip(&phone(a.num % 10_000).host(v6), v6, false)
            ),
            3 => format!("missed call for {} {} from +{}", a.first, a.last, b.num),
            4 => "trunk sbc1: OPTIONS keepalive ok, rtt 12 ms".to_string(),
            _ => format!(
                "media relay: {} active channels, load {}%",
                self.rng.range(20, 400),
                self.rng.range(5, 60)
            ),
        };
        let pri = 16 * 8 + if kind == 3 { 5 } else { 6 };
        if self.rng.chance(0.5) {
            write!(
                o,
                "<{pri}>{} {:>2} {:02}:{:02}:{:02} {host} pbxd[{pid}]: {text}",
                MONTHS[c.mo], c.d, c.h, c.mi, c.s
            )?;
        } else {
            write!(
                o,
                "<{pri}>1 {}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {host}.example.test pbxd {pid} CALL - {text}",
                c.y,
                c.mo + 1,
                c.d,
                c.h,
                c.mi,
                c.s,
                c.us
            )?;
        }
        s.push(t0, true, 0, 0);
        self.put_script(si, s);
        Ok(())
    }
}

fn ldap_msg(out: &mut Vec<u8>, id: i64, op: impl FnOnce(&mut Vec<u8>)) {
    ber::push_tlv(out, 0x30, |o| {
        ber::push_integer(o, 0x02, id);
        op(o);
    });
}

/// An LDAPResult `success` with this application tag.
fn ldap_result(o: &mut Vec<u8>, tag: u8) {
    ber::push_tlv(o, tag, |o| {
        o.extend_from_slice(&[0x0a, 1, 0]);
        ber::push_bytes(o, 0x04, b"");
        ber::push_bytes(o, 0x04, b"");
    });
}

fn snmp_msg(
    out: &mut Vec<u8>,
    community: &[u8],
    pdu: u8,
    req_id: i64,
    varbinds: impl FnOnce(&mut Vec<u8>),
) {
    ber::push_tlv(out, 0x30, |o| {
        ber::push_integer(o, 0x02, 1); // v2c
        ber::push_bytes(o, 0x04, community);
        ber::push_tlv(o, pdu, |o| {
            ber::push_integer(o, 0x02, req_id);
            ber::push_integer(o, 0x02, 0);
            ber::push_integer(o, 0x02, 0);
            ber::push_tlv(o, 0x30, varbinds);
        });
    });
}

fn client_hello(out: &mut Vec<u8>, rng: &mut Rng, ver: TlsV, sni: &str, alpn: bool, sid: &[u8]) {
    tls::push_record(out, 22, 0x0301, |o| {
        tls::push_handshake(o, 1, |o| {
            let legacy: u16 = if ver == TlsV::V10 { 0x0301 } else { 0x0303 };
            o.extend_from_slice(&legacy.to_be_bytes());
            rng.fill(o, 32);
            o.push(sid.len() as u8);
            o.extend_from_slice(sid);
            with_len(o, 2, |o| match ver {
                TlsV::V10 => u16s(o, &[0x0035, 0x002f, 0x000a, 0x0005, 0x0004, 0x00ff]),
                TlsV::V12 => u16s(
                    o,
                    &[
                        0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
                        0x009d, 0x002f, 0x0035, 0x00ff,
                    ],
                ),
                TlsV::V13 => u16s(
                    o,
                    &[
                        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                        0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
                    ],
                ),
            });
            o.extend_from_slice(&[1, 0]);
            with_len(o, 2, |o| {
                tls::push_extension(o, 0x0000, |o| {
                    with_len(o, 2, |o| {
                        o.push(0);
                        with_len(o, 2, |o| o.extend_from_slice(sni.as_bytes()));
                    })
                });
                tls::push_extension(o, 0xff01, |o| o.push(0));
                if ver == TlsV::V10 {
                    return;
                }
                tls::push_extension(o, 0x0017, |_| {});
                tls::push_extension(o, 0x000a, |o| {
                    with_len(o, 2, |o| u16s(o, &[0x001d, 0x0017, 0x0018]))
                });
                tls::push_extension(o, 0x000b, |o| o.extend_from_slice(&[1, 0]));
                tls::push_extension(o, 0x0023, |_| {});
                if alpn {
                    tls::push_extension(o, 0x0010, |o| {
                        with_len(o, 2, |o| {
                            o.push(8);
                            o.extend_from_slice(b"http/1.1");
                        })
                    });
                }
                tls::push_extension(o, 0x000d, |o| {
                    with_len(o, 2, |o| {
                        u16s(
                            o,
                            &[
                                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
                            ],
                        )
                    })
                });
                if ver == TlsV::V13 {
                    tls::push_extension(o, 0x0033, |o| {
                        with_len(o, 2, |o| {
                            u16s(o, &[0x001d, 32]);
                            rng.fill(o, 32);
                        })
                    });
                    tls::push_extension(o, 0x002d, |o| o.extend_from_slice(&[1, 1]));
                    tls::push_extension(o, 0x002b, |o| o.extend_from_slice(&[4, 3, 4, 3, 3]));
                }
            });
        });
    });
}

/// ServerHello, and for 1.2 ServerKeyExchange + ServerHelloDone, for 1.0 ServerHelloDone
/// (no Certificate: nothing here needs one), in one record.
fn server_hello(out: &mut Vec<u8>, rng: &mut Rng, ver: TlsV, sid: &[u8], suite: u16) {
    let legacy: u16 = if ver == TlsV::V10 { 0x0301 } else { 0x0303 };
    tls::push_record(out, 22, legacy, |o| {
        tls::push_handshake(o, 2, |o| {
            o.extend_from_slice(&legacy.to_be_bytes());
            rng.fill(o, 32);
            o.push(sid.len() as u8);
            o.extend_from_slice(sid);
            o.extend_from_slice(&suite.to_be_bytes());
            o.push(0);
            with_len(o, 2, |o| match ver {
                TlsV::V13 => {
                    tls::push_extension(o, 0x002b, |o| o.extend_from_slice(&[3, 4]));
                    tls::push_extension(o, 0x0033, |o| {
                        u16s(o, &[0x001d, 32]);
                        rng.fill(o, 32);
                    });
                }
                TlsV::V12 => {
                    tls::push_extension(o, 0xff01, |o| o.push(0));
                    tls::push_extension(o, 0x0017, |_| {});
                    tls::push_extension(o, 0x000b, |o| o.extend_from_slice(&[1, 0]));
                }
                TlsV::V10 => tls::push_extension(o, 0xff01, |o| o.push(0)),
            });
        });
        if ver == TlsV::V12 {
            tls::push_handshake(o, 12, |o| {
                o.push(3);
                u16s(o, &[0x0017]);
                o.push(65);
                o.push(4);
                rng.fill(o, 64);
                u16s(o, &[0x0401]);
                with_len(o, 2, |o| rng.fill(o, 256));
            });
        }
        if ver != TlsV::V13 {
            tls::push_handshake(o, 14, |_| {});
        }
    });
}

/// N SYNs, each from a distinct source address/port to one of four servers, 1 µs apart.
fn flood(out: &mut Pcap, n: u64, seed: u64) -> Result<()> {
    let mut rng = Rng::new(seed);
    let servers = [(SBC, 5061u16), (PROV, 443), (PROV, 80), (LDAP, 389)];
    for i in 0..n {
        let (srv, port) = servers[(i % 4) as usize];
        let k = i % (64 << 16);
        let ip4 = [10, 64 + (k >> 16) as u8, (k >> 8) as u8, k as u8];
        let mut ip = [0u8; 16];
        ip[..4].copy_from_slice(&ip4);
        let a = Host {
            ip,
            mac: [0x02, 0x00, ip4[0], ip4[1], ip4[2], ip4[3]],
        };
        let flow = Flow {
            v6: false,
            vlan: 0,
            pcp: 0,
            dscp: 0,
            a,
            b: srv.host(false),
            // distinct per round of 4M source addresses
            ap: 1024 + ((i >> 22) % 60_000) as u16,
            bp: port,
        };
        let h = out.tcp(&flow, true, rng.u32(), 0, SYN);
        out.finish(i, h)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.calls_per_sec <= 0.0 || !args.calls_per_sec.is_finite() {
        bail!("--calls-per-sec must be positive");
    }
    let started = Instant::now();
    let out = Pcap::create(&args.output)?;
    let (mut out, span, stats) = if let Some(n) = args.flood {
        let mut out = out;
        flood(&mut out, n, args.seed)?;
        (out, n, None)
    } else {
        let mut sim = Sim::new(&args, out);
        sim.run(args.size)?;
        let span = sim.now;
        (sim.out, span, Some(sim.st))
    };
    out.w.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "synth: {} packets, {} bytes ({:.1} MiB) in {secs:.2} s = {:.0} MB/s; capture spans {:.3} s",
        out.packets,
        out.bytes,
        out.bytes as f64 / f64::from(1 << 20),
        out.bytes as f64 / 1e6 / secs.max(1e-9),
        span as f64 / SEC as f64
    );
    if let Some(st) = stats {
        eprintln!(
            "synth: calls {} (busy {}, srtp {}, dtmf {}), tls 1.0/1.2/1.3 {}/{}/{}, ldap {}, snmp {}, http {}, syslog {}; scripted sessions over v6 {}, tagged {}",
            st.calls, st.busy, st.srtp, st.dtmf, st.tls[0], st.tls[1], st.tls[2], st.ldap,
            st.snmp, st.http, st.syslog, st.v6, st.vlan
        );
    }
    Ok(())
}
