//! End to end over the bundled captures (`pcaps/`, made by `pcaps/make-captures.sh`
//! with real OpenSSL, curl and Python peers): run the binary, check what it reports.
//!
//! Two layers: a hand-written table of the findings each capture must produce (from
//! the tshark-verified facts in `pcaps/README.md`), and a snapshot of every JSON line
//! (`pcaps/expected/<capture>.jsonl`) so any change in output is seen. Refresh the
//! snapshots with `CLEARTRACE_BLESS=1 cargo test --test captures` after checking the diff.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// What one capture must produce.
struct Expect {
    file: &'static str,
    /// Rule ids alerted, sorted.
    rules: &'static [u32],
    app_proto: &'static str,
    /// Application flows (the exchanges themselves).
    flows: usize,
    /// Negotiated version, cipher, SNI, client max version, for TLS captures.
    tls: Option<Tls>,
    encrypted: bool,
}

type Tls = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

const ECDHE_CBC: Option<&str> = Some("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA");
const ECDHE_GCM: Option<&str> = Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");

const fn tls(file: &'static str, rules: &'static [u32], t: Tls) -> Expect {
    Expect {
        file,
        rules,
        app_proto: "tls",
        flows: 1,
        tls: Some(t),
        encrypted: true,
    }
}

const fn http(file: &'static str, rules: &'static [u32]) -> Expect {
    Expect {
        file,
        rules,
        app_proto: "http",
        flows: 1,
        tls: None,
        encrypted: false,
    }
}

const fn tds(
    file: &'static str,
    rules: &'static [u32],
    tls: Option<Tls>,
    encrypted: bool,
) -> Expect {
    Expect {
        file,
        rules,
        app_proto: "tds",
        flows: 1,
        tls,
        encrypted,
    }
}

const EXPECTED: &[Expect] = &[
    tls(
        "tls10.pcap",
        &[1001, 1003],
        (Some("TLSv1"), ECDHE_CBC, None, "TLSv1"),
    ),
    tls(
        "tls11.pcap",
        &[1001, 1003],
        (Some("TLS 1.1"), ECDHE_CBC, None, "TLS 1.1"),
    ),
    tls(
        "tls12.pcap",
        &[],
        (
            Some("TLS 1.2"),
            ECDHE_GCM,
            Some("pbx.example.test"),
            "TLS 1.2",
        ),
    ),
    // The service of tls10.pcap (port 4433) after hardening: the "after" of a diff pair.
    tls(
        "tls12-port-4433.pcap",
        &[],
        (Some("TLS 1.2"), ECDHE_GCM, None, "TLS 1.2"),
    ),
    tls(
        "tls13.pcap",
        &[],
        (
            Some("TLS 1.3"),
            Some("TLS_AES_256_GCM_SHA384"),
            Some("portal.example.test"),
            "TLS 1.3",
        ),
    ),
    tls(
        "tls13-nanosecond.pcap",
        &[],
        (
            Some("TLS 1.3"),
            Some("TLS_AES_256_GCM_SHA384"),
            Some("portal.example.test"),
            "TLS 1.3",
        ),
    ),
    Expect {
        encrypted: false,
        ..tls(
            "tls12-null-cipher.pcap",
            &[1002],
            (
                Some("TLS 1.2"),
                Some("TLS_RSA_WITH_NULL_SHA256"),
                None,
                "TLS 1.2",
            ),
        )
    },
    tls(
        "tls12-port-12622.pcap",
        &[],
        (
            Some("TLS 1.2"),
            ECDHE_GCM,
            Some("omm.example.test"),
            "TLS 1.2",
        ),
    ),
    tls(
        "tls12-any-sll2.pcap",
        &[],
        (
            Some("TLS 1.2"),
            ECDHE_GCM,
            Some("manager.example.test"),
            "TLS 1.2",
        ),
    ),
    tls(
        "tls-server-picks-11.pcap",
        &[1001],
        (Some("TLS 1.1"), ECDHE_CBC, None, "TLS 1.3"),
    ),
    Expect {
        encrypted: false,
        ..tls(
            "tls-client-only-old-rejected.pcap",
            &[1003],
            (None, None, None, "TLSv1"),
        )
    },
    Expect {
        app_proto: "dtls",
        ..tls(
            "dtls10.pcap",
            &[1001, 1003],
            (Some("DTLS 1.0"), ECDHE_CBC, None, "DTLS 1.0"),
        )
    },
    Expect {
        app_proto: "dtls",
        ..tls(
            "dtls12.pcap",
            &[],
            (Some("DTLS 1.2"), ECDHE_GCM, None, "DTLS 1.2"),
        )
    },
    // Ethernet (443) and Linux SLL2 (8443) interfaces in one pcapng.
    Expect {
        flows: 2,
        tls: None,
        ..tls("mixed-linktypes.pcapng", &[], (None, None, None, ""))
    },
    http("http-basic.pcap", &[6001]),
    // Digest: the user name crosses, the password does not (challenge–response, 6006).
    http("http-digest.pcap", &[6006]),
    http("http-proxy-basic.pcap", &[6001]),
    http("http-port-5080.pcap", &[6001]),
    http("http-plain.pcap", &[]),
    // Planted personal data (pcaps/README.md "Planted personal data").
    http("pd-http-form.pcap", &[6001, 6002]),
    http("pd-http-json.pcap", &[6002]),
    // Compressed bodies are not decompressed: a documented limit.
    http("pd-http-gzip.pcap", &[]),
    Expect {
        app_proto: "cdr",
        ..http("pd-cdr-tcp.pcap", &[6001, 6002])
    },
    Expect {
        app_proto: "syslog",
        ..http("pd-syslog-udp.pcap", &[6002])
    },
    // TDS: FreeTDS tsql against the test-only responder (make-tds-captures.sh).
    tds("tds-not-sup.pcap", &[6001, 6002, 6004], None, false),
    tds(
        "tds-login-only.pcap",
        &[6002, 6004],
        Some((Some("TLS 1.2"), ECDHE_GCM, None, "TLS 1.3")),
        false,
    ),
    tds(
        "tds-encrypted.pcap",
        &[],
        Some((Some("TLS 1.2"), ECDHE_GCM, None, "TLS 1.3")),
        true,
    ),
    tds(
        "tds-tls10.pcap",
        &[1001],
        Some((Some("TLSv1"), ECDHE_CBC, None, "TLS 1.3")),
        true,
    ),
    tls(
        "pd-tls13-encrypted.pcap",
        &[],
        (
            Some("TLS 1.3"),
            Some("TLS_AES_256_GCM_SHA384"),
            None,
            "TLS 1.3",
        ),
    ),
];

