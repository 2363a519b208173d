//! Summaries a flow record keeps and the policy reads: a media stream's and an SMB
//! session's. They sit in a module of their own so that the facts that carry them
//! (`fact.rs`) and the dissectors that make them (`rtp.rs`, `smb.rs`) import them
//! without importing each other.

use crate::protocols::AppProto;

/// How sure the classification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaConfidence {
    /// Announced by SDP.
    Signalled,
    /// Proven by the packets: every G.711/G.722 payload is a whole codec frame (no
    /// room for an SRTP tag), or every one is a frame plus a tag (SRTP).
    Proven,
    /// An RTP stream (sequence numbers advance) whose payload cannot be told from
    /// SRTP's: dynamic payload types without signalling.
    Heuristic,
}

impl MediaConfidence {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaConfidence::Signalled => "signalled",
            MediaConfidence::Proven => "proven",
            MediaConfidence::Heuristic => "heuristic",
        }
    }
}

/// One media flow at its end: what the policy and the flow record need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    pub app_proto: AppProto,
    /// Most frequent payload type and its codec name, if known.
    pub payload_type: Option<u8>,
    pub codec: Option<String>,
    pub packets: u64,
    pub ssrcs: usize,
    /// Carries audio (a voice codec), as far as can be told.
    pub audio: bool,
    pub confidence: MediaConfidence,
    pub dialog: Option<u64>,
}

/// The SMB dialect a session negotiated, named as Suricata's SMB logger names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialect {
    Smb2(u16),
    /// SMB1, with the dialect string the client offered and the server chose.
    Smb1(String),
}

impl Dialect {
    pub fn name(&self) -> String {
        match self {
            Dialect::Smb2(0x0202) => "2.02".into(),
            Dialect::Smb2(0x0210) => "2.10".into(),
            Dialect::Smb2(0x0222) => "2.22".into(),
            Dialect::Smb2(0x0224) => "2.24".into(),
            Dialect::Smb2(0x0300) => "3.00".into(),
            Dialect::Smb2(0x0302) => "3.02".into(),
            Dialect::Smb2(0x0310) => "3.10".into(),
            Dialect::Smb2(0x0311) => "3.11".into(),
            // The multi-protocol negotiate's wildcard (§2.2.4): a second NEGOTIATE follows.
            Dialect::Smb2(0x02ff) => "2.??".into(),
            Dialect::Smb2(other) => format!("unknown 0x{other:04x}"),
            Dialect::Smb1(name) => name.clone(),
        }
    }

    /// SMB1 has no encryption, weak signing, and is deprecated by Microsoft and Samba.
    pub fn obsolete(&self) -> bool {
        matches!(self, Dialect::Smb1(_))
    }
}

/// What the flow record says about an SMB session (from the server's NEGOTIATE response).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbSession {
    pub dialect: Dialect,
    /// The server requires signed messages.
    pub signing_required: bool,
}
