//! `analyze --metrics FILE`: the DESIGN §10 families, agreeing with the alerts and flow
//! records of the same run, and nothing personal in any label.

mod common;

fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.starts_with(name)
                && (l.as_bytes().get(name.len()) == Some(&b' ')
                    || l.as_bytes().get(name.len()) == Some(&b'{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn metrics_agree_with_the_run_and_carry_no_personal_data() {
    let dir = common::tempdir();
    let path = dir.join("run.prom");
    let arg = path.display().to_string();
    let run = common::analyze(
        &[&common::repo().join("pcaps")],
        &["--quiet", "--metrics", &arg],
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    let text = std::fs::read_to_string(&path).expect("metrics written");
    for family in [
        "cleartrace_packets_total",
        "cleartrace_bytes_total",
        "cleartrace_flows_total",
        "cleartrace_flows_active",
        "cleartrace_alerts_total",
        "cleartrace_tls_sessions_total",
        "cleartrace_personal_data_findings_total",
        "cleartrace_capture_dropped_packets_total",
        "cleartrace_flow_evictions_total",
        "cleartrace_build_info",
    ] {
        assert!(text.contains(family), "{family} missing");
    }
    assert_eq!(
        sample(&text, "cleartrace_alerts_total"),
        run.alerts.len() as u64
    );
    assert_eq!(
        sample(&text, "cleartrace_flows_total"),
        run.flows.len() as u64
    );
    let tls = run
        .flows
        .iter()
        .filter(|f| f["tls"]["version"].is_string())
        .count() as u64;
    assert_eq!(sample(&text, "cleartrace_tls_sessions_total"), tls);
    let labels: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('{').map(|(_, r)| r))
        .collect();
    assert!(
        !labels.contains("127.0.0.1") && !labels.contains('@'),
        "addresses in labels"
    );
    for secret in ["LEAKCHECK", "jane", "1632", "4111"] {
        assert!(!text.contains(secret), "{secret} in metrics");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Families are there from start-up (every decode-error reason at 0, as every enabled
/// rule); a rule whose alert a pattern raised stays one series; the flow table's
/// evictions are counted once.
#[test]
fn families_from_start_up_one_series_per_rule() {
    let dir = common::tempdir();
    let path = dir.join("run.prom");
    let arg = path.display().to_string();
    // Rule 2004 (high) has an alert raised to critical in this capture.
    let run = common::analyze(
        &[&common::repo().join("pcaps/sip-udp-g711-dtmf.pcap")],
        &["--quiet", "--metrics", &arg],
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    assert!(run
        .alerts
        .iter()
        .any(|a| a["alert"]["signature_id"] == 2004 && a["alert"]["severity"] == 1));
    let text = std::fs::read_to_string(&path).expect("metrics written");
    let lines: Vec<&str> = text.lines().collect();
    for reason in [
        "unsupported_linktype",
        "truncated_link",
        "malformed_ip",
        "malformed_tcp",
        "malformed_udp",
        "malformed_gre",
        "tunnel_too_deep",
    ] {
        let line = format!("cleartrace_decode_errors_total{{reason=\"{reason}\"}} 0");
        assert!(lines.contains(&line.as_str()), "{line} missing:\n{text}");
    }
    let rule_2004: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("cleartrace_alerts_total{rule=\"2004\""))
        .collect();
    assert_eq!(rule_2004.len(), 1, "{text}");
    assert!(
        rule_2004[0].starts_with("cleartrace_alerts_total{rule=\"2004\",severity=\"high\"} "),
        "{text}"
    );
    assert_eq!(
        sample(&text, "cleartrace_alerts_by_severity_total"),
        run.alerts.len() as u64
    );
    assert!(
        sample(
            &text,
            "cleartrace_alerts_by_severity_total{severity=\"critical\"}"
        ) >= 1,
        "{text}"
    );
    assert!(text.contains("cleartrace_flow_evictions_total 0"), "{text}");
    assert!(!text.contains("table=\"flows\""), "counted twice:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// LDAP and SNMP anomalies reach the summary and the metrics as SIP's do: an LDAP
/// stream that stops being BER after a bind, and an SNMP datagram whose PDU cannot be
/// read.
#[test]
fn ldap_and_snmp_anomalies_are_counted() {
    use cleartrace::build::ber::tlv;
    use cleartrace::build::frame::{ipv4, tcp, udp, Pcap};
    let (client, server) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut pcap = Pcap::new(Vec::new()).expect("pcap");
    // An anonymous simple bind (RFC 4511 §4.2), then bytes that are not BER.
    let bind = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            tlv(
                0x60,
                &[tlv(0x02, &[3]), tlv(0x04, b""), tlv(0x80, b"")].concat(),
            ),
        ]
        .concat(),
    );
    let segments: [(u32, u8, &[u8]); 3] = [
        (0, 0x02, b""),
        (1, 0x18, &bind),
        (15, 0x18, b"\x00\x00not BER"),
    ];
    for (seq, flags, payload) in segments {
        let segment = tcp(40000, 389, seq, flags, payload);
        pcap.frame(&ipv4(client, server, 6, 0, 0x4000, &segment))
            .expect("frame");
    }
    // SNMPv1, community "public", a GetRequest PDU whose content is not a PDU.
    let get = tlv(
        0x30,
        &[
            tlv(0x02, &[0]),
            tlv(0x04, b"public"),
            tlv(0xa0, &[0xff, 0xff]),
        ]
        .concat(),
    );
    pcap.frame(&ipv4(client, server, 17, 1, 0, &udp(40001, 161, &get)))
        .expect("frame");
    let dir = common::tempdir();
    let capture = dir.join("anomalies.pcap");
    std::fs::write(&capture, pcap.into_inner()).expect("write");
    let metrics = dir.join("run.prom");
    let run = common::analyze(&[&capture], &["--metrics", &metrics.display().to_string()]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    let text = std::fs::read_to_string(&metrics).expect("metrics written");
    for name in ["ldap.framing_lost", "snmp.unparsed_message"] {
        let series = format!("cleartrace_anomalies_total{{anomaly=\"{name}\"}} 1");
        assert!(
            text.lines().any(|l| l == series),
            "{series} missing:\n{text}"
        );
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(name) && l.trim_end().ends_with(" 1")),
            "{name} not in the summary:\n{}",
            run.stderr
        );
    }
    assert!(!text.contains("public"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