/// Captures of several flows or protocols (voice: sipp, baresip; management: slapd,
/// snmpd, mosquitto, pymodbus, aiosmtpd, dovecot …): every flow's classification and
/// every alert.
struct Voice {
    file: &'static str,
    /// app_proto of every flow, sorted.
    flows: &'static [&'static str],
    /// (rule, app_proto of its flow) of every alert, sorted.
    alerts: &'static [(u64, &'static str)],
    /// Masked evidence that must appear.
    evidence: &'static [&'static str],
}

const VOICE: &[Voice] = &[
    Voice {
        file: "sip-udp-g711-dtmf.pcap",
        flows: &["rtp", "sip"],
        alerts: &[(2001, "sip"), (2002, "rtp"), (2004, "rtp"), (2004, "sip")],
        evidence: &[
            "J*** D**",
            "+********0961",
            "PCMA (PT 8), 120 packets, 2 SSRC(s), signalled",
            "4 DTMF digits (RFC 4733 events), not a card number",
            "16 DTMF digits (SIP INFO), Luhn-valid card number",
        ],
    },
    // The RTP of sip-udp-g711-dtmf.pcap alone (make-rtp-only-captures.sh): no SDP names
    // PT 101, the four RFC 2833 digits are told by their structure.
    Voice {
        file: "rtp-dtmf-no-signalling.pcap",
        flows: &["rtp"],
        alerts: &[(2002, "rtp"), (2004, "rtp")],
        evidence: &[
            "PCMA (PT 8), 120 packets, 2 SSRC(s), proven",
            "4 DTMF digits (RFC 4733 events), not a card number",
        ],
    },
    // The same call replayed into two VXLAN tenants (VNI 42, 43) whose addresses
    // overlap: two of everything, never merged (make-tunnel-captures.sh).
    Voice {
        file: "vxlan-two-tenants-sip.pcap",
        flows: &["rtp", "rtp", "sip", "sip"],
        alerts: &[
            (2001, "sip"),
            (2001, "sip"),
            (2002, "rtp"),
            (2002, "rtp"),
            (2004, "rtp"),
            (2004, "rtp"),
            (2004, "sip"),
            (2004, "sip"),
        ],
        evidence: &[
            "PCMA (PT 8), 120 packets, 2 SSRC(s), signalled",
            "4 DTMF digits (RFC 4733 events), not a card number",
            "\"tunnel\":{\"depth\":1,\"dest_ip\":\"10.99.0.2\",\"dest_port\":4789",
            "\"type\":\"vxlan\",\"vni\":43}",
        ],
    },
    Voice {
        file: "sip-tcp.pcap",
        flows: &["sip"],
        alerts: &[(2001, "sip"), (2005, "sip")],
        evidence: &["Authorization: Digest user 2***, digest response present (32 chars)"],
    },
    Voice {
        file: "sip-sdes-srtp.pcap",
        flows: &["sip", "srtcp", "srtp"],
        // The SDES keys in cleartext SIP; and baresip's RTCP BYE/SDES at hang-up goes
        // out in clear with the caller's number in its CNAME.
        alerts: &[(2001, "sip"), (2003, "sip"), (6002, "srtcp")],
        evidence: &[
            "a=crypto AES_CM_128_HMAC_SHA1_80, key present (40 chars)",
            "sip:+********0961",
        ],
    },
    Voice {
        file: "sip-tls.pcap",
        flows: &["sip"],
        alerts: &[],
        evidence: &[],
    },
    Voice {
        file: "rtp-no-signalling.pcap",
        flows: &["rtp"],
        alerts: &[(2002, "rtp")],
        evidence: &["PCMA (PT 8), 80 packets, 1 SSRC(s), proven"],
    },
    Voice {
        file: "ldap-simple-bind.pcap",
        flows: &["ldap", "ldap"],
        alerts: &[
            (3001, "ldap"),
            (3001, "ldap"),
            (3002, "ldap"),
            (3002, "ldap"),
        ],
        evidence: &[
            "password present (22 chars)",
            "cn=J*** D**",
            "j***@example.com",
        ],
    },
    Voice {
        file: "ldap-starttls.pcap",
        flows: &["ldap"],
        alerts: &[],
        evidence: &[],
    },
    Voice {
        file: "snmp-v1-v2c.pcap",
        flows: &["snmp", "snmp"],
        alerts: &[
            (4001, "snmp"),
            (4001, "snmp"),
            (4002, "snmp"),
            (4002, "snmp"),
        ],
        evidence: &[
            "SNMPv1 community present (6 chars), a well-known default",
            "j***@example.com",
            "J*** D**",
        ],
    },
    Voice {
        file: "snmp-tcp.pcap",
        flows: &["snmp"],
        alerts: &[(4001, "snmp"), (4002, "snmp")],
        evidence: &["SNMPv2c community present (6 chars), a well-known default"],
    },
    Voice {
        file: "snmp-v3.pcap",
        flows: &["snmp", "snmp", "snmp"],
        alerts: &[
            (4002, "snmp"),
            (4002, "snmp"),
            (4003, "snmp"),
            (4003, "snmp"),
        ],
        evidence: &[
            "SNMPv3 noAuthNoPriv, user n***",
            "SNMPv3 authNoPriv, user j***",
        ],
    },
    // The get of snmp-v1-v2c.pcap at SNMPv3 authPriv: nothing in clear, the flow encrypted.
    Voice {
        file: "snmp-v3-authpriv.pcap",
        flows: &["snmp"],
        alerts: &[],
        evidence: &[],
    },
    Voice {
        file: "mqtt.pcap",
        flows: &["mqtt", "mqtt", "mqtt"],
        alerts: &[
            (6001, "mqtt"),
            (6001, "mqtt"),
            (6002, "mqtt"),
            (6002, "mqtt"),
            (6002, "mqtt"),
        ],
        evidence: &[
            "mqtt CONNECT: user j***, password present (20 chars)",
            "+** **** **0961",
        ],
    },
    Voice {
        file: "radius.pcap",
        flows: &["radius", "radius", "radius"],
        alerts: &[
            (6002, "radius"),
            (6002, "radius"),
            (6002, "radius"),
            (6006, "radius"),
            (6006, "radius"),
        ],
        evidence: &[
            "radius PAP: user j***, digest response present (32 chars)",
            "radius CHAP: user j***, digest response present (16 chars)",
            "phone_number: +** **** **0961",
            "phone_number: +** **** **0962",
        ],
    },
    Voice {
        file: "modbus.pcap",
        flows: &["modbus"],
        alerts: &[(5002, "modbus")],
        evidence: &["unit 1, function 3 (read holding registers)"],
    },
    Voice {
        file: "smtp-plain-auth.pcap",
        flows: &["smtp"],
        alerts: &[(6001, "smtp"), (6002, "smtp")],
        evidence: &[
            "smtp AUTH PLAIN: user j***, password present (20 chars)",
            "4111 11** **** 1111",
        ],
    },
    Voice {
        file: "smtp-starttls.pcap",
        flows: &["smtp"],
        alerts: &[],
        evidence: &[],
    },
    Voice {
        file: "smtp-starttls-ignored.pcap",
        flows: &["smtp"],
        alerts: &[(6002, "smtp"), (6003, "smtp")],
        evidence: &["smtp: the server offered an upgrade to TLS; login or mail went on in clear"],
    },
    Voice {
        file: "pop3.pcap",
        flows: &["pop3"],
        alerts: &[(6001, "pop3")],
        evidence: &["pop3 USER/PASS: user j***, password present (20 chars)"],
    },
    Voice {
        file: "imap.pcap",
        flows: &["imap"],
        alerts: &[(6001, "imap")],
        evidence: &["imap LOGIN: user j***, password present (20 chars)"],
    },
    Voice {
        file: "telnet.pcap",
        flows: &["telnet"],
        alerts: &[(6001, "telnet")],
        evidence: &["telnet login: user j***, password present (23 chars)"],
    },
    Voice {
        file: "syslog-tcp.pcap",
        flows: &["syslog", "syslog"],
        alerts: &[(6002, "syslog"), (6002, "syslog")],
        evidence: &["+** **** **0961", "j***@example.com"],
    },
    Voice {
        file: "espa444.pcap",
        flows: &["espa"],
        alerts: &[(5001, "espa")],
        // Three pages; the block sent with a bad BCC (answered NAK) is not counted.
        evidence: &[
            "call address **0, display text present (11 chars)",
            "call address **2, display text present (15 chars)",
        ],
    },
    Voice {
        file: "axi.pcap",
        flows: &["axi"],
        alerts: &[(6001, "axi"), (6002, "axi")],
        evidence: &[
            "axi Open: user o***, password present (20 chars)",
            "sippw present (18 chars)",
            "J*** D**",
        ],
    },
    // Samba and smbclient (make-smb-captures.sh): a recording and a CDR export put, the
    // recording got back, over SMB 3.1.1 in clear and over SMB1; nothing but the session
    // setup's login is readable when the share requires encryption.
    Voice {
        file: "smb2-clear.pcap",
        flows: &["smb"],
        alerts: &[(6005, "smb"), (6006, "smb")],
        evidence: &[
            "smb NTLMv2: user j***, digest response present (200 chars)",
            "WRITE r**-********0961-j***-d**.wav (voice recording), 844 bytes",
            "WRITE c**-e*****-***6-11.csv (call records), 86 bytes",
            "READ r**-********0961-j***-d**.wav (voice recording), 844 bytes",
        ],
    },
    Voice {
        file: "smb3-encrypted.pcap",
        flows: &["smb"],
        alerts: &[],
        evidence: &[],
    },
    Voice {
        file: "smb1-nt1.pcap",
        flows: &["smb"],
        alerts: &[(6005, "smb"), (6006, "smb")],
        evidence: &[
            "smb NTLMv2: user j***, digest response present (200 chars)",
            "WRITE r**-********0961-j***-d**.wav (voice recording), 844 bytes",
            "READ r**-********0961-j***-d**.wav (voice recording), 844 bytes",
        ],
    },
    // AASP bodies (generated by make-aasp-capture.sh): the SIP headers carry nothing
    // personal, the display text, the incoming caller and the dialled number do.
    Voice {
        file: "sip-aasp.pcap",
        flows: &["sip"],
        alerts: &[(2001, "sip")],
        evidence: &[
            "\"evidence\":[\"person_name: J*** D**\",\"phone_number: +** **** **0961\",\"phone_number: +********0961\",\"phone_number: +********0962\"]",
        ],
    },
    Voice {
        file: "ftp.pcap",
        flows: &["ftp"],
        alerts: &[(6001, "ftp")],
        evidence: &["ftp USER/PASS: user j***, password present (20 chars)"],
    },
    // Databases (make-db-captures.sh): the login, the statements and rows, the
    // session's encryption.
    Voice {
        file: "pgsql-cleartext-password.pcap",
        flows: &["pgsql"],
        alerts: &[(6001, "pgsql"), (6002, "pgsql"), (6004, "pgsql")],
        evidence: &[
            "pgsql: no SSLRequest, session in clear",
            "pgsql cleartext password: user a***, password present (20 chars)",
            "+** **** **0961",
            "j***@example.com",
            "4111 11** **** 1111",
            "5500 00** **** 0004",
            "+** **** **0123",
        ],
    },
    Voice {
        file: "pgsql-md5.pcap",
        flows: &["pgsql"],
        alerts: &[(6004, "pgsql"), (6006, "pgsql")],
        evidence: &["pgsql MD5: user a***, digest response present (35 chars)"],
    },
    Voice {
        file: "pgsql-scram.pcap",
        flows: &["pgsql"],
        alerts: &[(6004, "pgsql"), (6006, "pgsql")],
        evidence: &["pgsql SCRAM-SHA-256: user a***, digest response present (32 chars)"],
    },
    Voice {
        file: "pgsql-tls.pcap",
        flows: &["pgsql"],
        alerts: &[],
        evidence: &[],
    },
    Voice {
        file: "mysql-native.pcap",
        flows: &["mysql"],
        alerts: &[(6002, "mysql"), (6004, "mysql"), (6006, "mysql")],
        evidence: &[
            "mysql: the server offers SSL, the client did not ask for it: session in clear",
            "mysql mysql_native_password: user a***, digest response present (20 chars)",
            "+** **** **0961",
            "j***@example.com",
            "4111 11** **** 1111",
            "5500 00** **** 0004",
        ],
    },
    Voice {
        file: "mysql-clear-password.pcap",
        flows: &["mysql"],
        alerts: &[(6001, "mysql"), (6004, "mysql")],
        evidence: &["mysql mysql_clear_password: user a***, password present (20 chars)"],
    },
    Voice {
        file: "mysql-tls.pcap",
        flows: &["mysql"],
        alerts: &[],
        evidence: &[],
    },
];

