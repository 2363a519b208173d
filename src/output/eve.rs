//! EVE JSON lines (Suricata conventions, DESIGN §5): `alert` and `flow` events.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::community_id::community_id;
use super::{FlowEvent, Sink, TlsSummary};
use crate::decode::tunnel::Tunnel;
use crate::flow::Direction;
use crate::protocols::smb::SmbSession;
use crate::timestamp::Timestamp;

/// Suricata's `alert.gid`: cleartrace's rules all live in generator 1, as Suricata's
/// own text rules do.
const GENERATOR_ID: u32 = 1;

#[derive(Serialize)]
struct Common<'a> {
    timestamp: Timestamp,
    flow_id: u64,
    /// The sensor's name (`--sensor-name`, config `sensor_name`), as Suricata's `host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pcap_filename: &'a str,
    /// The live sensor's interface (Suricata's name for it).
    #[serde(skip_serializing_if = "str::is_empty")]
    in_iface: &'a str,
    event_type: &'static str,
    src_ip: IpAddr,
    src_port: u16,
    dest_ip: IpAddr,
    dest_port: u16,
    proto: &'static str,
    app_proto: &'static str,
    community_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tunnel: Option<&'a Tunnel>,
}

#[derive(Serialize)]
struct TlsJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_max_version: Option<String>,
}

impl<'a> From<&'a TlsSummary> for TlsJson<'a> {
    fn from(t: &'a TlsSummary) -> Self {
        TlsJson {
            version: t.version.map(|v| v.to_string()),
            cipher: t.cipher.map(|c| c.name()),
            sni: t.sni.as_deref(),
            client_max_version: t.client_max_version.map(|v| v.to_string()),
        }
    }
}

#[derive(Serialize)]
struct FlowCounters {
    #[serde(flatten)]
    counts: FlowCounts,
    end: Timestamp,
    /// Whole seconds from first to last packet, as Suricata computes it.
    age: u64,
    state: &'static str,
    reason: &'static str,
    alerted: bool,
}

/// Packets and bytes each way and the start: what both `flow` objects begin with.
#[derive(Serialize)]
struct FlowCounts {
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    start: Timestamp,
}

impl FlowCounts {
    fn of(event: &FlowEvent<'_>) -> Self {
        FlowCounts {
            pkts_toserver: event.pkts[0],
            pkts_toclient: event.pkts[1],
            bytes_toserver: event.bytes[0],
            bytes_toclient: event.bytes[1],
            start: event.start,
        }
    }
}

/// The `flow` object of an alert (Suricata 7+): counters and start of the flow, and its
/// own orientation, which the alert's `src_ip`/`dest_ip` follow only `to_server`.
#[derive(Serialize)]
struct AlertFlow {
    #[serde(flatten)]
    counts: FlowCounts,
    src_ip: IpAddr,
    dest_ip: IpAddr,
    src_port: u16,
    dest_port: u16,
}

/// Media flows: codec, packets and how the classification was reached.
#[derive(Serialize)]
struct RtpJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    codec: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_type: Option<u8>,
    packets: u64,
    ssrcs: usize,
    confidence: &'static str,
}

#[derive(Serialize)]
struct FlowJson<'a> {
    #[serde(flatten)]
    common: Common<'a>,
    flow: FlowCounters,
    encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtp: Option<RtpJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    smb: Option<SmbJson>,
}

/// An SMB session's dialect (Suricata's names: `3.11`, `NT LM 0.12`) and signing; SMB1
/// is marked obsolete here rather than by a rule (DESIGN §6 has none for it).
#[derive(Serialize)]
struct SmbJson {
    dialect: String,
    signing: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    obsolete: bool,
}

impl From<&SmbSession> for SmbJson {
    fn from(s: &SmbSession) -> Self {
        SmbJson {
            dialect: s.dialect.name(),
            signing: if s.signing_required {
                "required"
            } else {
                "optional"
            },
            obsolete: s.dialect.obsolete(),
        }
    }
}

