//! Facts → findings. The policy never sees bytes: it reads facts, applies the
//! configured thresholds and names the rule, with evidence already masked.

pub mod alerts;
pub mod suppress;

use crate::flow::Endpoint;
use crate::personal_data::{mask, Confidence, Kind, Match};
use crate::protocols::dtmf::DtmfFact;
use crate::protocols::fact::{
    ClearChannel, Credential, CredentialForm, KeyInClear, PersonalData, Record,
};
use crate::protocols::http::authorization::AuthScheme;
use crate::protocols::rtp::{MediaConfidence, StreamSummary, MIN_VOICE_PACKETS};
use crate::protocols::tls::{TlsFact, TlsVersion};
use crate::protocols::{AppProto, Fact};
use crate::severity::Severity;
use crate::signatures::{Raises, RuleSet};
use suppress::Suppressions;

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
    /// What inside the flow the finding belongs to (a SIP dialog). Alerts stay one
    /// per flow and rule (DESIGN §5): an alert names the dialog of its first finding.
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

    fn with_kinds(mut self, kinds: &[&'static str]) -> Self {
        self.kinds.extend_from_slice(kinds);
        self
    }
}

/// `pop3 USER/PASS: user j***, password present (9 chars)`,
/// `Authorization: Basic user a***, password present (7 chars)`,
/// `simple bind as cn=J*** D**,…, password present (8 chars)`,
/// `SNMPv2c community present (6 chars), a well-known default`: how the secret crossed,
/// the masked user, and the secret's length.
fn credential_evidence(c: &Credential) -> String {
    let user = c.user.as_deref().map(mask::user_name);
    match &c.form {
        CredentialForm::Login { protocol, method } => {
            let label = if c.challenge_response {
                "digest response"
            } else {
                "password"
            };
            let secret = mask::secret(label, c.secret_len);
            match user {
                Some(user) => format!("{protocol} {method}: user {user}, {secret}"),
                None => format!("{protocol} {method}: {secret}"),
            }
        }
        CredentialForm::Header { header, scheme } => {
            let label = match scheme {
                AuthScheme::Basic => "password",
                AuthScheme::Digest => "digest response",
                _ => "token",
            };
            let secret = mask::secret(label, c.secret_len);
            match user {
                Some(user) => format!("{header}: {} user {user}, {secret}", scheme.as_str()),
                None => format!("{header}: {}, {secret}", scheme.as_str()),
            }
        }
        CredentialForm::Bind {
            mechanism,
            name_masked,
        } => format!(
            "{mechanism} bind as {name_masked}, {}",
            mask::secret("password", c.secret_len)
        ),
        CredentialForm::Community {
            version,
            well_known_default,
        } => {
            let default = if *well_known_default {
                ", a well-known default"
            } else {
                ""
            };
            format!(
                "SNMP{version} {}{default}",
                mask::secret("community", c.secret_len)
            )
        }
    }
}

#[derive(Clone)]
pub struct Policy {
    rules: RuleSet,
    raises: Raises,
    min_tls: TlsVersion,
    suppressions: Suppressions,
}

impl Policy {
    pub fn new(
        rules: RuleSet,
        raises: Raises,
        min_tls: TlsVersion,
        suppressions: Suppressions,
    ) -> Self {
        Policy {
            rules,
            raises,
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

    /// The enabled rule `fact` raises on `protocol` (signatures/raises.toml).
    fn rule(&self, fact: &str, protocol: AppProto, kind: Option<&str>) -> Option<u32> {
        self.raises
            .rule(fact, protocol, kind)
            .filter(|id| self.enabled(*id))
    }

    fn enabled(&self, rule: u32) -> bool {
        self.rules.get(rule).is_some_and(|r| r.enabled)
    }

    /// A finding with one line of evidence for the rule `fact` raises, if any.
    fn raise<'o>(
        &self,
        out: &'o mut Vec<Finding>,
        fact: &str,
        protocol: AppProto,
        evidence: impl FnOnce() -> String,
    ) -> Option<&'o mut Finding> {
        let rule = self.rule(fact, protocol, None)?;
        out.push(Finding::technical(rule, evidence()));
        out.last_mut()
    }

