//! SSH (RFC 4253): recognised by its identification string so the flow counts as
//! encrypted and its key-exchange lists (`curve25519-sha256@libssh.org` …) are not
//! mistaken for e-mail addresses in clear.

use crate::flow::Direction;
use crate::flow::L4;
use crate::protocols::{probe_prefixes, Ctx, Probe};
use crate::protocols::{AppProto, Dissector, Registration};

const IDENTIFICATION: &[u8] = b"SSH-";

/// RFC 4253 §4.2: both sides open with `SSH-protoversion-softwareversion`.
pub fn probe_ssh(data: &[u8]) -> Probe {
    probe_prefixes(data, &[IDENTIFICATION])
}

/// Nothing to read after the identification string: the session is encrypted.
pub struct SshDissector;

impl Dissector for SshDissector {
    fn on_data(&mut self, _dir: Direction, _data: &[u8], _ctx: &mut Ctx<'_>) {}

    fn encrypted(&self) -> bool {
        true
    }

    fn finished(&self) -> bool {
        true
    }
}

pub const SSH: Registration = Registration {
    app_proto: AppProto::Ssh,
    l4: L4::Tcp,
    ports: &[22],
    probe: probe_ssh,
    start: || Box::new(SshDissector),
};

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
