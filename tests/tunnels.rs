//! Encapsulated traffic: the real tunnel captures of `../shared/corpus` (Zeek's test
//! traces) and the loopback VXLAN capture in `pcaps/`. Flows inside a tunnel are
//! tracked and classified with their inner addresses and carry EVE's `tunnel` object.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use cleartrace::capture::{CaptureFile, Packet};
use cleartrace::config::Config;
use cleartrace::engine::Engine;
use cleartrace::output::{FlowEvent, Sink};

/// (client, client port, server, server port, proto, app_proto) of every flow, sorted.
fn flow_tuples(run: &common::Run) -> Vec<String> {
    let mut tuples: Vec<String> = run
        .flows
        .iter()
        .map(|f| {
            format!(
                "{}:{} -> {}:{} {} {}",
                f["src_ip"].as_str().unwrap_or("?"),
                f["src_port"],
                f["dest_ip"].as_str().unwrap_or("?"),
                f["dest_port"],
                f["proto"].as_str().unwrap_or("?"),
                f["app_proto"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    tuples.sort();
    tuples
}

fn corpus_run(name: &str) -> Option<common::Run> {
    let corpus = common::corpus()?;
    let run = common::analyze(&[&corpus.join("pcaps").join(name)], &["--quiet"]);
    assert_eq!(run.output.status.code(), Some(0), "{name}: {}", run.stderr);
    Some(run)
}

/// Decode errors by reason after running `frames` through an engine.
fn decode_errors(frames: &[(i32, Vec<u8>)]) -> BTreeMap<&'static str, u64> {
    struct Discard;
    impl Sink for Discard {
        fn flow_ended(&mut self, _: &FlowEvent<'_>) {}
    }
    let mut engine = Engine::with_builtin_signatures(&Config::default());
    for (linktype, data) in frames {
        let packet = Packet {
            ts: cleartrace::timestamp::Timestamp(1),
            linktype: *linktype,
            data,
            wire_len: data.len() as u32,
        };
        engine.process(&packet, &mut Discard);
    }
    engine.finish(&mut Discard);
    engine.stats().decode_errors
}

fn read_frames(path: &Path) -> Vec<(i32, Vec<u8>)> {
    let mut out = Vec::new();
    CaptureFile::open(path)
        .expect("open capture")
        .read_packets(|p| out.push((p.linktype, p.data.to_vec())))
        .expect("read capture");
    out
}

#[test]
fn gre_inner_flows_are_classified_and_carry_the_tunnel() {
    let Some(run) = corpus_run("zeek__tunnels__gre-sample.pcap") else {
        return;
    };
    assert_eq!(
        flow_tuples(&run),
        [
            "66.59.111.190:123 -> 129.170.17.4:123 UDP failed",
            "66.59.111.190:123 -> 18.26.4.105:123 UDP failed",
            "66.59.111.190:123 -> 66.59.111.182:123 UDP failed",
            "66.59.111.190:37675 -> 172.28.2.3:53 UDP failed",
            "66.59.111.190:40264 -> 172.28.2.3:22 TCP ssh",
        ]
    );
    for flow in &run.flows {
        assert_eq!(
            flow["tunnel"],
            json!({"src_ip": "172.27.1.66", "dest_ip": "66.59.109.137", "proto": "GRE",
                   "depth": 1, "type": "gre"}),
        );
    }
    assert!(run.alerts.is_empty(), "{:?}", run.alerts);
}

#[test]
fn vxlan_http_inside_vni_1() {
    let Some(run) = corpus_run("zeek__tunnels__vxlan-encapsulated-http.pcap") else {
        return;
    };
    assert_eq!(
        flow_tuples(&run),
        ["172.16.11.201:40354 -> 54.86.237.188:80 TCP http"]
    );
    assert_eq!(
        run.flows[0]["tunnel"],
        json!({"src_ip": "10.1.200.131", "dest_ip": "10.1.1.172", "src_port": 50000,
               "dest_port": 4789, "proto": "UDP", "depth": 1, "type": "vxlan", "vni": 1}),
    );
    assert!(run.alerts.is_empty(), "{:?}", run.alerts);
}

#[test]
fn gtp_inner_http_after_outer_reassembly() {
    let Some(run) = corpus_run("zeek__tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap") else {
        return;
    };
    assert_eq!(
        flow_tuples(&run),
        ["10.131.47.185:1923 -> 79.101.110.141:80 TCP http"]
    );
    let tunnel = &run.flows[0]["tunnel"];
    assert_eq!(
        (&tunnel["type"], &tunnel["dest_port"], &tunnel["depth"]),
        (&json!("gtp-u"), &json!(2152), &json!(1))
    );
    assert!(tunnel["teid"].is_u64());
    // 35 of the server's 41 inner packets were in fragmented outer datagrams (tshark):
    // all 41 reached the flow, so the outer datagrams were joined before peeling.
    let counters = &run.flows[0]["flow"];
    assert_eq!(
        (&counters["pkts_toserver"], &counters["pkts_toclient"]),
        (&json!(27), &json!(41))
    );
}

#[test]
fn ip_in_ip_both_ways() {
    let Some(run) = corpus_run("zeek__tunnels__4in6.pcap") else {
        return;
    };
    assert_eq!(
        flow_tuples(&run),
        ["70.55.213.211:31337 -> 192.88.99.1:80 TCP failed"]
    );
    assert_eq!(
        run.flows[0]["tunnel"]["src_ip"],
        "2002:4637:d5d3::4637:d5d3"
    );
    let Some(run) = corpus_run("zeek__tunnels__6in4.pcap") else {
        return;
    };
    assert_eq!(
        flow_tuples(&run),
        ["dead::beef:30000 -> cafe::babe:13000 UDP failed"]
    );
    assert_eq!(
        run.flows[0]["tunnel"],
        json!({"src_ip": "1.2.3.4", "dest_ip": "5.6.7.8", "proto": "IPv6", "depth": 1,
               "type": "ip-in-ip"}),
    );
}

#[test]
fn mpls_in_vlan_and_pppoe_are_link_layers() {
    let Some(run) = corpus_run("zeek__mpls-in-vlan.pcap") else {
        return;
    };
    // Two GET packets (one behind MPLS labels 254/99), one mid-stream response behind
    // label 16106; no tunnel object: MPLS is a link layer.
    assert_eq!(
        flow_tuples(&run),
        [
            "65.65.65.65:19244 -> 65.65.65.65:80 TCP http",
            "65.65.65.65:32828 -> 65.65.65.65:80 TCP failed",
            "65.65.65.65:61193 -> 65.65.65.65:80 TCP http",
        ]
    );
    assert!(run.flows.iter().all(|f| f["tunnel"].is_null()));
    let Some(run) = corpus_run("zeek__pppoe.pcap") else {
        return;
    };
    assert_eq!(
        flow_tuples(&run),
        [
            "fe80::c801:eff:fe88:8:547 -> fe80::ce05:eff:fe88:0:546 UDP failed",
            "fe80::ce05:eff:fe88:0:546 -> ff02::1:2:547 UDP failed",
        ]
    );
}

/// ERSPAN II / III and GENEVE carry only ICMP echo: no flow, no alert, and no decode
/// error; the same frames with the tunnel header broken are counted as malformed,
/// which shows the decoder did read them.
#[test]
fn erspan_and_geneve_decode_cleanly() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for (name, header_at, reason) in [
        // Ethernet 14 + IPv4 20 + GRE 8 (sequence): the ERSPAN version nibble.
        ("zeek__erspanII.pcap", 42, "malformed_erspan"),
        ("zeek__erspanIII.pcap", 42, "malformed_erspan"),
        // Ethernet 14 + IPv4 20 + UDP 8: GENEVE's option length, made longer than the packet.
        ("zeek__tunnels__geneve.pcap", 42, "malformed_geneve"),
    ] {
        let run = corpus_run(name).expect("corpus");
        assert!(run.flows.is_empty() && run.alerts.is_empty(), "{name}");
        let path = corpus.join("pcaps").join(name);
        let mut frames = read_frames(&path);
        assert_eq!(decode_errors(&frames), BTreeMap::new(), "{name}");
        for (_, data) in &mut frames {
            data[header_at] = if reason == "malformed_geneve" {
                0x3f
            } else {
                0x70
            };
        }
        assert_eq!(
            decode_errors(&frames),
            BTreeMap::from([(reason, frames.len() as u64)]),
            "{name}"
        );
    }
}

/// One alert or flow record in a line: what it is, its flow, and how the media in it
/// was known (signalled by a SIP dialog, or proven by its packets).
fn summary(v: &Value) -> String {
    format!(
        "{} {} {}:{} -> {}:{} {} {} {} {} {} {}",
        v["event_type"],
        v["alert"]["signature_id"],
        v["src_ip"],
        v["src_port"],
        v["dest_ip"],
        v["dest_port"],
        v["app_proto"],
        v["flow"]["pkts_toserver"],
        v["flow"]["pkts_toclient"],
        v["rtp"]["confidence"],
        v["personal_data"]["evidence"],
        v["sip"]["dialog"],
    )
}

/// The summaries of the alerts and flows of one VXLAN network (`None`: untunnelled),
/// sorted.
fn tenant_events(run: &common::Run, vni: Option<u64>) -> Vec<String> {
    let mut out: Vec<String> = run
        .alerts
        .iter()
        .chain(&run.flows)
        .filter(|v| v["tunnel"]["vni"].as_u64() == vni)
        .map(summary)
        .collect();
    out.sort();
    out
}

/// A copy of the little-endian µs pcap `from` at `to` without the frames `drop` picks;
/// the other records are copied byte for byte, timestamps included.
fn pcap_without(from: &Path, to: &Path, drop: impl Fn(&[u8]) -> bool) {
    let data = std::fs::read(from).expect("read capture");
    assert_eq!(data[..4], [0xd4, 0xc3, 0xb2, 0xa1], "{}", from.display());
    let mut out = data[..24].to_vec();
    let mut at = 24;
    while let Some(header) = data.get(at..at + 16) {
        let len = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        let record = &data[at..at + 16 + len];
        if !drop(&record[16..]) {
            out.extend_from_slice(record);
        }
        at += 16 + len;
    }
    std::fs::write(to, out).expect("write capture");
}

/// Every SIP request and response line names the version.
fn is_sip(frame: &[u8]) -> bool {
    frame.windows(7).any(|w| w == b"SIP/2.0")
}

/// The VNI of an Ethernet / IPv4 / UDP 4789 frame.
fn vxlan_vni(frame: &[u8]) -> Option<u32> {
    let ip = frame.get(14..)?;
    let vxlan = 4 * usize::from(ip.first()? & 0x0f) + 8;
    let dport = u16::from_be_bytes([*ip.get(vxlan - 6)?, *ip.get(vxlan - 5)?]);
    if frame[12..14] != [0x08, 0x00] || ip[9] != 17 || dport != 4789 {
        return None;
    }
    let vni = ip.get(vxlan + 4..vxlan + 7)?;
    Some(u32::from_be_bytes([0, vni[0], vni[1], vni[2]]))
}

/// The loopback VXLAN capture holds `sip-udp-g711-dtmf.pcap` replayed into VNI 42 and
/// VNI 43: each tenant's flows and alerts are exactly those of the plain capture.
#[test]
fn each_vxlan_tenant_is_judged_like_the_plain_call() {
    let pcaps = common::repo().join("pcaps");
    let plain = common::analyze(&[&pcaps.join("sip-udp-g711-dtmf.pcap")], &["--quiet"]);
    let tunnelled = common::analyze(&[&pcaps.join("vxlan-two-tenants-sip.pcap")], &["--quiet"]);
    let want = tenant_events(&plain, None);
    assert_eq!(want.len(), 6, "{want:?}");
    assert_eq!(tenant_events(&tunnelled, Some(42)), want);
    assert_eq!(tenant_events(&tunnelled, Some(43)), want);
    assert_eq!(tunnelled.alerts.len() + tunnelled.flows.len(), 12);
}

/// SDP announces media only within its own tenant's network: with the SIP of VNI 43
/// cut out, VNI 42's call still announces 127.0.0.1:6000 and :6010 (a second before
/// VNI 43's media starts at the same addresses), yet VNI 43's media is judged as media
/// nobody signalled — proven by its packets, tied to no dialog — exactly as the same
/// call's RTP without its SIP outside any tunnel. With workers too, which share one
/// table of announcements.
#[test]
fn sdp_of_one_vxlan_tenant_announces_nothing_in_another() {
    let pcaps = common::repo().join("pcaps");
    let dir = common::tempdir();
    let one_sided = dir.join("vxlan-sip-only-in-42.pcap");
    pcap_without(
        &pcaps.join("vxlan-two-tenants-sip.pcap"),
        &one_sided,
        |frame| vxlan_vni(frame) == Some(43) && is_sip(frame),
    );
    let media_only = dir.join("call-without-sip.pcap");
    pcap_without(&pcaps.join("sip-udp-g711-dtmf.pcap"), &media_only, is_sip);
    let plain = common::analyze(&[&pcaps.join("sip-udp-g711-dtmf.pcap")], &["--quiet"]);
    let unsignalled = common::analyze(&[&media_only], &["--quiet"]);
    let want_43 = tenant_events(&unsignalled, None);
    assert_eq!(
        want_43,
        [
            r#""alert" 2002 "127.0.0.1":6000 -> "127.0.0.1":6010 "rtp" 120 0 null ["PCMA (PT 8), 120 packets, 2 SSRC(s), proven"] null"#,
            r#""alert" 2004 "127.0.0.1":6000 -> "127.0.0.1":6010 "rtp" 120 0 null ["4 DTMF digits (RFC 4733 events), not a card number"] null"#,
            r#""flow" null "127.0.0.1":6000 -> "127.0.0.1":6010 "rtp" 120 0 "proven" null null"#,
        ]
    );
    for workers in ["1", "3"] {
        let run = common::analyze(&[&one_sided], &["--quiet", "--workers", workers]);
        assert_eq!(tenant_events(&run, Some(42)), tenant_events(&plain, None));
        assert_eq!(tenant_events(&run, Some(43)), want_43, "{workers} workers");
        assert_eq!(run.alerts.len() + run.flows.len(), 6 + 3);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