    /// The findings of one fact seen on `protocol`.
    pub fn evaluate(&self, fact: &Fact, protocol: AppProto, out: &mut Vec<Finding>) {
        match fact {
            Fact::Encryption(TlsFact::ClientHello { max_version, .. }) => {
                if max_version.below(self.min_tls) {
                    self.raise(out, "client_below_minimum", protocol, || {
                        format!("client offers at most {}", max_version.as_str())
                    });
                }
            }
            Fact::Encryption(TlsFact::ServerHello { version, cipher }) => {
                if version.below(self.min_tls) {
                    self.raise(out, "tls_below_minimum", protocol, || {
                        format!("negotiated {}", version.as_str())
                    });
                }
                if let Some(weakness) = cipher.weakness() {
                    self.raise(out, "weak_cipher", protocol, || {
                        format!("cipher {} ({})", cipher.name(), weakness.as_str())
                    });
                }
            }
            Fact::Credential(c) => self.credential(c, protocol, out),
            Fact::PersonalData(PersonalData {
                matches,
                record: None,
                scope,
            }) => self.personal_data(matches, protocol, *scope, out),
            Fact::PersonalData(PersonalData {
                matches,
                record: Some(record),
                scope,
            }) => self.record(record, matches, protocol, *scope, out),
            Fact::KeyInClear(key) => self.key_in_clear(key, protocol, out),
            Fact::ClearChannel(channel) => self.clear_channel(channel, protocol, out),
            Fact::Media(stream) => self.media(stream, protocol, out),
            Fact::Dtmf(dtmf) => self.dtmf(dtmf, protocol, out),
            Fact::UpgradeRefused => {
                self.raise(out, "upgrade_refused", protocol, || {
                    format!(
                        "{}: the server offered an upgrade to TLS; login or mail went on in clear",
                        protocol.as_str()
                    )
                });
            }
            Fact::Session(_) => {}
        }
    }

    fn credential(&self, c: &Credential, protocol: AppProto, out: &mut Vec<Finding>) {
        let fact = if c.challenge_response {
            "challenge_response"
        } else {
            "credential"
        };
        if let Some(f) = self.raise(out, fact, protocol, || credential_evidence(c)) {
            f.kinds.push(Kind::Credential.as_str());
            f.scope = c.scope;
        }
    }

    /// `a=crypto AES_CM_128_HMAC_SHA1_80, key present (40 chars)`: the suite and the
    /// key's length.
    fn key_in_clear(&self, key: &KeyInClear, protocol: AppProto, out: &mut Vec<Finding>) {
        let evidence = || {
            format!(
                "a=crypto {}, {}",
                key.suite,
                mask::secret("key", key.key_len)
            )
        };
        if let Some(f) = self.raise(out, "key_in_clear", protocol, evidence) {
            f.kinds.push("srtp_key");
            f.scope = key.scope;
        }
    }

    fn clear_channel(&self, channel: &ClearChannel, protocol: AppProto, out: &mut Vec<Finding>) {
        if let Some(f) = self.raise(out, "clear_channel", protocol, || {
            channel.description.clone()
        }) {
            f.kinds.extend_from_slice(channel.kinds);
        }
    }

    /// Voice in clear: a signalled or proven RTP flow carrying a voice codec. A
    /// heuristic stream could be SRTP just as well, and is not called voice in clear.
    fn media(&self, stream: &StreamSummary, protocol: AppProto, out: &mut Vec<Finding>) {
        let enough = match stream.confidence {
            // The SDP said this is an audio stream: one packet of it is voice.
            MediaConfidence::Signalled => stream.packets > 0,
            MediaConfidence::Proven => stream.packets >= MIN_VOICE_PACKETS,
            MediaConfidence::Heuristic => false,
        };
        if stream.app_proto != AppProto::Rtp || !stream.audio || !enough {
            return;
        }
        let evidence = || {
            let codec = match (&stream.codec, stream.payload_type) {
                (Some(c), Some(pt)) => format!("{c} (PT {pt})"),
                (None, Some(pt)) => format!("PT {pt}"),
                _ => "unknown codec".to_string(),
            };
            format!(
                "{codec}, {} packets, {} SSRC(s), {}",
                stream.packets,
                stream.ssrcs,
                stream.confidence.as_str()
            )
        };
        if let Some(f) = self.raise(out, "media", protocol, evidence) {
            f.kinds.push("voice");
            f.count = stream.packets;
        }
    }