#[derive(Serialize)]
struct SipJson {
    /// Hash of the Call-ID: groups a dialog's alerts without writing the Call-ID.
    dialog: String,
}

#[derive(Serialize)]
struct AlertInfo<'a> {
    action: &'static str,
    gid: u32,
    signature_id: u32,
    rev: u32,
    signature: &'a str,
    category: &'a str,
    severity: u8,
    severity_name: &'static str,
}

#[derive(Serialize)]
struct PersonalData<'a> {
    kinds: &'a [&'static str],
    count: u64,
    evidence: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<&'static str>,
}

#[derive(Serialize)]
struct Compliance<'a> {
    gdpr: &'a [String],
}

#[derive(Serialize)]
struct AlertJson<'a> {
    #[serde(flatten)]
    common: Common<'a>,
    direction: &'static str,
    alert: AlertInfo<'a>,
    flow: AlertFlow,
    /// Matches of this rule on this flow (DESIGN §5: one alert per flow and rule).
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    personal_data: Option<PersonalData<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    evidence: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sip: Option<SipJson>,
    compliance: Compliance<'a>,
}

/// Where JSON lines go: a file, stdout, a buffer in tests; sent to the workers' lock.
pub type Stream = Box<dyn Write + Send>;

/// Writes alerts and/or flow records as JSON lines. Write errors are kept and
/// reported once at the end rather than aborting the analysis.
pub struct EveWriter {
    alerts: Option<Stream>,
    flows: Option<Stream>,
    /// Flow records go to the alerts stream (both asked for the same file or stdout):
    /// one writer, so lines never interleave mid-way.
    flows_with_alerts: bool,
    /// The source is an interface (`in_iface`), not a capture file (`pcap_filename`).
    live: bool,
    host: Option<String>,
    error: Option<io::Error>,
    /// One line, serialised here and written whole: serde_json writes token by token,
    /// and each token through the boxed stream was a dynamic call (300 per alert line,
    /// two thirds of the cost of writing it).
    line: Vec<u8>,
}

impl EveWriter {
    pub fn new(alerts: Option<Stream>, flows: Option<Stream>) -> Self {
        EveWriter {
            alerts,
            flows,
            flows_with_alerts: false,
            live: false,
            host: None,
            error: None,
            line: Vec::new(),
        }
    }

    /// Alerts and flow records in one stream.
    pub fn combined(out: Stream) -> Self {
        EveWriter {
            flows_with_alerts: true,
            ..Self::new(Some(out), None)
        }
    }

    fn write_line(
        out: &mut Option<Stream>,
        error: &mut Option<io::Error>,
        line: &mut Vec<u8>,
        value: &impl Serialize,
    ) {
        let Some(w) = out.as_mut() else { return };
        if error.is_some() {
            return;
        }
        line.clear();
        let result = serde_json::to_writer(&mut *line, value)
            .map_err(io::Error::from)
            .and_then(|()| {
                line.push(b'\n');
                w.write_all(line)
            });
        if let Err(e) = result {
            *error = Some(e);
        }
    }

    /// Names sources as the live sensor's interface (`in_iface`).
    pub fn live(self) -> Self {
        EveWriter { live: true, ..self }
    }

    /// Writes the sensor's name as `host` on every line.
    pub fn host(self, host: Option<String>) -> Self {
        EveWriter { host, ..self }
    }

    /// Swaps in new streams (the live sensor on SIGHUP, after logrotate moved the
    /// files), flushing the old ones first. A combined writer stays combined.
    pub fn reopen(&mut self, alerts: Option<Stream>, flows: Option<Stream>) -> io::Result<()> {
        let flushed = self.flush();
        self.alerts = alerts;
        self.flows = if self.flows_with_alerts { None } else { flows };
        flushed
    }

    /// Hands buffered lines to the files, so a tailing SIEM sees them.
    pub fn flush(&mut self) -> io::Result<()> {
        for w in [self.alerts.as_mut(), self.flows.as_mut()]
            .into_iter()
            .flatten()
        {
            w.flush()?;
        }
        Ok(())
    }

