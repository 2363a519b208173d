//! Facts → findings. The policy never sees bytes: it reads facts, applies the
//! configured thresholds and names the rule, with evidence already masked.

pub mod suppress;

use crate::flow::Endpoint;
use crate::personal_data::{mask, Confidence, Kind, Match};
use crate::protocols::dtmf::DtmfFact;
use crate::protocols::http::authorization::{AuthScheme, HttpCredentials};
use crate::protocols::http::HttpFact;
use crate::protocols::ldap::LdapFact;
use crate::protocols::login::LoginFact;
use crate::protocols::rtp::{MediaConfidence, StreamSummary, MIN_VOICE_PACKETS};
use crate::protocols::sip::SipFact;
use crate::protocols::smb::{FileKind, SmbFact};
use crate::protocols::snmp::SnmpFact;
use crate::protocols::tls::{TlsFact, TlsVersion};
use crate::protocols::{AppProto, Fact};
use crate::severity::Severity;
use crate::signatures::RuleSet;
use suppress::Suppressions;

pub const RULE_SIP_PERSONAL_DATA: u32 = 2001;
pub const RULE_CLEARTEXT_VOICE: u32 = 2002;
pub const RULE_SRTP_KEY_IN_CLEAR: u32 = 2003;
pub const RULE_DTMF_IN_CLEAR: u32 = 2004;
pub const RULE_SIP_DIGEST: u32 = 2005;
pub const RULE_TLS_BELOW_MIN: u32 = 1001;
pub const RULE_WEAK_CIPHER: u32 = 1002;
pub const RULE_CLIENT_BELOW_MIN: u32 = 1003;
pub const RULE_LDAP_PASSWORD: u32 = 3001;
pub const RULE_LDAP_PERSONAL_DATA: u32 = 3002;
pub const RULE_SNMP_COMMUNITY: u32 = 4001;
pub const RULE_SNMP_PERSONAL_DATA: u32 = 4002;
pub const RULE_SNMP_V3_NO_PRIVACY: u32 = 4003;
pub const RULE_ESPA_PAGING: u32 = 5001;
pub const RULE_MODBUS_CLEAR: u32 = 5002;
pub const RULE_CLEARTEXT_CREDENTIALS: u32 = 6001;
pub const RULE_CHALLENGE_RESPONSE_LOGIN: u32 = 6006;
pub const RULE_STARTTLS_NOT_USED: u32 = 6003;
pub const RULE_DATABASE_IN_CLEAR: u32 = 6004;
pub const RULE_CLEARTEXT_PERSONAL_DATA: u32 = 6002;
pub const RULE_FILE_SHARE_RECORDINGS: u32 = 6005;
pub const RULE_UNCLASSIFIED_PERSONAL_DATA: u32 = 7001;

/// One rule matched by one fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: u32,
    /// Personal-data kinds involved (empty for purely technical findings).
    pub kinds: Vec<&'static str>,
    /// Masked, safe to write anywhere.
    pub evidence: Vec<String>,
    /// Matches this finding stands for.
    pub count: u64,
    /// The worst severity of the patterns involved: a card number raises a rule whose
    /// own grade is lower to the pattern's.
    pub severity_floor: Option<Severity>,
    /// The best confidence of the matches (personal-data findings only).
    pub confidence: Option<Confidence>,
    /// What inside the flow the finding belongs to (a SIP dialog): one alert per
    /// flow, rule and scope.
    pub scope: Option<u64>,
}

impl Finding {
    fn technical(rule_id: u32, evidence: String) -> Self {
        Finding {
            rule_id,
            kinds: Vec::new(),
            evidence: vec![evidence],
            count: 1,
            severity_floor: None,
            confidence: None,
            scope: None,
        }
    }

    fn scoped(mut self, scope: u64) -> Self {
        self.scope = Some(scope);
        self
    }

