//! Entry points for the fuzz targets (`fuzz/fuzz_targets/*.rs`, cargo-fuzz on nightly)
//! and for replaying their corpora as ordinary tests on stable (`tests/fuzz_corpora.rs`).
//! Each takes arbitrary bytes and must neither panic nor hang.

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use crate::analyze::relay::Relay;
use crate::capture::{CaptureFile, Packet};
use crate::config::Config;
use crate::decode::tunnel::{self, Tunnels};
use crate::decode::{self, Network};
use crate::engine::Engine;
use crate::flow::{Direction, ReassemblyLimits, StreamChunk, StreamReassembler, L4};
use crate::output::{FlowEvent, Sink};
use crate::protocols::testing::with_ctx;
use crate::protocols::{self, AppProto, Ctx, Dissector};
use crate::workers::Sharder;

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// The targets, by name (fuzz target and corpus directory names).
pub const TARGETS: &[(&str, Target)] = &[
    ("decode", decode),
    ("reassembly", reassembly),
    ("tls", tls),
    ("dtls", dtls),
    ("http", http),
    ("sip", sip),
    ("sdp", sdp),
    ("rtp", rtp),
    ("ldap", ldap),
    ("snmp", snmp),
    ("espa", espa),
    ("modbus", modbus),
    ("mqtt", mqtt),
    ("smb", smb),
    ("pgsql", pgsql),
    ("mysql", mysql),
    ("syslog", syslog),
    ("mail", mail),
    ("telnet_axi_cdr", telnet_axi_cdr),
    ("tds", tds),
    ("signatures", signatures),
    ("config", config),
    ("pipeline", pipeline),
    ("registered", registered),
];

