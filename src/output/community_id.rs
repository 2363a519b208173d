//! Community ID v1 (<https://github.com/corelight/community-id-spec>): the flow hash
//! Zeek, Suricata, Arkime and Wireshark write, so an analyst can pivot between tools.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::flow::{Endpoint, L4};

/// The spec's default seed; Suricata's `community-id-seed` default too.
const SEED: u16 = 0;

/// `1:` and the base64 of the SHA-1 over seed, the endpoints in a canonical order
/// (the smaller address, then port, first), protocol number, a pad byte and ports.
pub fn community_id(l4: L4, a: Endpoint, b: Endpoint) -> String {
    let (first, second) = if ordered(a, b) { (a, b) } else { (b, a) };
    let mut hash = Sha1::new();
    hash.update(SEED.to_be_bytes());
    hash_ip(&mut hash, first.0);
    hash_ip(&mut hash, second.0);
    let proto: u8 = match l4 {
        L4::Tcp => 6,
        L4::Udp => 17,
    };
    hash.update([proto, 0]);
    hash.update(first.1.to_be_bytes());
    hash.update(second.1.to_be_bytes());
    let digest = hash.finalize();
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Whether `a` sorts before (or with) `b`: address, then port. `IpAddr` orders each
/// family by its network-order bytes, as the spec compares them.
fn ordered(a: Endpoint, b: Endpoint) -> bool {
    a <= b
}

fn hash_ip(hash: &mut Sha1, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => hash.update(v4.octets()),
        IpAddr::V6(v6) => hash.update(v6.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16) -> Endpoint {
        (ip.parse().unwrap(), port)
    }

    /// The spec's baseline (`community-id-spec/baseline`), both orientations.
    #[test]
    fn spec_baseline_tcp() {
        let a = ep("128.232.110.120", 34855);
        let b = ep("66.35.250.204", 80);
        assert_eq!(
            community_id(L4::Tcp, a, b),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            community_id(L4::Tcp, b, a),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
    }
}
