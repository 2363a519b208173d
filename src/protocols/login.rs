//! A login seen in clear, whatever the protocol (FTP, POP3, IMAP, SMTP AUTH, Telnet,
//! MQTT, AXI): the fact and the helpers that build it.

use crate::protocols::Fact;

/// Credentials typed or sent in clear: FTP, POP3, IMAP, SMTP AUTH, Telnet, MQTT, AXI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginFact {
    pub protocol: &'static str,
    pub method: &'static str,
    /// Raw user name; the policy masks it.
    pub user: Option<String>,
    /// Length of the password (or digest); the password itself is never kept.
    pub secret_len: usize,
    /// The secret crossed only as a response to a challenge (CRAM-MD5, APOP): rule
    /// 6006, not 6001.
    pub challenge_response: bool,
}

/// A login seen in clear.
pub fn login(
    protocol: &'static str,
    method: &'static str,
    user: Option<&[u8]>,
    secret_len: usize,
) -> Fact {
    login_fact(protocol, method, user, secret_len, false)
}

/// A challenge–response login (CRAM-MD5, APOP): the user name in clear, the secret
/// only as a digest of the server's challenge.
pub fn challenge_login(
    protocol: &'static str,
    method: &'static str,
    user: Option<&[u8]>,
    digest_len: usize,
) -> Fact {
    login_fact(protocol, method, user, digest_len, true)
}

fn login_fact(
    protocol: &'static str,
    method: &'static str,
    user: Option<&[u8]>,
    secret_len: usize,
    challenge_response: bool,
) -> Fact {
    Fact::Login(LoginFact {
        protocol,
        method,
        user: user.map(|u| String::from_utf8_lossy(u).chars().take(256).collect()),
        secret_len,
        challenge_response,
    })
}