/// Splits the input into two chunks, the second in a direction chosen by the input:
/// enough to exercise framing across segments and both directions.
fn chunks(data: &[u8]) -> [(Direction, &[u8]); 2] {
    let (control, rest) = match data {
        [a, b, rest @ ..] => ((*a, *b), rest),
        _ => ((0, 0), data),
    };
    let split = if rest.is_empty() {
        0
    } else {
        usize::from(control.0) % (rest.len() + 1)
    };
    let second = if control.1 & 1 == 0 {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    [
        (Direction::ToServer, &rest[..split]),
        (second, &rest[split..]),
    ]
}

fn run(app_proto: AppProto, data: &[u8], mut each: impl FnMut(Direction, &[u8], &mut Ctx<'_>)) {
    with_ctx(app_proto, |ctx| {
        for (dir, chunk) in chunks(data) {
            each(dir, chunk, ctx);
        }
    });
}

/// Link, IP and transport decoding under every supported link type, and every tunnel
/// layer the packet holds peeled (also as the first fragment of a datagram).
pub fn decode(data: &[u8]) {
    let tunnels = Tunnels::default();
    for linktype in [0, 1, 101, 108, 113, 228, 229, 276] {
        if let Ok(Network::Ip(ip)) = decode::decode_network(linktype, data) {
            let _ = decode::decode_transport(ip.protocol, ip.payload);
            let _ = tunnel::first_fragment_inner(&tunnels, ip.protocol, ip.payload);
            let inner = tunnel::innermost(&tunnels, ip);
            let _ = decode::decode_transport(inner.protocol, inner.payload);
        }
    }
}

/// Segments as (seq: 4 bytes, len: 1 byte, bytes) records into one direction.
pub fn reassembly(data: &[u8]) {
    let limits = ReassemblyLimits {
        max_buffered_bytes: 4096,
        max_buffered_segments: 16,
    };
    let mut stream = StreamReassembler::default();
    let mut delivered = 0usize;
    let mut sink = |c: StreamChunk<'_>| {
        if let StreamChunk::Data(d) = c {
            delivered += d.len();
        }
    };
    let mut rest = data;
    while rest.len() >= 5 {
        let seq = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = usize::from(rest[4]).min(rest.len() - 5);
        stream.on_segment(seq, &rest[5..5 + len], &limits, &mut sink);
        rest = &rest[5 + len..];
    }
    stream.flush(&mut sink);
}

/// Every registered protocol (`protocols::PROTOCOLS`) over the same bytes: its probe,
/// then its dissector through the `Dissector` interface, a gap and the flow's end. A
/// new protocol is fuzzed here without a target of its own.
pub fn registered(data: &[u8]) {
    for registration in protocols::PROTOCOLS {
        let _ = (registration.probe)(data);
        let mut d = (registration.start)();
        run(registration.app_proto, data, |dir, c, ctx| {
            d.on_data(dir, c, ctx);
            let _ = (d.buffered(), d.encrypted(), d.finished(), d.rejected());
        });
        d.on_gap(Direction::ToClient);
        with_ctx(registration.app_proto, |ctx| d.on_end(ctx));
    }
}

pub fn tls(data: &[u8]) {
    let mut d = protocols::tls::TlsDissector::stream();
    run(AppProto::Tls, data, |dir, c, ctx| d.on_data(dir, c, ctx));
}

pub fn dtls(data: &[u8]) {
    let mut d = protocols::tls::TlsDissector::datagram();
    run(AppProto::Dtls, data, |dir, c, ctx| d.on_data(dir, c, ctx));
}

pub fn http(data: &[u8]) {
    let mut d = protocols::http::HttpDissector::default();
    run(AppProto::Http, data, |dir, c, ctx| d.on_data(dir, c, ctx));
    with_ctx(AppProto::Http, |ctx| d.on_end(ctx));
}

pub fn sip(data: &[u8]) {
    for l4 in [L4::Udp, L4::Tcp] {
        let mut d = protocols::sip::SipDissector::new(l4);
        run(AppProto::Sip, data, |dir, c, ctx| d.on_data(dir, c, ctx));
        with_ctx(AppProto::Sip, |ctx| d.on_end(ctx));
    }
}

pub fn sdp(data: &[u8]) {
    let _ = protocols::sdp::parse(data);
}

pub fn rtp(data: &[u8]) {
    let mut d = protocols::rtp::RtpDissector::heuristic();
    run(AppProto::Rtp, data, |dir, c, ctx| d.on_data(dir, c, ctx));
    with_ctx(AppProto::Rtp, |ctx| d.on_end(ctx));
}

pub fn ldap(data: &[u8]) {
    for l4 in [L4::Udp, L4::Tcp] {
        let mut d = protocols::ldap::LdapDissector::new(l4);
        run(AppProto::Ldap, data, |dir, c, ctx| d.on_data(dir, c, ctx));
    }
}

pub fn snmp(data: &[u8]) {
    for l4 in [L4::Udp, L4::Tcp] {
        let mut d = protocols::snmp::SnmpDissector::new(l4);
        run(AppProto::Snmp, data, |dir, c, ctx| d.on_data(dir, c, ctx));
    }
}

pub fn espa(data: &[u8]) {
    let _ = protocols::espa::probe_espa(data);
    let mut d = protocols::espa::EspaDissector::default();
    run(AppProto::Espa, data, |dir, c, ctx| d.on_data(dir, c, ctx));
}

pub fn modbus(data: &[u8]) {
    let mut d = protocols::modbus::ModbusDissector::default();
    run(AppProto::Modbus, data, |dir, c, ctx| d.on_data(dir, c, ctx));
}

pub fn mqtt(data: &[u8]) {
    let _ = protocols::mqtt::probe_mqtt(data);
    let mut d = protocols::mqtt::MqttDissector::default();
    run(AppProto::Mqtt, data, |dir, c, ctx| d.on_data(dir, c, ctx));
}

/// TDS: PRELOGIN, the TLS handshake inside it, LOGIN7, batches, RPC, token streams.
pub fn tds(data: &[u8]) {
    let _ = protocols::tds::probe_tds(data);
    let mut d = protocols::tds::TdsDissector::default();
    run(AppProto::Tds, data, |dir, c, ctx| d.on_data(dir, c, ctx));
}

/// SMB framing, SMB1/SMB2 headers, NTLMSSP and the file table, ended as a flow ends.
pub fn smb(data: &[u8]) {
    let _ = protocols::smb::probe_smb(data);
    let _ = protocols::smb::ntlm_authenticate(data);
    let mut d = protocols::smb::SmbDissector::default();
    with_ctx(AppProto::Smb, |ctx| {
        for (dir, chunk) in chunks(data) {
            d.on_data(dir, chunk, ctx);
        }
        d.on_end(ctx);
    });
}

/// A conversation for the request/response protocols whose state follows both
/// directions: records of one header byte (the top bit picks the direction, the rest is
/// a length up to 127) and that many bytes, so the fuzzer segments and interleaves freely.
fn conversation(mut data: &[u8]) -> impl Iterator<Item = (Direction, &[u8])> {
    std::iter::from_fn(move || {
        let (&head, rest) = data.split_first()?;
        let len = usize::from(head & 0x7f).min(rest.len());
        let dir = if head & 0x80 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let (chunk, after) = rest.split_at(len);
        data = after;
        Some((dir, chunk))
    })
}

pub fn pgsql(data: &[u8]) {
    let _ = protocols::pgsql::probe_pgsql(data);
    let mut d = protocols::pgsql::PgsqlDissector::default();
    with_ctx(AppProto::Pgsql, |ctx| {
        for (dir, chunk) in conversation(data) {
            d.on_data(dir, chunk, ctx);
        }
        d.on_gap(Direction::ToClient);
        let _ = (d.buffered(), d.encrypted(), d.finished());
    });
}

pub fn mysql(data: &[u8]) {
    let _ = protocols::mysql::probe_mysql(data);
    let mut d = protocols::mysql::MysqlDissector::default();
    with_ctx(AppProto::Mysql, |ctx| {
        for (dir, chunk) in conversation(data) {
            d.on_data(dir, chunk, ctx);
        }
        d.on_end(ctx);
        let _ = (d.buffered(), d.encrypted(), d.finished());
    });
}

pub fn syslog(data: &[u8]) {
    let _ = protocols::syslog::probe_syslog(data);
    for l4 in [L4::Udp, L4::Tcp] {
        let mut d = protocols::syslog::SyslogDissector::new(l4);
        run(AppProto::Syslog, data, |dir, c, ctx| d.on_data(dir, c, ctx));
    }
}

/// SMTP, POP3, IMAP and FTP state machines over the same bytes.
pub fn mail(data: &[u8]) {
    use protocols::lines::LineDissector;
    use protocols::mail::{Ftp, Imap, Pop3, Smtp};
    let mut smtp = LineDissector::new(Smtp::default());
    let mut pop3 = LineDissector::new(Pop3::default());
    let mut imap = LineDissector::new(Imap::default());
    let mut ftp = LineDissector::new(Ftp::default());
    run(AppProto::Smtp, data, |dir, c, ctx| {
        smtp.on_data(dir, c, ctx);
        pop3.on_data(dir, c, ctx);
        imap.on_data(dir, c, ctx);
        ftp.on_data(dir, c, ctx);
    });
    with_ctx(AppProto::Smtp, |ctx| {
        smtp.on_end(ctx);
        pop3.on_end(ctx);
        imap.on_end(ctx);
        ftp.on_end(ctx);
    });
}

pub fn telnet_axi_cdr(data: &[u8]) {
    let mut telnet = protocols::telnet::TelnetDissector::default();
    let mut axi = protocols::axi::AxiDissector::default();
    let mut cdr = protocols::cdr::CdrDissector::default();
    run(AppProto::Telnet, data, |dir, c, ctx| {
        telnet.on_data(dir, c, ctx);
        axi.on_data(dir, c, ctx);
        cdr.on_data(dir, c, ctx);
    });
}

pub fn signatures(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("cleartrace-fuzz-sig-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(dir.join("f.toml"), text).is_ok() {
        let mut sigs = crate::signatures::Signatures::builtin();
        if sigs.load_dir(&dir).is_ok() {
            let _ = crate::personal_data::Scanner::new(sigs.patterns);
        }
    }
}

pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = Config::parse("fuzz.toml", text) {
            let mut rules = crate::signatures::RuleSet::builtin();
            let _ = config.apply_to(&mut rules);
        }
    }
}

