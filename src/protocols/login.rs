//! A login seen in clear, whatever the protocol (FTP, POP3, IMAP, SMTP AUTH, Telnet,
//! MQTT, AXI, the databases): the helpers that build its `Fact::Credential`.

use crate::protocols::fact::{Credential, CredentialForm};
use crate::protocols::Fact;

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
    Fact::Credential(Credential {
        form: CredentialForm::Login { protocol, method },
        user: user.map(|u| String::from_utf8_lossy(u).chars().take(256).collect()),
        secret_len,
        challenge_response,
        scope: None,
    })
}
