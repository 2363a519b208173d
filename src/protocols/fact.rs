//! What a dissector tells the policy: a small set of protocol-neutral facts.
//!
//! A fact says what crossed the wire (a credential, personal data, a key, a channel in
//! clear …), never which rule that breaks: the engine hands each fact to the policy with
//! the protocol it was seen on, and `signatures/raises.toml` names the rule for that
//! (fact, protocol) pair. A new protocol therefore needs no policy code as long as what
//! it finds is one of these.
//!
//! Every string a fact carries is either masked already (`*_masked`, descriptions built
//! with `personal_data::mask`) or raw and masked by the policy before it is written
//! (`Credential::user`); secrets are only ever a length.

use crate::personal_data::Match;
use crate::protocols::dtmf::DtmfFact;
use crate::protocols::http::authorization::{AuthScheme, HttpCredentials};
use crate::protocols::summaries::{SmbSession, StreamSummary};
use crate::protocols::tls::TlsFact;

/// Everything a dissector can tell the policy and the flow record.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    /// The handshake of an encrypted channel: what the client offered, what the server
    /// chose (TLS, DTLS, and TLS after STARTTLS).
    Encryption(TlsFact),
    /// A secret crossed in clear, or a response to a challenge with the user name.
    Credential(Credential),
    /// Personal data in clear.
    PersonalData(PersonalData),
    /// A key that protects other traffic, in clear (an SDES `a=crypto` line).
    KeyInClear(KeyInClear),
    /// A channel that could be encrypted carries its control or data in clear (MODBUS,
    /// a database session, SNMPv3 without privacy).
    ClearChannel(ClearChannel),
    /// A media flow's summary at its end.
    Media(StreamSummary),
    /// DTMF digits seen in clear (counted, never kept).
    Dtmf(DtmfFact),
    /// The server offered an upgrade to TLS (STARTTLS, STLS, AUTH TLS); the client went
    /// on in clear.
    UpgradeRefused,
    /// What the flow record keeps about the session; no rule reads it.
    Session(Session),
}

/// How a secret crossed: the words the evidence uses for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialForm {
    /// A login command or message: `USER`/`PASS`, `AUTH PLAIN`, LOGIN7, CONNECT …
    Login {
        protocol: &'static str,
        method: &'static str,
    },
    /// An `Authorization` or `Proxy-Authorization` header (HTTP, SIP).
    Header {
        header: &'static str,
        scheme: AuthScheme,
    },
    /// A directory bind; the bind name is masked by the dissector, which knows its
    /// structure (`cn=J*** D**,…`).
    Bind {
        mechanism: &'static str,
        name_masked: String,
    },
    /// An SNMP v1/v2c community string.
    Community {
        version: &'static str,
        well_known_default: bool,
    },
}

/// A credential seen in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub form: CredentialForm,
    /// The user name as sent; the policy masks it.
    pub user: Option<String>,
    /// Length of the secret (password, token, community, digest response); the secret
    /// itself is never kept.
    pub secret_len: usize,
    /// Only a response to a challenge crossed (Digest, NTLM, CRAM-MD5): the user name is
    /// exposed, the secret is not readable off the wire.
    pub challenge_response: bool,
    /// What inside the flow it belongs to (a SIP dialog), named by the alert.
    pub scope: Option<u64>,
}

impl Credential {
    /// The credentials of an authorization header (HTTP, SIP).
    pub fn from_header(creds: HttpCredentials, scope: Option<u64>) -> Self {
        Credential {
            challenge_response: creds.scheme.challenge_response(),
            form: CredentialForm::Header {
                header: creds.header,
                scheme: creds.scheme,
            },
            user: creds.user,
            secret_len: creds.secret_len,
            scope,
        }
    }
}

/// Personal data in clear: the scanner's matches, or a record that is personal data as
/// a whole (a directory entry, a paging call, a recording) with the matches inside it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PersonalData {
    /// Masked by the scanner.
    pub matches: Vec<Match>,
    pub record: Option<Record>,
    /// What inside the flow it belongs to (a SIP dialog), named by the alert.
    pub scope: Option<u64>,
}

impl PersonalData {
    pub fn matches(matches: Vec<Match>) -> Self {
        PersonalData {
            matches,
            ..PersonalData::default()
        }
    }
}

/// The kinds a `Record` can be, besides the personal-data kinds of the patterns.
pub const RECORD_KINDS: &[&str] = &[
    "directory_entry",
    "paging",
    "voice_recording",
    "call_records",
];

/// A record that is personal data as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// What it is, as the alert's kinds name it: `directory_entry`, `paging`,
    /// `voice_recording`, `call_records`.
    pub kind: &'static str,
    /// Masked description for the evidence: `search result: cn, mail`,
    /// `READ 2026-*.wav (voice recording), 65536 bytes`.
    pub description: String,
}

/// A key in clear: the suite it is for and its length, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInClear {
    pub suite: String,
    pub key_len: usize,
    /// What inside the flow it belongs to (a SIP dialog).
    pub scope: Option<u64>,
}

impl Fact {
    /// A channel in clear that exposes nothing but itself (no personal-data kinds).
    pub fn clear_channel(description: impl Into<String>) -> Fact {
        Fact::ClearChannel(ClearChannel {
            description: description.into(),
            kinds: &[],
        })
    }
}

/// A channel in clear that could be encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearChannel {
    /// Masked description for the evidence: `unit 1, function 3 (Read Holding
    /// Registers)`, `tds: PRELOGIN …`, `SNMPv3 authNoPriv, user j***`.
    pub description: String,
    /// Personal-data kinds the channel exposes by being in clear (`user_name`).
    pub kinds: &'static [&'static str],
}

/// Session details for the flow record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Session {
    Smb(SmbSession),
}
