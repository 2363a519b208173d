//! Sinks: they receive finished flows with their alerts and write them. They decide
//! nothing; every string they get is already masked.

pub mod community_id;
pub mod eve;
pub mod lines;
pub mod metrics;
pub mod report;
pub mod summary;
pub mod syslog;

use std::io;
use std::path::Path;

use crate::decode::tunnel::Tunnel;
use crate::flow::{Direction, EndReason, Endpoint, L4};
use crate::personal_data::Confidence;
use crate::protocols::rtp::StreamSummary;
use crate::protocols::smb::SmbSession;
use crate::protocols::tls::{Cipher, TlsVersion};
use crate::protocols::AppProto;
use crate::severity::Severity;
use crate::signatures::Rule;
use crate::timestamp::Timestamp;

/// TLS as seen on one flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSummary {
    pub version: Option<TlsVersion>,
    pub cipher: Option<Cipher>,
    pub sni: Option<String>,
    pub client_max_version: Option<TlsVersion>,
}

/// One alert: a rule that matched on a flow, `count` times.
#[derive(Clone, Debug)]
pub struct AlertEvent {
    pub timestamp: Timestamp,
    /// The direction of the packet that first raised it.
    pub direction: Direction,
    pub rule: Rule,
    /// The rule's severity, raised by the worst pattern involved.
    pub severity: Severity,
    pub count: u64,
    pub kinds: Vec<&'static str>,
    /// Masked evidence, at most a few distinct lines.
    pub evidence: Vec<String>,
    /// Best confidence of the personal-data matches, if any.
    pub confidence: Option<Confidence>,
    /// The SIP dialog (Call-ID hash) the alert is about, when it is per dialog.
    pub scope: Option<u64>,
}

/// A flow record at its end (or at an active timeout), with the flow's alerts.
pub struct FlowEvent<'a> {
    pub flow_id: u64,
    pub l4: L4,
    pub client: Endpoint,
    pub server: Endpoint,
    pub app_proto: AppProto,
    pub start: Timestamp,
    pub end: Timestamp,
    /// [to server, to client]
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    pub encrypted: bool,
    pub tls: Option<&'a TlsSummary>,
    pub media: Option<&'a StreamSummary>,
    pub smb: Option<&'a SmbSession>,
    /// The tunnel the flow travelled in, if any.
    pub tunnel: Option<&'a Tunnel>,
    pub reason: EndReason,
    pub state: ConnectionState,
    /// Where the packets came from: the capture file, or the interface when live.
    pub source: &'a str,
    pub alerts: &'a [AlertEvent],
}

/// Where a flow's connection stood when it ended, in Suricata's words (`flow.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    New,
    Established,
    Closed,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::New => "new",
            ConnectionState::Established => "established",
            ConnectionState::Closed => "closed",
        }
    }
}

pub trait Sink {
    fn flow_ended(&mut self, event: &FlowEvent<'_>);
}

/// The run's sinks, owned together so workers can share them behind one lock: EVE
/// lines, and the summary the report, metrics and stderr table come from.
pub struct Outputs {
    pub eve: eve::EveWriter,
    pub summary: summary::Summary,
}

impl Sink for Outputs {
    fn flow_ended(&mut self, event: &FlowEvent<'_>) {
        self.eve.flow_ended(event);
        self.summary.flow_ended(event);
    }
}

/// Writes `path` whole or not at all: into a hidden file beside it, then renamed over
/// it, so a full disk never leaves half a report or a metrics file cut mid-line (and a
/// textfile collector never reads one being written). The hidden name keeps the
/// extension, which picks the format.
pub fn write_whole(path: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{}.{name}", std::process::id()));
    let result = write(&partial).and_then(|()| std::fs::rename(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}