#[test]
fn voice_captures_classify_every_flow_and_raise_exact_rules() {
    for v in VOICE {
        let run = common::analyze(&[&pcaps().join(v.file)], &["--quiet"]);
        assert_eq!(
            run.output.status.code(),
            Some(0),
            "{}: {}",
            v.file,
            run.stderr
        );
        let mut flows: Vec<&str> = run
            .flows
            .iter()
            .filter_map(|f| f["app_proto"].as_str())
            .collect();
        flows.sort_unstable();
        assert_eq!(flows, v.flows, "{}", v.file);
        let mut alerts: Vec<(u64, &str)> = run
            .alerts
            .iter()
            .filter_map(|a| {
                Some((
                    a["alert"]["signature_id"].as_u64()?,
                    a["app_proto"].as_str()?,
                ))
            })
            .collect();
        alerts.sort_unstable();
        assert_eq!(alerts, v.alerts, "{}", v.file);
        let text: String = run.alerts.iter().map(|a| a.to_string()).collect();
        for e in v.evidence {
            assert!(text.contains(e), "{}: {e:?} not in {text}", v.file);
        }
    }
    // After STARTTLS (or a database's SSL request) the flow is judged as TLS, under its
    // own app_proto; the cleartext database sessions are not encrypted.
    for file in [
        "ldap-starttls.pcap",
        "smtp-starttls.pcap",
        "pgsql-tls.pcap",
        "mysql-tls.pcap",
    ] {
        let run = common::analyze(&[&pcaps().join(file)], &["--quiet"]);
        assert_eq!(run.flows[0]["tls"]["version"], "TLS 1.3", "{file}");
        assert_eq!(run.flows[0]["encrypted"], true, "{file}");
    }
    // SIP over TLS is judged as TLS: version and cipher on the flow record.
    for file in [
        "pgsql-cleartext-password.pcap",
        "pgsql-md5.pcap",
        "pgsql-scram.pcap",
        "mysql-native.pcap",
        "mysql-clear-password.pcap",
    ] {
        let run = common::analyze(&[&pcaps().join(file)], &["--quiet"]);
        assert_eq!(run.flows[0]["encrypted"], false, "{file}");
        assert!(run.flows[0]["tls"].is_null(), "{file}");
    }
    let tls = common::analyze(&[&pcaps().join("sip-tls.pcap")], &["--quiet"]);
    assert_eq!(tls.flows[0]["tls"]["version"], "TLS 1.3");
    assert_eq!(tls.flows[0]["encrypted"], true);
}