    /// DTMF: digits counted, and whether they are a card number — never the digits.
    fn dtmf(&self, dtmf: &DtmfFact, protocol: AppProto, out: &mut Vec<Finding>) {
        let card = if dtmf.card_number {
            "Luhn-valid card number"
        } else {
            "not a card number"
        };
        let evidence = || {
            format!(
                "{} DTMF digits ({}), {card}",
                dtmf.digits,
                dtmf.source.as_str()
            )
        };
        if let Some(f) = self.raise(out, "dtmf", protocol, evidence) {
            f.kinds.push("dtmf");
            if dtmf.card_number {
                f.kinds.push(Kind::CardNumber.as_str());
                f.severity_floor = Some(Severity::Critical);
            }
            f.count = dtmf.digits as u64;
            f.scope = dtmf.dialog;
        }
    }

    /// A record that is personal data as a whole: one finding, its description first,
    /// then what the scanner found inside it.
    fn record(
        &self,
        record: &Record,
        matches: &[Match],
        protocol: AppProto,
        scope: Option<u64>,
        out: &mut Vec<Finding>,
    ) {
        let Some(rule) = self.rule("personal_data", protocol, Some(record.kind)) else {
            return;
        };
        let mut finding =
            Finding::technical(rule, record.description.clone()).with_kinds(&[record.kind]);
        finding.scope = scope;
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
        out.push(finding);
    }

    /// Groups matches by the rule they raise: one finding per rule per fact.
    fn personal_data(
        &self,
        matches: &[Match],
        protocol: AppProto,
        scope: Option<u64>,
        out: &mut Vec<Finding>,
    ) {
        let mut findings: Vec<Finding> = Vec::new();
        for m in matches {
            // A pattern may name its own rule (a site's signature, id 9000+).
            let rule = match m.rule {
                Some(rule) => rule,
                None => match self
                    .raises
                    .rule("personal_data", protocol, Some(m.kind.as_str()))
                {
                    Some(rule) => rule,
                    None => continue,
                },
            };
            let idx = match findings.iter().position(|f| f.rule_id == rule) {
                Some(i) => i,
                None => {
                    findings.push(Finding {
                        rule_id: rule,
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
        out.extend(findings.into_iter().filter(|f| self.enabled(f.rule_id)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal_data::Confidence;
    use crate::protocols::tls::Cipher;

    fn policy(min: TlsVersion) -> Policy {
        Policy::new(
            RuleSet::builtin(),
            Raises::builtin(),
            min,
            Suppressions::default(),
        )
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
            Fact::Encryption(TlsFact::ServerHello {
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
        let ch = Fact::Encryption(TlsFact::ClientHello {
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
        let fact = Fact::Credential(Credential {
            form: CredentialForm::Header {
                header: "Authorization",
                scheme: AuthScheme::Basic,
            },
            user: Some("alice".into()),
            secret_len: 7,
            challenge_response: false,
            scope: None,
        });
        let found = eval(&policy(TlsVersion::Tls12), fact.clone(), AppProto::Http);
        assert_eq!(
            found[0].evidence,
            vec!["Authorization: Basic user a***, password present (7 chars)"]
        );
        let mut rules = RuleSet::builtin();
        if let Some(r) = rules.get_mut(6001) {
            r.enabled = false;
        }
        let p = Policy::new(
            rules,
            Raises::builtin(),
            TlsVersion::Tls12,
            Suppressions::default(),
        );
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
        let fact = Fact::PersonalData(PersonalData::matches(vec![
            m(Kind::Email, Severity::Medium),
            m(Kind::CardNumber, Severity::High),
            m(Kind::Credential, Severity::Critical),
        ]));
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
