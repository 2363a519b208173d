//! RADIUS (RFC 2865 authentication, RFC 2866 accounting) over UDP: what a PBX, a VoIP
//! gateway or a SIP-DECT system asks when a user or a phone logs in, and where it sends
//! call accounting. A PAP password is hidden with the shared secret and a CHAP one is a
//! response to a challenge: the user name crosses in clear, the secret does not. The
//! station ids are the calling and called numbers, in clear.

use radius_parser::{parse_radius_data, RadiusAttribute};

use crate::flow::{Direction, L4};
use crate::personal_data::{Field, Match};
use crate::protocols::fact::PersonalData;
use crate::protocols::login::challenge_login;
use crate::protocols::{AppProto, Ctx, Dissector, Fact, Probe, Registration};

/// RFC 2865 §3: a message is 20 to 4096 octets.
const MIN_LENGTH: usize = 20;
const MAX_LENGTH: usize = 4096;

/// Access-Request, Accounting-Request, Status-Server (RFC 2865, 2866) and the
/// Disconnect- and CoA-Requests of RFC 5176: what a client sends first.
fn request_code(code: u8) -> bool {
    matches!(code, 1 | 4 | 12 | 40 | 43)
}

/// A datagram is one message: a request code, a length field equal to the datagram's,
/// and attributes, none empty, that parse to its end. Responses are not asked for: a
/// flow starts with its client's request, and a response's shape is too easy to meet
/// by chance (collectd's encrypted parts start `02 10` and their own length).
pub fn probe_radius(data: &[u8]) -> Probe {
    let (Some(&code), Some(length)) = (data.first(), data.get(2..4)) else {
        return Probe::NoMatch;
    };
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    if !request_code(code) || !(MIN_LENGTH..=MAX_LENGTH).contains(&length) || length != data.len() {
        return Probe::NoMatch;
    }
    if !attributes_whole(&data[MIN_LENGTH..]) {
        return Probe::NoMatch;
    }
    match parse_radius_data(data) {
        Ok(([], _)) => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// Every attribute has a value (RFC 2865 §5: length ≥ 3) and the last one ends with
/// the message.
fn attributes_whole(mut attributes: &[u8]) -> bool {
    while !attributes.is_empty() {
        match attributes.get(1).map(|&l| usize::from(l)) {
            Some(len) if len >= 3 && len <= attributes.len() => attributes = &attributes[len..],
            _ => return false,
        }
    }
    true
}

#[derive(Default)]
pub struct RadiusDissector;

impl Dissector for RadiusDissector {
    fn on_data(&mut self, _dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        let Ok((_, message)) = parse_radius_data(data) else {
            ctx.anomaly("radius.malformed");
            return;
        };
        let mut user = None;
        let mut hidden = None;
        let mut found: Vec<Match> = Vec::new();
        for attribute in message.attributes.iter().flatten() {
            match attribute {
                RadiusAttribute::UserName(name) => {
                    user = Some(*name);
                    ctx.find(Field::Text, name, &mut found);
                }
                RadiusAttribute::UserPassword(hidden_password) => {
                    hidden = Some(("PAP", hidden_password.len()))
                }
                RadiusAttribute::ChapPassword(_, response) => {
                    hidden = Some(("CHAP", response.len()))
                }
                RadiusAttribute::CallingStationId(number)
                | RadiusAttribute::CalledStationId(number) => {
                    ctx.find(Field::PhoneNumber, number, &mut found)
                }
                _ => {}
            }
        }
        // A password or CHAP response belongs to an Access-Request (code 1) only.
        if let Some((method, len)) = hidden.filter(|_| data.first() == Some(&1)) {
            ctx.emit(challenge_login("radius", method, user, len));
        }
        if !found.is_empty() {
            ctx.emit(Fact::PersonalData(PersonalData::matches(found)));
        }
    }
}

pub const RADIUS: Registration = Registration {
    app_proto: AppProto::Radius,
    l4: L4::Udp,
    // Authentication and accounting, and their pre-RFC ports.
    ports: &[1812, 1813, 1645, 1646],
    probe: probe_radius,
    start: || Box::new(RadiusDissector),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal_data::Kind;
    use crate::protocols::fact::{Credential, CredentialForm};
    use crate::protocols::testing::with_ctx_output;

    /// A message with `attributes` as (type, value).
    fn message(code: u8, attributes: &[(u8, &[u8])]) -> Vec<u8> {
        let mut m = vec![code, 7, 0, 0];
        m.extend_from_slice(&[0x5a; 16]);
        for (t, v) in attributes {
            m.push(*t);
            m.push(v.len() as u8 + 2);
            m.extend_from_slice(v);
        }
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        m
    }

    #[test]
    fn probe_by_length_and_attributes() {
        let request = message(1, &[(1, b"jane"), (2, &[0x11; 16])]);
        assert_eq!(probe_radius(&request), Probe::Match);
        let mut longer = request.clone();
        longer.push(0);
        assert_eq!(probe_radius(&longer), Probe::NoMatch);
        let mut unknown = request.clone();
        unknown[0] = 99;
        assert_eq!(probe_radius(&unknown), Probe::NoMatch);
        // A response never starts a flow; an empty attribute is no RADIUS.
        assert_eq!(probe_radius(&message(2, &[(18, b"ok")])), Probe::NoMatch);
        assert_eq!(probe_radius(&message(1, &[(1, b"")])), Probe::NoMatch);
        let mut broken = request;
        broken[21] = 1;
        assert_eq!(probe_radius(&broken), Probe::NoMatch);
        assert_eq!(probe_radius(b"\x01\x02"), Probe::NoMatch);
    }

    #[test]
    fn pap_is_a_challenge_response_login_and_numbers_are_personal_data() {
        let request = message(
            1,
            &[
                (1, b"jane.doe"),
                (2, &[0x11; 16]),
                (31, b"+49 30 5550123"),
                (30, b"+49 30 5550199"),
            ],
        );
        let out = with_ctx_output(AppProto::Radius, |ctx| {
            RadiusDissector.on_data(Direction::ToServer, &request, ctx)
        });
        let [Fact::Credential(Credential {
            form: CredentialForm::Login { protocol, method },
            user,
            secret_len,
            challenge_response,
            ..
        }), Fact::PersonalData(PersonalData { matches, .. })] = &out.facts[..]
        else {
            panic!("{:?}", out.facts);
        };
        assert_eq!(
            (
                *protocol,
                *method,
                user.as_deref(),
                *secret_len,
                *challenge_response
            ),
            ("radius", "PAP", Some("jane.doe"), 16, true)
        );
        let kinds: Vec<Kind> = matches.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, vec![Kind::PhoneNumber, Kind::PhoneNumber]);
        assert!(!format!("{matches:?}").contains("5550123"));

        // The same attributes in an Accounting-Request: no login, the numbers still.
        let mut accounting = request;
        accounting[0] = 4;
        let out = with_ctx_output(AppProto::Radius, |ctx| {
            RadiusDissector.on_data(Direction::ToServer, &accounting, ctx)
        });
        assert!(
            matches!(&out.facts[..], [Fact::PersonalData(_)]),
            "{:?}",
            out.facts
        );
    }

    #[test]
    fn garbage_is_counted_never_a_panic() {
        for data in [
            &b""[..],
            b"\x01",
            b"\x01\x01\x00\x14",
            &[3u8, 0, 0, 22, 0, 0][..],
        ] {
            let out = with_ctx_output(AppProto::Radius, |ctx| {
                RadiusDissector.on_data(Direction::ToServer, data, ctx)
            });
            assert!(out.facts.is_empty());
        }
        // A CHAP-Password too short for its identifier octet.
        let short_chap = message(1, &[(3, b"")]);
        let out = with_ctx_output(AppProto::Radius, |ctx| {
            RadiusDissector.on_data(Direction::ToServer, &short_chap, ctx)
        });
        assert!(out.facts.is_empty());
    }
}
