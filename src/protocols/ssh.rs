//! SSH (RFC 4253): recognised by its identification string so the flow counts as
//! encrypted and its key-exchange lists (`curve25519-sha256@libssh.org` …) are not
//! mistaken for e-mail addresses in clear.

use crate::protocols::{probe_prefixes, Probe};

const IDENTIFICATION: &[u8] = b"SSH-";

/// RFC 4253 §4.2: both sides open with `SSH-protoversion-softwareversion`.
pub fn probe_ssh(data: &[u8]) -> Probe {
    probe_prefixes(data, &[IDENTIFICATION])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe() {
        assert_eq!(probe_ssh(b"SSH-2.0-OpenSSH_9.2p1\r\n"), Probe::Match);
        assert_eq!(probe_ssh(b"SS"), Probe::NeedMore);
        assert_eq!(probe_ssh(b"GET /"), Probe::NoMatch);
    }
}