    fn with_kinds(mut self, kinds: &[&'static str]) -> Self {
        self.kinds.extend_from_slice(kinds);
        self
    }
}

/// `pop3 USER/PASS: user j***, password present (9 chars)`.
fn login_finding(l: &LoginFact) -> Finding {
    let (rule, secret) = if l.challenge_response {
        (
            RULE_CHALLENGE_RESPONSE_LOGIN,
            mask::secret("digest response", l.secret_len),
        )
    } else {
        (
            RULE_CLEARTEXT_CREDENTIALS,
            mask::secret("password", l.secret_len),
        )
    };
    let evidence = match l.user.as_deref().map(mask::user_name) {
        Some(user) => format!("{} {}: user {user}, {secret}", l.protocol, l.method),
        None => format!("{} {}: {secret}", l.protocol, l.method),
    };
    Finding::technical(rule, evidence).with_kinds(&[Kind::Credential.as_str()])
}

/// `Authorization: Basic user a***, password present (7 chars)`: the header, the
/// scheme, the masked user and the secret's length.
fn credentials_evidence(creds: &HttpCredentials) -> String {
    let secret = match creds.scheme {
        AuthScheme::Basic => mask::secret("password", creds.secret_len),
        AuthScheme::Digest => mask::secret("digest response", creds.secret_len),
        _ => mask::secret("token", creds.secret_len),
    };
    match creds.user.as_deref().map(mask::user_name) {
        Some(user) => format!(
            "{}: {} user {user}, {secret}",
            creds.header,
            creds.scheme.as_str()
        ),
        None => format!("{}: {}, {secret}", creds.header, creds.scheme.as_str()),
    }
}

#[derive(Clone)]
pub struct Policy {
    rules: RuleSet,
    min_tls: TlsVersion,
    suppressions: Suppressions,
}

/// The rule personal data raises on a cleartext channel of this protocol.
fn personal_data_rule(app_proto: AppProto, kind: Kind) -> u32 {
    match (app_proto, kind) {
        (AppProto::Failed, _) => RULE_UNCLASSIFIED_PERSONAL_DATA,
        (AppProto::Ldap, Kind::Credential) => RULE_LDAP_PASSWORD,
        (AppProto::Ldap, _) => RULE_LDAP_PERSONAL_DATA,
        (AppProto::Snmp, _) => RULE_SNMP_PERSONAL_DATA,
        (AppProto::Espa, _) => RULE_ESPA_PAGING,
        (_, Kind::Credential) => RULE_CLEARTEXT_CREDENTIALS,
        (AppProto::Sip, _) => RULE_SIP_PERSONAL_DATA,
        _ => RULE_CLEARTEXT_PERSONAL_DATA,
    }
}

impl Policy {
    pub fn new(rules: RuleSet, min_tls: TlsVersion, suppressions: Suppressions) -> Self {
        Policy {
            rules,
            min_tls,
            suppressions,
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn suppressions(&self) -> &Suppressions {
        &self.suppressions
    }

    /// Whether an alert of `rule` on this flow is held back by a suppression (counted).
    pub fn suppressed(&self, rule: u32, client: Endpoint, server: Endpoint) -> bool {
        self.suppressions.suppress(rule, client, server)
    }

    fn push(&self, out: &mut Vec<Finding>, finding: Finding) {
        if self.rules.get(finding.rule_id).is_some_and(|r| r.enabled) {
            out.push(finding);
        }
    }

    pub fn evaluate(&self, fact: &Fact, app_proto: AppProto, out: &mut Vec<Finding>) {
        match fact {
            Fact::Tls(TlsFact::ClientHello { max_version, .. }) => {
                if max_version.below(self.min_tls) {
                    let evidence = format!("client offers at most {}", max_version.as_str());
                    self.push(out, Finding::technical(RULE_CLIENT_BELOW_MIN, evidence));
                }
            }
            Fact::Tls(TlsFact::ServerHello { version, cipher }) => {
                if version.below(self.min_tls) {
                    self.push(
                        out,
                        Finding::technical(
                            RULE_TLS_BELOW_MIN,
                            format!("negotiated {}", version.as_str()),
                        ),
                    );
                }
                if let Some(weakness) = cipher.weakness() {
                    let evidence = format!("cipher {} ({})", cipher.name(), weakness.as_str());
                    self.push(out, Finding::technical(RULE_WEAK_CIPHER, evidence));
                }
            }
            Fact::Http(HttpFact::Credentials(creds)) => {
                let rule = if creds.scheme.challenge_response() {
                    RULE_CHALLENGE_RESPONSE_LOGIN
                } else {
                    RULE_CLEARTEXT_CREDENTIALS
                };
                let finding = Finding::technical(rule, credentials_evidence(creds));
                self.push(out, finding.with_kinds(&[Kind::Credential.as_str()]));
            }
            Fact::PersonalData(matches) => self.personal_data(matches, app_proto, None, out),
            Fact::Sip(SipFact::PersonalData { dialog, matches }) => {
                self.personal_data(matches, AppProto::Sip, Some(*dialog), out)
            }
            Fact::Sip(SipFact::Digest {
                dialog,
                credentials,
            }) => {
                let finding =
                    Finding::technical(RULE_SIP_DIGEST, credentials_evidence(credentials));
                self.push(
                    out,
                    finding
                        .with_kinds(&[Kind::Credential.as_str()])
                        .scoped(*dialog),
                );
            }
            Fact::Sip(SipFact::SrtpKey {
                dialog,
                suite,
                key_len,
            }) => {
                let evidence = format!("a=crypto {suite}, {}", mask::secret("key", *key_len));
                self.push(
                    out,
                    Finding::technical(RULE_SRTP_KEY_IN_CLEAR, evidence)
                        .with_kinds(&["srtp_key"])
                        .scoped(*dialog),
                );
            }
            Fact::Media(stream) => self.media(stream, out),
            Fact::Dtmf(dtmf) => self.dtmf(dtmf, out),
            Fact::Ldap(LdapFact::Credentials {
                dn_masked,
                mechanism,
                password_len,
            }) => {
                let evidence = format!(
                    "{mechanism} bind as {dn_masked}, {}",
                    mask::secret("password", *password_len)
                );
                self.push(
                    out,
                    Finding::technical(RULE_LDAP_PASSWORD, evidence)
                        .with_kinds(&[Kind::Credential.as_str()]),
                );
            }
            Fact::Ldap(LdapFact::PersonalAttributes {
                operation,
                attributes,
                matches,
            }) => {
                let mut finding = Finding::technical(
                    RULE_LDAP_PERSONAL_DATA,
                    format!("{operation}: {}", attributes.join(", ")),
                );
                finding.kinds.push("directory_entry");
                for m in matches {
                    if !finding.kinds.contains(&m.kind.as_str()) {
                        finding.kinds.push(m.kind.as_str());
                    }
                    let evidence = m.labelled_evidence();
                    if !finding.evidence.contains(&evidence) {
                        finding.evidence.push(evidence);
                    }
                    finding.severity_floor = Some(
                        finding
                            .severity_floor
                            .map_or(m.severity, |s| s.min(m.severity)),
                    );
                }
                self.push(out, finding);
            }
            Fact::Ldap(LdapFact::StartTls) => {}
            Fact::Snmp(SnmpFact::Community {
                version,
                length,
                well_known_default,
            }) => {
                let default = if *well_known_default {
                    ", a well-known default"
                } else {
                    ""
                };
                let evidence = format!(
                    "SNMP{version} {}{default}",
                    mask::secret("community", *length)
                );
                self.push(
                    out,
                    Finding::technical(RULE_SNMP_COMMUNITY, evidence)
                        .with_kinds(&[Kind::Credential.as_str()]),
                );
            }
            Fact::Snmp(SnmpFact::PersonalData { matches }) => {
                self.personal_data(matches, AppProto::Snmp, None, out)
            }
            Fact::Snmp(SnmpFact::V3WithoutPrivacy { level, user_masked }) => {
                let evidence = format!("SNMPv3 {level}, user {user_masked}");
                self.push(
                    out,
                    Finding::technical(RULE_SNMP_V3_NO_PRIVACY, evidence)
                        .with_kinds(&["user_name"]),
                );
            }
            Fact::Login(l) => self.push(out, login_finding(l)),
            Fact::StartTlsNotUsed { protocol } => {
                let evidence = format!("{protocol}: the server offered an upgrade to TLS; login or mail went on in clear");
                self.push(out, Finding::technical(RULE_STARTTLS_NOT_USED, evidence));
            }
            Fact::DatabaseInClear { protocol, detail } => {
                let evidence = format!("{protocol}: {detail}");
                self.push(out, Finding::technical(RULE_DATABASE_IN_CLEAR, evidence));
            }
            Fact::Modbus(m) => {
                let evidence = format!(
                    "unit {}, function {} ({})",
                    m.unit,
                    m.function,
                    crate::protocols::modbus::function_name(m.function)
                );
                self.push(out, Finding::technical(RULE_MODBUS_CLEAR, evidence));
            }
            Fact::Smb(SmbFact::Negotiated(_)) => {}
            Fact::Smb(SmbFact::FileTransfer {
                operation,
                kind,
                name_masked,
                length,
            }) => {
                let what = match kind {
                    FileKind::Recording => "voice recording",
                    FileKind::CallRecords => "call records",
                };
                let evidence = format!("{operation} {name_masked} ({what}), {length} bytes");
                self.push(
                    out,
                    Finding::technical(RULE_FILE_SHARE_RECORDINGS, evidence)
                        .with_kinds(&[kind.as_str()]),
                );
            }
            Fact::Paging(p) => {
                let mut parts = Vec::new();
                if let Some(address) = &p.call_address {
                    parts.push(format!("call address {address}"));
                }
                if p.text_len > 0 {
                    parts.push(format!("display text present ({} chars)", p.text_len));
                }
                let finding =
                    Finding::technical(RULE_ESPA_PAGING, parts.join(", ")).with_kinds(&["paging"]);
                self.push(out, finding);
            }
        }
    }

    /// Rule 2002: a signalled or proven RTP flow carrying a voice codec. A heuristic
    /// stream could be SRTP just as well, and is not called voice in clear.
    fn media(&self, stream: &StreamSummary, out: &mut Vec<Finding>) {
        let enough = match stream.confidence {
            // The SDP said this is an audio stream: one packet of it is voice.
            MediaConfidence::Signalled => stream.packets > 0,
            MediaConfidence::Proven => stream.packets >= MIN_VOICE_PACKETS,
            MediaConfidence::Heuristic => false,
        };
        if stream.app_proto != AppProto::Rtp || !stream.audio || !enough {
            return;
        }
        let codec = match (&stream.codec, stream.payload_type) {
            (Some(c), Some(pt)) => format!("{c} (PT {pt})"),
            (None, Some(pt)) => format!("PT {pt}"),
            _ => "unknown codec".to_string(),
        };
        let evidence = format!(
            "{codec}, {} packets, {} SSRC(s), {}",
            stream.packets,
            stream.ssrcs,
            stream.confidence.as_str()
        );
        let mut finding = Finding::technical(RULE_CLEARTEXT_VOICE, evidence).with_kinds(&["voice"]);
        finding.count = stream.packets;
        self.push(out, finding);
    }

    /// Rule 2004: digits counted, and whether they are a card number — never the digits.
    fn dtmf(&self, dtmf: &DtmfFact, out: &mut Vec<Finding>) {
        let card = if dtmf.card_number {
            "Luhn-valid card number"
        } else {
            "not a card number"
        };
        let evidence = format!(
            "{} DTMF digits ({}), {card}",
            dtmf.digits,
            dtmf.source.as_str()
        );
        let mut finding = Finding::technical(RULE_DTMF_IN_CLEAR, evidence).with_kinds(&["dtmf"]);
        if dtmf.card_number {
            finding.kinds.push(Kind::CardNumber.as_str());
            finding.severity_floor = Some(Severity::Critical);
        }
        finding.count = dtmf.digits as u64;
        finding.scope = dtmf.dialog;
        self.push(out, finding);
    }

    /// Groups matches by the rule they raise: one finding per rule per fact.
    fn personal_data(
        &self,
        matches: &[Match],
        app_proto: AppProto,
        scope: Option<u64>,
        out: &mut Vec<Finding>,
    ) {
        let mut findings: Vec<Finding> = Vec::new();
        for m in matches {
            let rule_id = m
                .rule
                .unwrap_or_else(|| personal_data_rule(app_proto, m.kind));
            let idx = match findings.iter().position(|f| f.rule_id == rule_id) {
                Some(i) => i,
                None => {
                    findings.push(Finding {
                        rule_id,
                        kinds: Vec::new(),
                        evidence: Vec::new(),
                        count: 0,
                        severity_floor: None,
                        confidence: None,
                        scope,
                    });
                    findings.len() - 1
                }
            };
            let f = &mut findings[idx];
            f.count += 1;
            if !f.kinds.contains(&m.kind.as_str()) {
                f.kinds.push(m.kind.as_str());
            }
            let evidence = m.labelled_evidence();
            if !f.evidence.contains(&evidence) {
                f.evidence.push(evidence);
            }
            f.severity_floor = Some(f.severity_floor.map_or(m.severity, |s| s.min(m.severity)));
            f.confidence = f.confidence.max(Some(m.confidence));
        }
        for f in findings {
            self.push(out, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal_data::Confidence;
    use crate::protocols::tls::Cipher;

    fn policy(min: TlsVersion) -> Policy {
        Policy::new(RuleSet::builtin(), min, Suppressions::default())
    }

    fn eval(policy: &Policy, fact: Fact, app: AppProto) -> Vec<Finding> {
        let mut out = Vec::new();
        policy.evaluate(&fact, app, &mut out);
        out
    }

    #[test]
    fn tls_rules_follow_minimum() {
        let p = policy(TlsVersion::Tls12);
        let sh = |version| {
            Fact::Tls(TlsFact::ServerHello {
                version,
                cipher: Cipher::Tls(0x003b),
            })
        };
        let ids: Vec<u32> = eval(&p, sh(TlsVersion::Tls10), AppProto::Tls)
            .iter()
            .map(|f| f.rule_id)
            .collect();
        assert_eq!(ids, vec![1001, 1002]);
        assert_eq!(eval(&p, sh(TlsVersion::Dtls12), AppProto::Dtls).len(), 1);
        let ch = Fact::Tls(TlsFact::ClientHello {
            max_version: TlsVersion::Tls12,
            sni: None,
        });
        assert_eq!(
            eval(&policy(TlsVersion::Tls13), ch.clone(), AppProto::Tls)[0].rule_id,
            1003
        );
        assert!(eval(&p, ch, AppProto::Tls).is_empty());
        // A server picking Facebook's TLS 1.3 code (0xfb1a) or a code nobody names
        // raises no 1001 (issue 14); the cipher is still judged.
        for code in [0xfb1a, 0x7f12, 0x1234] {
            let ids: Vec<u32> = eval(&p, sh(TlsVersion::from_wire(code)), AppProto::Tls)
                .iter()
                .map(|f| f.rule_id)
                .collect();
            assert_eq!(ids, vec![1002], "{code:#06x}");
        }
    }

    #[test]
    fn credentials_evidence_is_masked_and_rule_can_be_disabled() {
        let fact = Fact::Http(HttpFact::Credentials(HttpCredentials {
            header: "Authorization",
            scheme: AuthScheme::Basic,
            user: Some("alice".into()),
            secret_len: 7,
        }));
        let found = eval(&policy(TlsVersion::Tls12), fact.clone(), AppProto::Http);
        assert_eq!(
            found[0].evidence,
            vec!["Authorization: Basic user a***, password present (7 chars)"]
        );
        let mut rules = RuleSet::builtin();
        if let Some(r) = rules.get_mut(6001) {
            r.enabled = false;
        }
        let p = Policy::new(rules, TlsVersion::Tls12, Suppressions::default());
        assert!(eval(&p, fact, AppProto::Http).is_empty());
    }

    #[test]
    fn personal_data_rule_depends_on_channel() {
        let m = |kind, severity| Match {
            kind,
            pattern_id: 1,
            evidence: format!("{kind:?}"),
            confidence: Confidence::High,
            severity,
            rule: None,
        };
        let fact = Fact::PersonalData(vec![
            m(Kind::Email, Severity::Medium),
            m(Kind::CardNumber, Severity::High),
            m(Kind::Credential, Severity::Critical),
        ]);
        let http = eval(&policy(TlsVersion::Tls12), fact.clone(), AppProto::Http);
        let summary: Vec<(u32, u64, Option<Severity>)> = http
            .iter()
            .map(|f| (f.rule_id, f.count, f.severity_floor))
            .collect();
        assert_eq!(
            summary,
            vec![
                (6002, 2, Some(Severity::High)),
                (6001, 1, Some(Severity::Critical))
            ]
        );
        let generic = eval(&policy(TlsVersion::Tls12), fact, AppProto::Failed);
        assert_eq!(generic.len(), 1);
        assert_eq!((generic[0].rule_id, generic[0].count), (7001, 3));
        assert_eq!(generic[0].kinds, vec!["email", "card_number", "credential"]);
    }
}
