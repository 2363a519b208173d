//! LDAP (RFC 4511) — placeholder, being written.

/// What the LDAP dissector tells the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LdapFact {}