fn pcaps() -> PathBuf {
    common::repo().join("pcaps")
}

/// The events of one run, with `pcap_filename` reduced to the file name so snapshots
/// do not depend on where the repository is.
fn normalised(run: &common::Run) -> Vec<Value> {
    let mut lines: Vec<Value> = run.alerts.iter().chain(run.flows.iter()).cloned().collect();
    for v in &mut lines {
        if let Some(name) = v["pcap_filename"].as_str() {
            let base = Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            v["pcap_filename"] = Value::from(base.unwrap_or_default());
        }
    }
    lines
}

#[test]
fn bundled_captures_report_exact_findings() {
    for e in EXPECTED {
        let path = pcaps().join(e.file);
        let run = common::analyze(&[&path], &["--quiet"]);
        assert_eq!(
            run.output.status.code(),
            Some(0),
            "{}: {}",
            e.file,
            run.stderr
        );
        let rules: Vec<u64> = {
            let mut r: Vec<u64> = run
                .alerts
                .iter()
                .filter_map(|a| a["alert"]["signature_id"].as_u64())
                .collect();
            r.sort_unstable();
            r
        };
        let want: Vec<u64> = e.rules.iter().map(|&r| u64::from(r)).collect();
        assert_eq!(rules, want, "{}: rules", e.file);
        for a in &run.alerts {
            assert_eq!(a["event_type"], "alert");
            assert_eq!(a["app_proto"], e.app_proto, "{}", e.file);
        }
        let app_flows: Vec<&Value> = run
            .flows
            .iter()
            .filter(|f| f["app_proto"] == e.app_proto)
            .collect();
        assert_eq!(app_flows.len(), e.flows, "{}: {:?}", e.file, run.flows);
        for flow in &app_flows {
            assert_eq!(flow["app_proto"], e.app_proto, "{}", e.file);
            assert_eq!(flow["encrypted"], e.encrypted, "{}", e.file);
        }
        let flow = app_flows[0];
        if let Some((version, cipher, sni, client_max)) = e.tls {
            let tls = &flow["tls"];
            assert_eq!(tls["version"].as_str(), version, "{}", e.file);
            assert_eq!(tls["cipher"].as_str(), cipher, "{}", e.file);
            assert_eq!(tls["sni"].as_str(), sni, "{}", e.file);
            assert_eq!(
                tls["client_max_version"].as_str(),
                Some(client_max),
                "{}",
                e.file
            );
        }
    }
}

