//! TLS records and handshake messages (RFC 8446 §5.1, §4; RFC 5246 §6.2, §7.4), as the
//! TLS dissector reads them.

use super::{u16s, with_len};

/// ContentType handshake.
pub const HANDSHAKE: u8 = 22;
/// HandshakeType client_hello.
pub const CLIENT_HELLO: u8 = 1;
/// HandshakeType server_hello.
pub const SERVER_HELLO: u8 = 2;

/// Appends a record of `content_type` whose fragment `f` writes.
pub fn push_record(
    out: &mut Vec<u8>,
    content_type: u8,
    version: u16,
    f: impl FnOnce(&mut Vec<u8>),
) {
    out.push(content_type);
    out.extend_from_slice(&version.to_be_bytes());
    with_len(out, 2, f);
}

/// Appends a handshake message whose body `f` writes.
pub fn push_handshake(out: &mut Vec<u8>, msg_type: u8, f: impl FnOnce(&mut Vec<u8>)) {
    out.push(msg_type);
    with_len(out, 3, f);
}

/// Appends an extension whose data `f` writes.
pub fn push_extension(out: &mut Vec<u8>, extension_type: u16, f: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(&extension_type.to_be_bytes());
    with_len(out, 2, f);
}

/// A ClientHello body up to its extensions: legacy_version, random, legacy_session_id,
/// cipher_suites, null compression only.
pub fn push_client_hello_fields(
    out: &mut Vec<u8>,
    version: u16,
    random: &[u8],
    session_id: &[u8],
    suites: &[u16],
) {
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(random);
    with_len(out, 1, |o| o.extend_from_slice(session_id));
    with_len(out, 2, |o| u16s(o, suites));
    out.extend_from_slice(&[1, 0]);
}

/// A ServerHello body up to its extensions: legacy_version, random,
/// legacy_session_id_echo, cipher_suite, null compression.
pub fn push_server_hello_fields(
    out: &mut Vec<u8>,
    version: u16,
    random: &[u8],
    session_id: &[u8],
    suite: u16,
) {
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(random);
    with_len(out, 1, |o| o.extend_from_slice(session_id));
    out.extend_from_slice(&suite.to_be_bytes());
    out.push(0);
}

/// One handshake record holding a ClientHello without extensions (record version
/// TLS 1.0, as clients send it): the least a dissector must recognise.
pub fn client_hello(version: u16, suites: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    push_record(&mut out, HANDSHAKE, 0x0301, |o| {
        push_handshake(o, CLIENT_HELLO, |o| {
            push_client_hello_fields(o, version, &[7; 32], &[], suites)
        })
    });
    out
}

/// One handshake record holding a ServerHello without extensions.
pub fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut out = Vec::new();
    push_record(&mut out, HANDSHAKE, version, |o| {
        push_handshake(o, SERVER_HELLO, |o| {
            push_server_hello_fields(o, version, &[9; 32], &[], suite)
        })
    });
    out
}
