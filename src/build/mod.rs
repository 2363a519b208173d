//! Packet builders, the emit side of the dissectors (smoltcp's `emit`): one module per
//! protocol, shared by the unit tests, `examples/synth.rs`, `examples/hostile.rs` and
//! the integration tests (`tests/common`), so a message is built one way everywhere.
//! Test and synthesis code only: nothing on the analysis path calls them.

pub mod ber;
pub mod frame;
pub mod tls;

/// Appends an `n`-byte big-endian length (`n` ≤ 4) followed by what `f` writes: the
/// length-prefixed vectors of TLS and many other binary protocols.
pub fn with_len(out: &mut Vec<u8>, n: usize, f: impl FnOnce(&mut Vec<u8>)) {
    let n = n.min(4);
    let at = out.len();
    out.resize(at + n, 0);
    f(out);
    let len = u32::try_from(out.len() - at - n).unwrap_or(u32::MAX);
    out[at..at + n].copy_from_slice(&len.to_be_bytes()[4 - n..]);
}

/// Appends 16-bit values in network order.
pub fn u16s(out: &mut Vec<u8>, values: &[u16]) {
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
}
