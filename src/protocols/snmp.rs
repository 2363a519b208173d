//! SNMP (RFC 3416, 3412, 3414) — placeholder, being written.

/// What the SNMP dissector tells the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnmpFact {}