    /// Flushes both streams; the first write error of the run, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.flush()
    }
}

impl Sink for EveWriter {
    fn flow_ended(&mut self, event: &FlowEvent<'_>) {
        let flow_line = self.flows.is_some() || self.flows_with_alerts;
        // Most flows raise nothing: without a flow log they have no line, and their
        // community id (a SHA-1 and a base64 string) is not worth computing.
        if event.alerts.is_empty() && !flow_line {
            return;
        }
        let community_id = community_id(event.l4, event.client, event.server);
        let host = self.host.as_deref();
        // Suricata writes an alert's addresses in the direction of its packet.
        let common = |timestamp, event_type, direction| {
            let (src, dest) = match direction {
                Direction::ToServer => (event.client, event.server),
                Direction::ToClient => (event.server, event.client),
            };
            Common {
                timestamp,
                flow_id: event.flow_id,
                host,
                pcap_filename: if self.live { "" } else { event.source },
                in_iface: if self.live { event.source } else { "" },
                event_type,
                src_ip: src.0,
                src_port: src.1,
                dest_ip: dest.0,
                dest_port: dest.1,
                proto: event.l4.as_str(),
                app_proto: event.app_proto.as_str(),
                community_id: &community_id,
                tunnel: event.tunnel,
            }
        };
        for alert in event.alerts {
            let rule = &alert.rule;
            let personal_data = (!alert.kinds.is_empty()).then(|| PersonalData {
                kinds: &alert.kinds,
                count: alert.count,
                evidence: &alert.evidence,
                confidence: alert.confidence.map(|c| c.as_str()),
            });
            let json = AlertJson {
                common: common(alert.timestamp, "alert", alert.direction),
                direction: match alert.direction {
                    Direction::ToServer => "to_server",
                    Direction::ToClient => "to_client",
                },
                alert: AlertInfo {
                    action: "allowed",
                    gid: GENERATOR_ID,
                    signature_id: rule.id,
                    rev: rule.rev,
                    signature: &rule.signature,
                    category: &rule.category,
                    severity: alert.severity.as_int(),
                    severity_name: alert.severity.as_str(),
                },
                flow: AlertFlow {
                    counts: FlowCounts::of(event),
                    src_ip: event.client.0,
                    dest_ip: event.server.0,
                    src_port: event.client.1,
                    dest_port: event.server.1,
                },
                count: alert.count,
                evidence: if personal_data.is_some() {
                    &[]
                } else {
                    &alert.evidence
                },
                personal_data,
                tls: event.tls.map(TlsJson::from),
                sip: alert.scope.map(|d| SipJson {
                    dialog: format!("{d:016x}"),
                }),
                compliance: Compliance { gdpr: &rule.gdpr },
            };
            Self::write_line(&mut self.alerts, &mut self.error, &mut self.line, &json);
        }
        if flow_line {
            let json = FlowJson {
                common: common(event.end, "flow", Direction::ToServer),
                flow: FlowCounters {
                    counts: FlowCounts::of(event),
                    end: event.end,
                    age: event.end.secs().saturating_sub(event.start.secs()),
                    state: event.state.as_str(),
                    reason: event.reason.as_str(),
                    alerted: !event.alerts.is_empty(),
                },
                encrypted: event.encrypted,
                tls: event.tls.map(TlsJson::from),
                rtp: event.media.map(|m| RtpJson {
                    codec: m.codec.as_deref(),
                    payload_type: m.payload_type,
                    packets: m.packets,
                    ssrcs: m.ssrcs,
                    confidence: m.confidence.as_str(),
                }),
                smb: event.smb.map(SmbJson::from),
            };
            let out = if self.flows_with_alerts {
                &mut self.alerts
            } else {
                &mut self.flows
            };
            Self::write_line(out, &mut self.error, &mut self.line, &json);
        }
    }
}