struct NullSink;

impl Sink for NullSink {
    fn flow_ended(&mut self, _event: &FlowEvent<'_>) {}
}

/// Capture file bytes through the whole engine.
pub fn pipeline(data: &[u8]) {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    let config = CONFIG.get_or_init(Config::default);
    let Ok(mut capture) = CaptureFile::from_reader(
        Path::new("fuzz.pcap"),
        Cursor::new(data.to_vec()),
        data.len() as u64,
    ) else {
        return;
    };
    let mut engine = Engine::with_builtin_signatures(config);
    let mut sink = NullSink;
    // Every way the readers go (packet by packet for one engine, record blocks for
    // the single-reader workers, the relay's shared blocks for workers over files),
    // with read sizes down to a byte so records straddle every boundary.
    capture.read_in_blocks_of(1 + data.len() % 4096);
    match data.len() % 3 {
        0 if capture.has_record_blocks() => {
            let _ = capture.read_record_blocks(|block| {
                for (_, packet) in block.packets() {
                    engine.process(&packet, &mut sink);
                }
                block.into_buffer()
            });
        }
        1 if capture.has_record_blocks() => {
            let relay = Relay::new(1, 1, Sharder::new(1, Tunnels::default()));
            let _ = relay.read(0, 0, capture, |block| {
                for &(_, offset) in block.own.iter().flatten() {
                    if let Some(packet) = block.records.packet_at(offset) {
                        engine.process(&packet, &mut sink);
                    }
                }
            });
        }
        _ => {
            let _ = capture.read_packets(|packet: Packet<'_>| engine.process(&packet, &mut sink));
        }
    }
    engine.finish(&mut sink);
}