/// A rule and its evidence.
type Alert<'a> = (u64, Vec<&'a str>);

/// Every TDS alert's evidence: what PRELOGIN agreed, the masked LOGIN7 user, the
/// masked values of the result row and of the DELETE's WHERE clause.
#[test]
fn tds_sessions_report_protection_login_and_rows() {
    let rows = [
        "person_name: J*** D**",
        "phone_number: +** **** **0961",
        "card_number: 4111 11** **** 1111",
        "phone_number: +********0961",
    ];
    let cases: [(&str, &[Alert<'_>]); 4] = [
        (
            "tds-not-sup.pcap",
            &[
                (6001, vec!["tds LOGIN7: user m***, password present (20 chars)"]),
                (6002, rows.to_vec()),
                (
                    6004,
                    vec!["tds: the server answers ENCRYPT_NOT_SUP: the whole session is in clear"],
                ),
            ],
        ),
        (
            "tds-login-only.pcap",
            &[
                (6002, rows.to_vec()),
                (
                    6004,
                    vec!["tds: ENCRYPT_OFF on both sides: only LOGIN7 is encrypted, the session continues in clear"],
                ),
            ],
        ),
        ("tds-encrypted.pcap", &[]),
        ("tds-tls10.pcap", &[(1001, vec!["negotiated TLSv1"])]),
    ];
    for (file, want) in cases {
        let run = common::analyze(&[&pcaps().join(file)], &["--quiet"]);
        let mut got: Vec<Alert<'_>> = run
            .alerts
            .iter()
            .map(|a| {
                let evidence = a["personal_data"]["evidence"]
                    .as_array()
                    .or(a["evidence"].as_array())
                    .map(|e| e.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                (a["alert"]["signature_id"].as_u64().unwrap_or(0), evidence)
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{file}");
    }
}

/// The flow record of an SMB session: dialect, signing and encryption, SMB1 obsolete.
#[test]
fn smb_flow_records_dialect_signing_encryption() {
    for (file, encrypted, smb) in [
        (
            "smb2-clear.pcap",
            false,
            serde_json::json!({"dialect": "3.11", "signing": "optional"}),
        ),
        (
            "smb3-encrypted.pcap",
            true,
            serde_json::json!({"dialect": "3.11", "signing": "optional"}),
        ),
        (
            "smb1-nt1.pcap",
            false,
            serde_json::json!({"dialect": "NT LANMAN 1.0", "signing": "optional", "obsolete": true}),
        ),
    ] {
        common::check_smb_session(&pcaps().join(file), encrypted, &smb);
    }
}

#[test]
fn every_bundled_capture_has_expectations_and_snapshot() {
    let listed: BTreeSet<&str> = EXPECTED
        .iter()
        .map(|e| e.file)
        .chain(VOICE.iter().map(|v| v.file))
        .collect();
    let bless = std::env::var_os("CLEARTRACE_BLESS").is_some();
    let mut names: Vec<String> = std::fs::read_dir(pcaps())
        .expect("pcaps/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in &names {
        assert!(
            listed.contains(name.as_str()),
            "{name} has no entry in EXPECTED"
        );
        let run = common::analyze(&[&pcaps().join(name)], &["--quiet"]);
        let got = normalised(&run);
        let snapshot = pcaps().join("expected").join(format!("{name}.jsonl"));
        if bless {
            let text: String = got.iter().map(|v| format!("{v}\n")).collect();
            std::fs::create_dir_all(snapshot.parent().expect("parent")).expect("mkdir");
            std::fs::write(&snapshot, text).expect("write snapshot");
            continue;
        }
        let text = std::fs::read_to_string(&snapshot)
            .unwrap_or_else(|_| panic!("{} missing", snapshot.display()));
        let want: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("snapshot JSON"))
            .collect();
        assert_eq!(
            got,
            want,
            "{name}: output differs from {}",
            snapshot.display()
        );
    }
}

#[test]
fn folder_argument_reads_every_capture_and_skips_other_files() {
    let run = common::analyze(&[&pcaps()], &[]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    let files: BTreeSet<String> = run
        .flows
        .iter()
        .filter_map(|f| f["pcap_filename"].as_str())
        .filter_map(|p| {
            Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect();
    let listed: BTreeSet<String> = EXPECTED
        .iter()
        .map(|e| e.file)
        .chain(VOICE.iter().map(|v| v.file))
        .map(str::to_string)
        .collect();
    assert_eq!(files, listed);
    // The summary on stderr.
    assert!(run.stderr.contains("packets/s"), "{}", run.stderr);
    assert!(run.stderr.contains("1001"), "{}", run.stderr);
}

#[test]
fn fail_on_sets_exit_status() {
    let tls10 = pcaps().join("tls10.pcap");
    let high = common::analyze(&[&tls10], &["--quiet", "--fail-on", "high"]);
    assert_eq!(high.output.status.code(), Some(3));
    assert_eq!(
        high.alerts.len(),
        2,
        "alerts are written before the exit status"
    );
    let critical = common::analyze(&[&tls10], &["--quiet", "--fail-on", "critical"]);
    assert_eq!(critical.output.status.code(), Some(0));
    let bad = common::analyze(&[&tls10], &["--fail-on", "severe"]);
    assert_eq!(bad.output.status.code(), Some(2), "usage error");
}

/// `--fail-on` and the report's headline go by each alert's own severity: the SIP
/// INFO digits of this call are a Luhn-valid card number, which raises rule 2004 (high)
/// to critical.
#[test]
fn fail_on_and_the_report_headline_use_the_alert_severity() {
    let call = pcaps().join("sip-udp-g711-dtmf.pcap");
    let dir = common::tempdir();
    let report = dir.join("report.json");
    let report_arg = report.to_str().expect("UTF-8 path");
    let run = common::analyze(
        &[&call],
        &["--quiet", "--fail-on", "critical", "--report", report_arg],
    );
    let severities: Vec<(u64, u64)> = run
        .alerts
        .iter()
        .map(|a| {
            (
                a["alert"]["signature_id"].as_u64().expect("id"),
                a["alert"]["severity"].as_u64().expect("severity"),
            )
        })
        .collect();
    assert!(severities.contains(&(2004, 1)), "{severities:?}");
    assert_eq!(run.output.status.code(), Some(3), "{}", run.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    let verdict = &report["verdict"];
    let worst_tile = verdict["alerts_by_severity"]
        .as_array()
        .expect("tiles")
        .iter()
        .find(|tile| tile["alerts"].as_u64() > Some(0))
        .expect("a tile with alerts");
    assert_eq!(worst_tile["severity_name"], "critical");
    assert_eq!(verdict["worst"], worst_tile["severity_name"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Offsets of the records of a little-endian µs pcap: (start, end) of each.
fn pcap_records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let caplen =
            u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
        out.push((at, at + 16 + caplen));
        at += 16 + caplen;
    }
    out
}

#[test]
fn truncated_capture_names_file_and_offset_and_keeps_results() {
    let bytes = std::fs::read(pcaps().join("tls10.pcap")).expect("read");
    let records = pcap_records(&bytes);
    // Cut inside the last record: everything before it is a complete exchange.
    let (start, end) = *records.last().expect("records");
    let dir = common::tempdir();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &bytes[..(start + end) / 2]).expect("write");
    // One engine, and workers reading the file by blocks: the same error and results.
    for extra in [&[][..], &["--workers", "2"][..]] {
        let run = common::analyze(&[&cut], extra);
        assert_eq!(
            run.output.status.code(),
            Some(1),
            "{extra:?}: {}",
            run.stderr
        );
        let expected = format!("{}: truncated at byte offset {start}", cut.display());
        assert!(
            run.stderr.contains(&expected),
            "{extra:?}: want {expected:?} in {}",
            run.stderr
        );
        let rules: BTreeSet<u64> = run
            .alerts
            .iter()
            .filter_map(|a| a["alert"]["signature_id"].as_u64())
            .collect();
        assert_eq!(
            rules,
            BTreeSet::from([1001, 1003]),
            "{extra:?}: results before the cut are kept"
        );
        assert_eq!(run.flows.len(), 1, "{extra:?}");
    }

    // Cut at every record boundary: never a panic, always a clean end or error.
    for (s, _) in &records {
        std::fs::write(&cut, &bytes[..*s]).expect("write");
        let run = common::analyze(&[&cut], &["--quiet"]);
        assert_eq!(
            run.output.status.code(),
            Some(0),
            "cut at {s}: {}",
            run.stderr
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn not_a_capture_and_empty_files_are_clear_errors() {
    let dir = common::tempdir();
    let cases: [(&str, &[u8], &str); 2] = [
        (
            "notes.pcap",
            b"this is not a capture file at all",
            "notes.pcap: not a pcap or pcapng file",
        ),
        (
            "empty.pcap",
            b"",
            "empty.pcap: empty file: no capture header",
        ),
    ];
    for (name, bytes, want) in cases {
        let bad = dir.join(name);
        std::fs::write(&bad, bytes).expect("write");
        let run = common::analyze(&[&bad, &pcaps().join("tls10.pcap")], &[]);
        assert_eq!(run.output.status.code(), Some(1), "{name}");
        assert!(run.stderr.contains(want), "{name}: {}", run.stderr);
        assert_eq!(
            run.alerts.len(),
            2,
            "{name}: the good file is still analysed"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `analyze -` with `file` on standard input: exit code, stderr, alert lines.
fn analyze_stdin(file: &Path) -> (Option<i32>, String, Vec<Value>) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args(["analyze", "-"])
        .stdin(std::fs::File::open(file).expect("open"))
        .output()
        .expect("run");
    let alerts = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        alerts,
    )
}

#[test]
fn dash_reads_the_capture_from_standard_input() {
    for name in ["tls10.pcap", "mixed-linktypes.pcapng"] {
        let file = pcaps().join(name);
        let (code, stderr, alerts) = analyze_stdin(&file);
        assert_eq!(code, Some(0), "{name}: {stderr}");
        let from_file = common::analyze(&[&file], &[]);
        // The same alerts, named after where they came from.
        let renamed: Vec<Value> = from_file
            .alerts
            .into_iter()
            .map(|mut a| {
                a["pcap_filename"] = Value::from("-");
                a
            })
            .collect();
        assert_eq!(alerts, renamed, "{name}");
        // "cleartrace: N packets, …": the count, not the timing.
        let packets = |s: &str| {
            s.lines()
                .find_map(|l| l.strip_prefix("cleartrace: "))
                .and_then(|l| l.split(',').next())
                .map(str::to_owned)
        };
        assert!(packets(&stderr).is_some(), "{stderr}");
        assert_eq!(packets(&stderr), packets(&from_file.stderr), "{name}");
    }
    // Cut short on standard input: the same error as a file, by the name "-".
    let bytes = std::fs::read(pcaps().join("tls10.pcap")).expect("read");
    let (start, end) = *pcap_records(&bytes).last().expect("records");
    let dir = common::tempdir();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &bytes[..(start + end) / 2]).expect("write");
    let (code, stderr, alerts) = analyze_stdin(&cut);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("-: truncated at byte offset {start}")),
        "{stderr}"
    );
    assert_eq!(alerts.len(), 2, "results before the cut are kept");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_pcapng_block_lengths_are_named_as_such() {
    let bytes = std::fs::read(pcaps().join("mixed-linktypes.pcapng")).expect("read");
    // Block offsets (all little-endian here): the first SLL2 packet starts at 4112,
    // after the whole Ethernet TLS exchange.
    let at = 4112;
    assert_eq!(&bytes[at..at + 8], &[6, 0, 0, 0, 112, 0, 0, 0]);
    let dir = common::tempdir();
    let file = dir.join("bad.pcapng");
    let cases: [(u32, Option<u32>, &str); 4] = [
        (
            94,
            None,
            "corrupt at byte offset 4112: block length 94 is not a multiple of 4 of at least 12",
        ),
        (
            8,
            None,
            "corrupt at byte offset 4112: block length 8 is not a multiple of 4 of at least 12",
        ),
        (
            0x8000_0000,
            None,
            "corrupt at byte offset 4112: block length 2147483648, over the 16 MiB limit",
        ),
        (
            112,
            Some(116),
            "corrupt at byte offset 4112: block length 112 at its start but 116 at its end",
        ),
    ];
    for (length, trailer, want) in cases {
        let mut bad = bytes.clone();
        bad[at + 4..at + 8].copy_from_slice(&length.to_le_bytes());
        if let Some(t) = trailer {
            bad[at + 108..at + 112].copy_from_slice(&t.to_le_bytes());
        }
        std::fs::write(&file, &bad).expect("write");
        let run = common::analyze(&[&file], &[]);
        assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("bad.pcapng: {want}")),
            "want {want:?} in {}",
            run.stderr
        );
        assert_eq!(run.flows.len(), 1, "the flow before the bad block is kept");
    }
    // A file cut inside a block is still truncation, with the numbers that tell it
    // apart from a wrong length.
    std::fs::write(&file, &bytes[..at + 50]).expect("write");
    let run = common::analyze(&[&file], &[]);
    assert_eq!(run.output.status.code(), Some(1), "{}", run.stderr);
    let want = "truncated at byte offset 4112: the file ends inside a block of 112 bytes (50 left)";
    assert!(run.stderr.contains(want), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn signatures_check_reports_file_line_reason() {
    let bin = env!("CARGO_BIN_EXE_cleartrace");
    let ok = std::process::Command::new(bin)
        .args(["signatures", "check"])
        .arg(common::repo().join("signatures"))
        .output()
        .expect("run");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let dir = common::tempdir();
    std::fs::write(
        dir.join("local.toml"),
        "[[rule]]\nid = 9001\nsignature = \"x\"\ncategory = \"c\"\nseverity = \"loud\"\n",
    )
    .expect("write");
    let bad = std::process::Command::new(bin)
        .args(["signatures", "check"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("local.toml:5:"), "{stderr}");
    let list = std::process::Command::new(bin)
        .args(["signatures", "list"])
        .output()
        .expect("run");
    let listing = String::from_utf8_lossy(&list.stdout);
    assert_eq!(
        listing.lines().filter(|l| !l.starts_with('p')).count(),
        22,
        "{listing}"
    );
    assert_eq!(
        listing.lines().filter(|l| l.starts_with('p')).count(),
        9,
        "{listing}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Secrets and personal data planted in the captures by `make-captures.sh`; none may
/// appear in any output, in any of the forms they had on the wire.
const PLANTED: &[&str] = &[
    "4111 1111 1111 1111",
    "4111111111111111",
    "4111+1111",
    "5500-0000-0000-0004",
    "5500000000000004",
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "0532 0130",
    "GB82WEST12345698765432",
    "jane.doe",
    "Jane Doe",
    "+44 1632 960961",
    "+441632960961",
    "1632 960961",
    "1632960961",
    "123-45-6789",
    "AB 12 34 56 C",
    "AB123456C",
    "S3cr3t",
    "PIN: 4096",
    // Management and mail: passwords, communities, SNMPv3 users and keys.
    "LdapPass-LEAKCHECK-7",
    "MqttPass-LEAKCHECK-8",
    "MailPass-LEAKCHECK-9",
    "TelnetPass-LEAKCHECK-10",
    "S3cretCommunity-LEAKCHECK",
    "AuthPass-LEAKCHECK-11",
    "PrivPass-LEAKCHECK-12",
    "AxiPass-LEAKCHECK-13",
    "LdapAdmin-LEAKCHECK-14",
    "SipPw-LEAKCHECK-15",
    "TdsPass-LEAKCHECK-16",
    // RADIUS (make-radius-captures.sh): the password and the called number.
    "Radius-LEAKCHECK-21",
    "1632960962",
    "micc_reports",
    // File share (make-smb-captures.sh): the password, the recording's name.
    "SmbPass-LEAKCHECK-15",
    "441632960961",
    "jane-doe",
    "960962",
    // Databases: the passwords of make-db-captures.sh and their account names.
    "PgClear-LEAKCHECK-16",
    "PgMd5-LEAKCHECK-17",
    "PgScram-LEAKCHECK-18",
    "MyNative-LEAKCHECK-19",
    "MyClear-LEAKCHECK-20",
    "acct_",
    "7700 900123",
    "janedoe",
    "nobodyuser",
    // Voice: the SIP password, the SDES keys, the digest response, the digits.
    "VoipPass-LEAKCHECK-6",
    "h08FQ+iuKrKWP02x4NIm0",
    "HsdCcLhHmT7klqKLyxw2DLkTF7",
    "adff5d3516040d677e000f5b59d2d338",
    "alice.martin",
    "Tr0ub4dor-LEAKCHECK-1",
    "bob.dupont",
    "Hunter2-LEAKCHECK-2",
    "carol.proxy",
    "Proxy-LEAKCHECK-3",
    "dave.nonstd",
    "Port-LEAKCHECK-4",
    "LEAKCHECK",
];

#[test]
fn no_planted_secret_reaches_any_output() {
    use base64::Engine as _;
    let run = common::analyze(&[&pcaps()], &["-v"]);
    let everything: String = run
        .alerts
        .iter()
        .chain(run.flows.iter())
        .map(|v| v.to_string())
        .chain([
            run.stderr.clone(),
            String::from_utf8_lossy(&run.output.stdout).into_owned(),
        ])
        .collect();
    assert!(
        everything.contains("password present"),
        "the credentials were found"
    );
    for secret in PLANTED {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    for (user, password) in [
        ("alice.martin", "Tr0ub4dor-LEAKCHECK-1"),
        ("dave.nonstd", "Port-LEAKCHECK-4"),
    ] {
        let wire = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        assert!(!everything.contains(&wire), "base64 credentials leaked");
    }
}

#[test]
fn max_flows_evicts_and_counts() {
    let dir = common::tempdir();
    let config = dir.join("small.toml");
    std::fs::write(
        &config,
        "[flow]\nmax_flows = 1\ntcp_closed_timeout = 3600\n",
    )
    .expect("write");
    let config = config.display().to_string();
    let run = common::analyze(
        &[&pcaps().join("mixed-linktypes.pcapng")],
        &["--config", &config],
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    let reasons: Vec<&str> = run
        .flows
        .iter()
        .filter_map(|f| f["flow"]["reason"].as_str())
        .collect();
    assert_eq!(reasons, vec!["forced", "shutdown"]);
    assert!(run.stderr.contains("flow evictions: 1"), "{}", run.stderr);
    // Both flows were judged in full before and after the eviction.
    let versions: Vec<&str> = run
        .flows
        .iter()
        .filter_map(|f| f["tls"]["version"].as_str())
        .collect();
    assert_eq!(versions, vec!["TLS 1.2", "TLS 1.2"]);

    std::fs::write(dir.join("bad.toml"), "[flow]\nmax_flowz = 1\n").expect("write");
    let bad = dir.join("bad.toml").display().to_string();
    let run = common::analyze(&[&pcaps().join("tls12.pcap")], &["--config", &bad]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(run.stderr.contains("bad.toml:2:"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn suppressions_hold_back_alerts_and_expired_ones_are_reported() {
    let dir = common::tempdir();
    let config = dir.join("suppress.toml");
    std::fs::write(
        &config,
        "[[suppress]]\nrule = 1001\ndst = \"127.0.0.0/8\"\nport = 4433\nreason = \"legacy handset test bench, ticket 42\"\n\n\
         [[suppress]]\nrule = 1003\nreason = \"was accepted until the migration\"\nexpires = \"2020-01-31\"\n",
    )
    .expect("write");
    let config = config.display().to_string();
    let run = common::analyze(&[&pcaps().join("tls10.pcap")], &["--config", &config]);
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    let rules: Vec<u64> = run
        .alerts
        .iter()
        .filter_map(|a| a["alert"]["signature_id"].as_u64())
        .collect();
    assert_eq!(
        rules,
        vec![1003],
        "1001 suppressed, the expired 1003 suppression no longer applies"
    );
    assert_eq!(
        run.stderr
            .matches("suppression expired on 2020-01-31")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("suppressed: 1 alert(s) by rule 1001 dst 127.0.0.0/8, port 4433"),
        "{}",
        run.stderr
    );

    std::fs::write(
        dir.join("bad.toml"),
        "[[suppress]]\nrule = 1001\nreason = \"\"\n",
    )
    .expect("write");
    let bad = dir.join("bad.toml").display().to_string();
    let run = common::analyze(&[&pcaps().join("tls10.pcap")], &["--config", &bad]);
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr
            .contains("bad.toml:1: [[suppress]] for rule 1001: a reason is required"),
        "{}",
        run.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_signatures_add_rules_and_patterns() {
    let dir = common::tempdir();
    std::fs::write(
        dir.join("site.toml"),
        "[[rule]]\nid = 9001\nsignature = \"Provisioning page served in clear\"\ncategory = \"custom\"\nseverity = \"low\"\n\n\
         [[pattern]]\nid = 100\nname = \"Provisioning page\"\nkind = \"custom\"\nregex = 'PBX provisioning'\n\
         anchor_literals = [\"PBX\"]\nprotocols = [\"http\"]\nseverity = \"low\"\nmask = \"name\"\nrule = 9001\n",
    )
    .expect("write");
    let sigs = dir.display().to_string();
    let run = common::analyze(
        &[&pcaps().join("http-plain.pcap")],
        &["--signatures", &sigs],
    );
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr);
    let alert = run
        .alerts
        .first()
        .unwrap_or_else(|| panic!("no alert: {}", run.stderr));
    assert_eq!(alert["alert"]["signature_id"], 9001);
    assert_eq!(alert["alert"]["severity_name"], "low");
    assert_eq!(
        alert["personal_data"]["evidence"],
        serde_json::json!(["custom: P** p***********"])
    );

    std::fs::write(
        dir.join("broken.toml"),
        "[[pattern]]\nid = 101\nname = \"x\"\nkind = \"custom\"\nregex = 'a(b'\nseverity = \"low\"\n",
    )
    .expect("write");
    let run = common::analyze(
        &[&pcaps().join("http-plain.pcap")],
        &["--signatures", &sigs],
    );
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr.contains("broken.toml:5: pattern 101: bad regex"),
        "{}",
        run.stderr
    );
    assert!(
        run.alerts.is_empty(),
        "a bad file never half-loads: nothing runs"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
