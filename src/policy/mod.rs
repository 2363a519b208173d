//! Facts → findings. The policy never sees bytes: it reads facts, applies the
//! configured thresholds and names the rule, with evidence already masked.

use crate::personal_data::mask;
use crate::protocols::http::{AuthScheme, HttpFact};
use crate::protocols::tls::{TlsFact, TlsVersion};
use crate::protocols::Fact;
use crate::signatures::RuleSet;

pub const RULE_TLS_BELOW_MIN: u32 = 1001;
pub const RULE_WEAK_CIPHER: u32 = 1002;
pub const RULE_CLIENT_BELOW_MIN: u32 = 1003;
pub const RULE_CLEARTEXT_CREDENTIALS: u32 = 6001;

/// One rule matched once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: u32,
    /// Personal-data kinds involved (empty for purely technical findings).
    pub kinds: &'static [&'static str],
    /// Masked, safe to write anywhere.
    pub evidence: String,
}

pub struct Policy {
    rules: RuleSet,
    min_tls: TlsVersion,
}

impl Policy {
    pub fn new(rules: RuleSet, min_tls: TlsVersion) -> Self {
        Policy { rules, min_tls }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    fn push(
        &self,
        out: &mut Vec<Finding>,
        rule_id: u32,
        kinds: &'static [&'static str],
        evidence: String,
    ) {
        if self.rules.get(rule_id).is_some_and(|r| r.enabled) {
            out.push(Finding {
                rule_id,
                kinds,
                evidence,
            });
        }
    }

    pub fn evaluate(&self, fact: &Fact, out: &mut Vec<Finding>) {
        match fact {
            Fact::Tls(TlsFact::ClientHello { max_version, .. }) => {
                if max_version.rank() < self.min_tls.rank() {
                    self.push(
                        out,
                        RULE_CLIENT_BELOW_MIN,
                        &[],
                        format!("client offers at most {}", max_version.as_str()),
                    );
                }
            }
            Fact::Tls(TlsFact::ServerHello { version, cipher }) => {
                if version.rank() < self.min_tls.rank() {
                    self.push(
                        out,
                        RULE_TLS_BELOW_MIN,
                        &[],
                        format!("negotiated {}", version.as_str()),
                    );
                }
                if let Some(weakness) = cipher.weakness() {
                    self.push(
                        out,
                        RULE_WEAK_CIPHER,
                        &[],
                        format!("cipher {} ({})", cipher.name(), weakness.as_str()),
                    );
                }
            }
            Fact::Http(HttpFact::Credentials(creds)) => {
                let user = creds.user.as_deref().map(mask::user_name);
                let secret = match creds.scheme {
                    AuthScheme::Basic => mask::secret("password", creds.secret_len),
                    AuthScheme::Digest => mask::secret("digest response", creds.secret_len),
                    _ => mask::secret("token", creds.secret_len),
                };
                let evidence = match user {
                    Some(user) => format!(
                        "{}: {} user {user}, {secret}",
                        creds.header,
                        creds.scheme.as_str()
                    ),
                    None => format!("{}: {}, {secret}", creds.header, creds.scheme.as_str()),
                };
                self.push(out, RULE_CLEARTEXT_CREDENTIALS, &["credentials"], evidence);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::http::HttpCredentials;
    use crate::protocols::tls::Cipher;

    fn eval(policy: &Policy, fact: Fact) -> Vec<Finding> {
        let mut out = Vec::new();
        policy.evaluate(&fact, &mut out);
        out
    }

    #[test]
    fn tls_rules_follow_minimum() {
        let p = Policy::new(RuleSet::builtin(), TlsVersion::Tls12);
        let sh = |version| {
            Fact::Tls(TlsFact::ServerHello {
                version,
                cipher: Cipher::Tls(0x003b),
            })
        };
        let ids: Vec<u32> = eval(&p, sh(TlsVersion::Tls10))
            .iter()
            .map(|f| f.rule_id)
            .collect();
        assert_eq!(ids, vec![1001, 1002]);
        assert_eq!(eval(&p, sh(TlsVersion::Dtls12)).len(), 1);
        let strict = Policy::new(RuleSet::builtin(), TlsVersion::Tls13);
        let ch = Fact::Tls(TlsFact::ClientHello {
            max_version: TlsVersion::Tls12,
            sni: None,
        });
        assert_eq!(eval(&strict, ch.clone())[0].rule_id, 1003);
        assert!(eval(&p, ch).is_empty());
    }

    #[test]
    fn credentials_evidence_is_masked_and_rule_can_be_disabled() {
        let fact = Fact::Http(HttpFact::Credentials(HttpCredentials {
            header: "Authorization",
            scheme: AuthScheme::Basic,
            user: Some("alice".into()),
            secret_len: 7,
        }));
        let p = Policy::new(RuleSet::builtin(), TlsVersion::Tls12);
        let found = eval(&p, fact.clone());
        assert_eq!(
            found[0].evidence,
            "Authorization: Basic user a***, password present (7 chars)"
        );
        let mut rules = RuleSet::builtin();
        if let Some(r) = rules.get_mut(6001) {
            r.enabled = false;
        }
        assert!(eval(&Policy::new(rules, TlsVersion::Tls12), fact).is_empty());
    }
}
