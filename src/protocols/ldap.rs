//! LDAP (RFC 4511) over TCP and CLDAP over UDP, recognised by content on any port.
//!
//! Per message: simple binds with a password and SASL PLAIN binds are reported (rule
//! 3001) with the bind name masked and the password's length only; entries returned by
//! a search, added or modified are checked for personal attributes (rule 3002), whose
//! values go to the personal-data scanner or, for passwords, are only counted. An
//! accepted StartTLS (RFC 4511 §4.14) hands both directions to an embedded TLS
//! dissector, so the upgraded session is judged like TLS on any port.
//!
//! Parsing is ldap-parser's; framing, state and facts are here. Nothing read from the
//! wire leaves this module unmasked.

use ldap_parser::filter::AttributeValue;
use ldap_parser::ldap::{AuthenticationChoice, BindRequest, LdapMessage, ProtocolOp, ResultCode};
use ldap_parser::FromBer;

use crate::flow::{Direction, L4};
use crate::personal_data::directory::{personal_attribute, Treatment};
use crate::personal_data::{looks_textual, mask, Field, Match};
use crate::protocols::ber;
use crate::protocols::fact::{Credential, CredentialForm, PersonalData, Record};
use crate::protocols::tls::TlsDissector;
use crate::protocols::{AppProto, Ctx, Dissector, Fact, Probe, Registration};

/// Our own cap on one LDAP message held for reassembly (a search entry with a photo
/// is ~100 KiB; anything larger loses the framing and waits for a resync).
const MAX_MESSAGE: usize = 1 << 20;
/// Our own cap on the values of one attribute that are scanned (a group's `member`
/// list is not personal data; a person has a handful of phones and addresses).
const MAX_VALUES_PER_ATTRIBUTE: usize = 16;
/// RFC 4511 §4.14.1: the StartTLS extended operation.
const START_TLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// BER SEQUENCE, INTEGER messageID, then a protocolOp tag of RFC 4511 §4.2–4.14.
///
/// ```text
/// LDAPMessage ::= SEQUENCE {
///      messageID       MessageID,            -- INTEGER (0 .. maxInt)
///      protocolOp      CHOICE { bindRequest [APPLICATION 0] …, intermediateResponse [APPLICATION 25] },
///      controls       [0] Controls OPTIONAL }
/// ```
pub fn probe_ldap(data: &[u8]) -> Probe {
    let (header_len, len) = match ber::probe_sequence(data) {
        Ok(header) => header,
        Err(verdict) => return verdict,
    };
    let body = &data[header_len..];
    let id_len = match body {
        [] | [_] => return Probe::NeedMore,
        // maxInt is 2^31 - 1 (RFC 4511 §4.1.1): at most four octets, never negative.
        [0x02, n @ 1..=4, ..] => usize::from(*n),
        _ => return Probe::NoMatch,
    };
    if body.get(2).is_some_and(|b| b & 0x80 != 0) {
        return Probe::NoMatch;
    }
    let op_at = 2 + id_len;
    match body.get(op_at) {
        None => Probe::NeedMore,
        // The op's identifier and length octet must fit in the message.
        Some(&op) if is_protocol_op(op) && len >= op_at + 2 => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

/// The application tags of RFC 4511 §4.2–4.14 with their encoding: UnbindRequest
/// (NULL), DelRequest (LDAPDN) and AbandonRequest (MessageID) are primitive, the others
/// constructed.
fn is_protocol_op(tag: u8) -> bool {
    match tag {
        0x42 | 0x4a | 0x50 => true,
        0x60..=0x7f => matches!(tag & 0x1f, 0 | 1 | 3..=9 | 11..=15 | 19 | 23..=25),
        _ => false,
    }
}

fn resync(data: &[u8]) -> bool {
    probe_ldap(data) == Probe::Match
}

/// Characters of a UTF-8 secret, bytes of anything else.
fn char_len(value: &[u8]) -> usize {
    std::str::from_utf8(value).map_or(value.len(), |s| s.chars().count())
}

/// Characters of a password attribute's value. `unicodePwd` is the password in double
/// quotes, UTF-16LE (MS-ADTS §3.1.1.3.1.5.1).
fn secret_len(name: &str, value: &[u8]) -> usize {
    if name == "unicodePwd" && value.len() % 2 == 0 {
        let units = value.len() / 2;
        let quoted = value.starts_with(b"\"\0") && value.ends_with(b"\"\0") && units >= 2;
        if quoted {
            units - 2
        } else {
            units
        }
    } else {
        char_len(value)
    }
}

/// `cn=Jane Doe,ou=people,dc=example,dc=test` → `cn=J*** D**,…`: the first RDN's
/// attribute type and its value masked as a name (RFC 4514 string form). Bind names
/// that are not DNs (Active Directory accepts `user@domain` and `DOMAIN\user`) are
/// masked as an e-mail address or a user name.
pub(crate) fn mask_dn(dn: &str) -> String {
    let dn = dn.trim();
    if dn.is_empty() {
        return "(empty)".to_string();
    }
    let (first, more) = first_rdn(dn);
    if let Some((attribute, value)) = first.split_once('=') {
        let attribute = attribute.trim();
        if is_attribute_type(attribute) {
            let more = if more { ",…" } else { "" };
            let value = value.trim().trim_matches('"');
            return format!("{attribute}={}{more}", mask::name(value));
        }
    }
    if dn.contains('@') {
        return mask::email(dn);
    }
    match dn.split_once('\\') {
        Some((domain, user)) if is_attribute_type(domain) => {
            format!("{domain}\\{}", mask::user_name(user))
        }
        _ => mask::user_name(dn),
    }
}

/// The first RDN of a DN and whether more follow. RFC 4514 §2: RDNs are separated by
/// unescaped commas; RFC 1779 also allowed semicolons and quoted values.
fn first_rdn(dn: &str) -> (&str, bool) {
    let (mut escaped, mut quoted) = (false, false);
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' | ';' if !quoted => return (&dn[..i], true),
            _ => {}
        }
    }
    (dn, false)
}

/// RFC 4512 §1.4: a `descr` or a `numericoid` (short, so that no value passes for one).
fn is_attribute_type(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// SASL PLAIN's message (RFC 4616 §2): `[authzid] NUL authcid NUL passwd`; the
/// masked authentication identity and the password's length.
fn sasl_plain(message: &[u8]) -> Option<(String, usize)> {
    let mut parts = message.splitn(3, |b| *b == 0);
    let _authzid = parts.next()?;
    let authcid = String::from_utf8_lossy(parts.next()?);
    let passwd = parts.next()?;
    if passwd.is_empty() {
        return None;
    }
    // RFC 4513 §5.2.1.8: an authzid may be `dn:` or `u:`; so, in practice, may authcid.
    let masked = if let Some(dn) = authcid.strip_prefix("dn:") {
        format!("dn:{}", mask_dn(dn))
    } else if let Some(user) = authcid.strip_prefix("u:") {
        format!("u:{}", mask::user_name(user))
    } else {
        mask::user_name(&authcid)
    };
    Some((masked, char_len(passwd)))
}

/// Everything but the framing: what one message means.
#[derive(Default)]
struct Session {
    /// Over TCP only: CLDAP has no StartTLS.
    stream: bool,
    /// messageID of a StartTLS request not answered yet.
    start_tls: Option<u32>,
}

impl Session {
    fn on_message(&mut self, message: &[u8], ctx: &mut Ctx<'_>) -> ber::Next {
        let Ok((_, message)) = LdapMessage::from_ber(message) else {
            // A framed message ldap-parser could not read.
            ctx.anomaly("ldap.unparsed_message");
            return ber::Next::Continue;
        };
        match &message.protocol_op {
            ProtocolOp::BindRequest(bind) => on_bind(bind, ctx),
            ProtocolOp::SearchResultEntry(entry) => personal_attributes(
                "search result",
                entry
                    .attributes
                    .iter()
                    .map(|a| (a.attr_type.0.as_ref(), a.attr_vals.as_slice())),
                ctx,
            ),
            ProtocolOp::AddRequest(add) => personal_attributes(
                "add",
                add.attributes
                    .iter()
                    .map(|a| (a.attr_type.0.as_ref(), a.attr_vals.as_slice())),
                ctx,
            ),
            ProtocolOp::ModifyRequest(modify) => personal_attributes(
                "modify",
                modify.changes.iter().map(|c| {
                    (
                        c.modification.attr_type.0.as_ref(),
                        c.modification.attr_vals.as_slice(),
                    )
                }),
                ctx,
            ),
            ProtocolOp::ExtendedRequest(request)
                if self.stream && request.request_name.0 == START_TLS_OID =>
            {
                self.start_tls = Some(message.message_id.0);
            }
            ProtocolOp::ExtendedResponse(response)
                if self.start_tls == Some(message.message_id.0) =>
            {
                self.start_tls = None;
                // RFC 4511 §4.14.2: on success TLS starts right after this response;
                // on any other result the session stays as it was.
                if response.result.result_code == ResultCode::Success {
                    return ber::Next::HandOff;
                }
            }
            _ => {}
        }
        ber::Next::Continue
    }
}

/// Rule 3001: a simple bind's password (RFC 4513 §5.1.3; an empty one is an
/// unauthenticated bind) or SASL PLAIN's (RFC 4616).
fn on_bind(bind: &BindRequest<'_>, ctx: &mut Ctx<'_>) {
    let (mechanism, name_masked, secret_len) = match &bind.authentication {
        AuthenticationChoice::Simple(password) if !password.is_empty() => {
            ("simple", mask_dn(&bind.name.0), char_len(password))
        }
        AuthenticationChoice::Sasl(sasl) if sasl.mechanism.0.eq_ignore_ascii_case("PLAIN") => {
            let Some((name_masked, secret_len)) = sasl.credentials.as_deref().and_then(sasl_plain)
            else {
                return;
            };
            ("SASL PLAIN", name_masked, secret_len)
        }
        _ => return,
    };
    ctx.emit(Fact::Credential(Credential {
        form: CredentialForm::Bind {
            mechanism,
            name_masked,
        },
        user: None,
        secret_len,
        challenge_response: false,
        scope: None,
    }));
}

/// Rule 3002: one fact per entry or operation that carries personal attributes.
fn personal_attributes<'a>(
    operation: &'static str,
    attributes: impl Iterator<Item = (&'a str, &'a [AttributeValue<'a>])>,
    ctx: &mut Ctx<'_>,
) {
    let mut names: Vec<String> = Vec::new();
    let mut matches: Vec<Match> = Vec::new();
    for (description, values) in attributes {
        let Some(attribute) = personal_attribute(description) else {
            continue;
        };
        // A type without values (typesOnly, a modify that deletes) exposes nothing.
        if values.is_empty() {
            continue;
        }
        let name = attribute.names[0];
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        for value in values.iter().take(MAX_VALUES_PER_ATTRIBUTE) {
            let value: &[u8] = &value.0;
            match attribute.treatment {
                Treatment::Name => ctx.find(Field::PersonName, value, &mut matches),
                Treatment::Phone => ctx.find(Field::PhoneNumber, value, &mut matches),
                Treatment::Text if looks_textual(value) => {
                    ctx.find(Field::Text, value, &mut matches)
                }
                Treatment::Text | Treatment::Photo => {}
                Treatment::Secret => matches.push(Match::credential(name, secret_len(name, value))),
            }
        }
    }
    if !names.is_empty() {
        ctx.emit(Fact::PersonalData(PersonalData {
            matches,
            record: Some(Record {
                kind: "directory_entry",
                description: format!("{operation}: {}", names.join(", ")),
            }),
            scope: None,
        }));
    }
}

pub struct LdapDissector {
    l4: L4,
    streams: [ber::Stream; 2],
    session: Session,
    /// After an accepted StartTLS: the session's TLS, read as TLS on any port is.
    tls: Option<Box<TlsDissector>>,
}

impl LdapDissector {
    /// `L4::Tcp`: a stream of messages (RFC 4511 §5.1); `L4::Udp`: CLDAP, one message
    /// per datagram (RFC 1798).
    pub fn new(l4: L4) -> Self {
        LdapDissector {
            l4,
            streams: [ber::Stream::new(MAX_MESSAGE), ber::Stream::new(MAX_MESSAGE)],
            session: Session {
                stream: l4 == L4::Tcp,
                ..Session::default()
            },
            tls: None,
        }
    }

    /// StartTLS accepted in `dir`: from here both directions are TLS. A client must
    /// not send after its request until the response (RFC 4511 §4.14.1), so whatever
    /// the other direction holds unframed is its first TLS record.
    fn start_tls(&mut self, dir: Direction, rest: &[u8], ctx: &mut Ctx<'_>) {
        let mut tls = Box::new(TlsDissector::stream());
        let other = dir.reverse();
        let early = self.streams[other.index()].take_pending();
        if !early.is_empty() {
            tls.on_data(other, &early, ctx);
        }
        if !rest.is_empty() {
            tls.on_data(dir, rest, ctx);
        }
        self.streams = [ber::Stream::new(0), ber::Stream::new(0)];
        self.tls = Some(tls);
    }
}

impl Dissector for LdapDissector {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if let Some(tls) = &mut self.tls {
            tls.on_data(dir, data, ctx);
            return;
        }
        if self.l4 == L4::Udp {
            self.session.on_message(data, ctx);
            return;
        }
        let session = &mut self.session;
        let pushed = self.streams[dir.index()]
            .push(data, resync, |message| session.on_message(message, ctx));
        match pushed {
            ber::Pushed::Framed | ber::Pushed::Ignored => {}
            // Not BER, or a message above our cap: framing resumes at a segment that
            // starts with an LDAP message.
            ber::Pushed::Lost => ctx.anomaly("ldap.framing_lost"),
            ber::Pushed::HandOff(rest) => self.start_tls(dir, &rest, ctx),
        }
    }

    fn on_gap(&mut self, dir: Direction) {
        match &mut self.tls {
            Some(tls) => tls.on_gap(dir),
            None => self.streams[dir.index()].gap(),
        }
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        self.streams
            .iter()
            .map(ber::Stream::buffered)
            .sum::<usize>()
            + self.tls.as_ref().map_or(0, |t| t.buffered())
    }

    /// After StartTLS: what the embedded TLS dissector says.
    fn encrypted(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.encrypted())
    }

    /// After StartTLS: the embedded TLS dissector has nothing more to read.
    fn finished(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.finished())
    }
}

pub const LDAP_TCP: Registration = Registration {
    app_proto: AppProto::Ldap,
    l4: L4::Tcp,
    ports: &[389, 3268],
    probe: probe_ldap,
    start: || Box::new(LdapDissector::new(L4::Tcp)),
};

pub const LDAP_UDP: Registration = Registration {
    app_proto: AppProto::Ldap,
    l4: L4::Udp,
    ports: &[389],
    probe: probe_ldap,
    start: || Box::new(LdapDissector::new(L4::Udp)),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{ber::tlv, tls};
    use crate::personal_data::Kind;
    use crate::protocols::testing::with_ctx_output;
    use crate::protocols::tls::TlsFact;
    use crate::protocols::Output;
    use crate::protocols::{testing::with_ctx, AppProto};

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    fn message(id: u8, op: Vec<u8>) -> Vec<u8> {
        tlv(0x30, &cat(&[tlv(0x02, &[id]), op]))
    }

    fn simple_bind(id: u8, dn: &str, password: &str) -> Vec<u8> {
        let op = tlv(
            0x60,
            &cat(&[
                tlv(0x02, &[3]),
                tlv(0x04, dn.as_bytes()),
                tlv(0x80, password.as_bytes()),
            ]),
        );
        message(id, op)
    }

    fn attribute(name: &str, values: &[&[u8]]) -> Vec<u8> {
        let values: Vec<Vec<u8>> = values.iter().map(|v| tlv(0x04, v)).collect();
        tlv(
            0x30,
            &cat(&[tlv(0x04, name.as_bytes()), tlv(0x31, &values.concat())]),
        )
    }

    fn search_entry(id: u8, dn: &str, attributes: &[Vec<u8>]) -> Vec<u8> {
        let op = tlv(
            0x64,
            &cat(&[tlv(0x04, dn.as_bytes()), tlv(0x30, &attributes.concat())]),
        );
        message(id, op)
    }

    fn run(l4: L4, chunks: &[(Direction, &[u8])]) -> (Vec<Fact>, LdapDissector) {
        let mut d = LdapDissector::new(l4);
        let facts = with_ctx(AppProto::Failed, |ctx| {
            for (dir, chunk) in chunks {
                d.on_data(*dir, chunk, ctx);
            }
        });
        (facts, d)
    }

    fn output(l4: L4, chunks: &[(Direction, &[u8])]) -> Output {
        let mut d = LdapDissector::new(l4);
        with_ctx_output(AppProto::Failed, |ctx| {
            for (dir, chunk) in chunks {
                d.on_data(*dir, chunk, ctx);
            }
        })
    }

    fn anomalies(out: &Output) -> Vec<(&'static str, u64)> {
        out.anomalies.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// What the dissector reported, as these tests read it.
    #[derive(Debug, PartialEq)]
    enum Seen<'a> {
        Bind {
            mechanism: &'static str,
            name_masked: &'a str,
            password_len: usize,
        },
        Entry {
            description: &'a str,
            matches: &'a [Match],
        },
    }

    fn ldap_facts(facts: &[Fact]) -> Vec<Seen<'_>> {
        facts
            .iter()
            .filter_map(|f| match f {
                Fact::Credential(Credential {
                    form:
                        CredentialForm::Bind {
                            mechanism,
                            name_masked,
                        },
                    secret_len,
                    ..
                }) => Some(Seen::Bind {
                    mechanism,
                    name_masked,
                    password_len: *secret_len,
                }),
                Fact::PersonalData(PersonalData {
                    matches,
                    record:
                        Some(Record {
                            kind: "directory_entry",
                            description,
                        }),
                    ..
                }) => Some(Seen::Entry {
                    description,
                    matches,
                }),
                _ => None,
            })
            .collect()
    }

    const TO_SERVER: Direction = Direction::ToServer;
    const TO_CLIENT: Direction = Direction::ToClient;

    #[test]
    fn simple_bind_password_is_reported_masked() {
        let bind = simple_bind(1, "cn=Jane Doe,ou=people,dc=example,dc=test", "hunter2!x");
        assert_eq!(probe_ldap(&bind), Probe::Match);
        let (facts, _) = run(L4::Tcp, &[(TO_SERVER, &bind)]);
        assert_eq!(facts.len(), 1);
        assert_eq!(
            ldap_facts(&facts),
            vec![Seen::Bind {
                name_masked: "cn=J*** D**,…",
                mechanism: "simple",
                password_len: 9,
            }]
        );
        let debug = format!("{facts:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            !debug.contains("Jane") && !debug.contains("people"),
            "{debug}"
        );

        // An unauthenticated (empty password) or anonymous bind is no credential.
        let (facts, _) = run(L4::Tcp, &[(TO_SERVER, &simple_bind(2, "cn=x", ""))]);
        assert!(facts.is_empty());
    }

    #[test]
    fn bind_names_that_are_not_dns() {
        assert_eq!(mask_dn("jane.doe@example.test"), "j***@example.test");
        assert_eq!(mask_dn("CORP\\jdoe"), "CORP\\j***");
        assert_eq!(mask_dn(""), "(empty)");
        assert_eq!(mask_dn("uid=jdoe"), "uid=j***");
        assert_eq!(mask_dn("cn=Doe\\, Jane,dc=test"), "cn=D**** J***,…");
        assert_eq!(mask_dn("cn=\"Doe, Jane\",dc=test"), "cn=D*** J***,…");
    }

    #[test]
    fn sasl_plain_credentials() {
        let sasl = tlv(
            0xa3,
            &cat(&[tlv(0x04, b"PLAIN"), tlv(0x04, b"\0jane.doe\0s3cret-pw")]),
        );
        let op = tlv(0x60, &cat(&[tlv(0x02, &[3]), tlv(0x04, b""), sasl]));
        let (facts, _) = run(L4::Tcp, &[(TO_SERVER, &message(1, op))]);
        assert_eq!(facts.len(), 1);
        assert_eq!(
            ldap_facts(&facts),
            vec![Seen::Bind {
                name_masked: "j***",
                mechanism: "SASL PLAIN",
                password_len: 9,
            }]
        );
        assert!(!format!("{facts:?}").contains("s3cret"));
        assert!(!format!("{facts:?}").contains("jane.doe"));

        // Another mechanism's token is not a password in clear.
        let sasl = tlv(
            0xa3,
            &cat(&[tlv(0x04, b"GSS-SPNEGO"), tlv(0x04, b"\x60\x01")]),
        );
        let op = tlv(0x60, &cat(&[tlv(0x02, &[3]), tlv(0x04, b""), sasl]));
        assert!(run(L4::Tcp, &[(TO_SERVER, &message(1, op))]).0.is_empty());
    }

    #[test]
    fn search_entry_personal_attributes() {
        let entry = search_entry(
            3,
            "uid=jdoe,ou=people,dc=example,dc=test",
            &[
                attribute("objectClass", &[b"inetOrgPerson"]),
                attribute("cn", &[b"Jane Doe"]),
                attribute("MAIL", &[b"jane.doe@example.com"]),
                attribute("telephoneNumber;x-office", &[b"+44 1632 960961"]),
                attribute("jpegPhoto", &[b"\xff\xd8\xff\xe0\x00\x10JFIF"]),
                attribute("2.5.4.35", &[b"{SSHA}abcdefgh"]),
                attribute("title", &[]),
            ],
        );
        let (facts, _) = run(L4::Tcp, &[(TO_CLIENT, &entry)]);
        let found = ldap_facts(&facts);
        let [Seen::Entry {
            description,
            matches,
        }] = found[..]
        else {
            panic!("{facts:?}");
        };
        assert_eq!(
            description,
            "search result: cn, mail, telephoneNumber, jpegPhoto, userPassword"
        );
        let evidence: Vec<(Kind, &str)> = matches
            .iter()
            .map(|m| (m.kind, m.evidence.as_str()))
            .collect();
        assert_eq!(
            evidence,
            vec![
                (Kind::PersonName, "J*** D**"),
                (Kind::Email, "j***@example.com"),
                (Kind::PhoneNumber, "+** **** **0961"),
                (Kind::Credential, "userPassword present (14 chars)"),
            ]
        );
        let debug = format!("{facts:?}");
        for raw in ["Jane", "jane.doe", "960961", "SSHA", "jdoe"] {
            assert!(!debug.contains(raw), "{raw} in {debug}");
        }
    }

    #[test]
    fn photo_or_title_alone_still_counts_and_others_do_not() {
        let entry = search_entry(3, "cn=x", &[attribute("thumbnailPhoto", &[b"\x89PNG"])]);
        let (facts, _) = run(L4::Tcp, &[(TO_CLIENT, &entry)]);
        assert!(matches!(
            ldap_facts(&facts)[..],
            [Seen::Entry { description, matches }]
                if description == "search result: thumbnailPhoto" && matches.is_empty()
        ));
        let entry = search_entry(3, "dc=test", &[attribute("dc", &[b"test"])]);
        assert!(run(L4::Tcp, &[(TO_CLIENT, &entry)]).0.is_empty());
    }

    #[test]
    fn add_and_modify_requests() {
        let add = message(
            4,
            tlv(
                0x68,
                &cat(&[
                    tlv(0x04, b"cn=Jane Doe,dc=test"),
                    tlv(
                        0x30,
                        &cat(&[
                            attribute("sn", &[b"Doe"]),
                            attribute("unicodePwd", &[b"\"\0p\0w\0\"\0"]),
                        ]),
                    ),
                ]),
            ),
        );
        let change = |op: u8, a: Vec<u8>| tlv(0x30, &cat(&[tlv(0x0a, &[op]), a]));
        let modify = message(
            5,
            tlv(
                0x66,
                &cat(&[
                    tlv(0x04, b"cn=Jane Doe,dc=test"),
                    tlv(
                        0x30,
                        &cat(&[
                            change(2, attribute("mobile", &[b"07700 900123"])),
                            change(1, attribute("mail", &[])),
                        ]),
                    ),
                ]),
            ),
        );
        let (facts, _) = run(L4::Tcp, &[(TO_SERVER, &add), (TO_SERVER, &modify)]);
        let facts = ldap_facts(&facts);
        assert!(
            matches!(
                facts[..],
                [
                    Seen::Entry { description: a, matches: m },
                    Seen::Entry { description: b, matches: n },
                ] if a == "add: sn, unicodePwd"
                    && m[1].evidence == "unicodePwd present (2 chars)"
                    && b == "modify: mobile"
                    && n[0].evidence == "***** **0123"
            ),
            "{facts:?}"
        );
    }

    #[test]
    fn message_split_over_three_segments_and_two_in_one() {
        let bind = simple_bind(1, "cn=Jane Doe,dc=test", "secret");
        let (a, rest) = bind.split_at(1);
        let (b, c) = rest.split_at(10);
        let (facts, _) = run(L4::Tcp, &[(TO_SERVER, a), (TO_SERVER, b), (TO_SERVER, c)]);
        assert_eq!(ldap_facts(&facts).len(), 1);

        let mut two = simple_bind(1, "cn=A B,dc=test", "secret");
        two.extend_from_slice(&simple_bind(2, "cn=C D,dc=test", "secret"));
        // Split the second message too: one and a half messages, then the rest.
        let (first, second) = two.split_at(two.len() - 5);
        let (facts, _) = run(L4::Tcp, &[(TO_SERVER, first), (TO_SERVER, second)]);
        let names: Vec<&str> = ldap_facts(&facts)
            .iter()
            .filter_map(|f| match f {
                Seen::Bind { name_masked, .. } => Some(*name_masked),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["cn=A B,…", "cn=C D,…"]);
    }

    #[test]
    fn start_tls_hands_the_session_to_tls() {
        let request = message(1, tlv(0x77, &tlv(0x80, START_TLS_OID.as_bytes())));
        let response = message(
            1,
            tlv(
                0x78,
                &cat(&[tlv(0x0a, &[0]), tlv(0x04, b""), tlv(0x04, b"")]),
            ),
        );
        let record = tls::client_hello(0x0303, &[0xc02f]);
        // The bind after StartTLS is TLS application data, never read as LDAP.
        let (facts, d) = run(
            L4::Tcp,
            &[
                (TO_SERVER, &request),
                (TO_CLIENT, &response),
                (TO_SERVER, &record),
                (TO_SERVER, &simple_bind(2, "cn=x", "y")),
            ],
        );
        assert!(
            matches!(&facts[..], [Fact::Encryption(TlsFact::ClientHello { .. })]),
            "{facts:?}"
        );
        assert!(!d.encrypted() && !d.finished());

        // The server's first record in the same segment as the response.
        let server_hello = tls::server_hello(0x0303, 0xc02f);
        let mut segment = response.clone();
        segment.extend_from_slice(&server_hello);
        let (facts, d) = run(
            L4::Tcp,
            &[
                (TO_SERVER, &request),
                (TO_CLIENT, &segment),
                (TO_CLIENT, &[20, 3, 3, 0, 1, 1]),
            ],
        );
        assert!(
            matches!(&facts[..], [Fact::Encryption(TlsFact::ServerHello { .. })]),
            "{facts:?}"
        );
        assert!(d.encrypted() && d.finished());

        // A refused StartTLS (protocolError) keeps the session in clear.
        let refused = message(
            1,
            tlv(
                0x78,
                &cat(&[tlv(0x0a, &[2]), tlv(0x04, b""), tlv(0x04, b"")]),
            ),
        );
        let (facts, _) = run(
            L4::Tcp,
            &[
                (TO_SERVER, &request),
                (TO_CLIENT, &refused),
                (TO_SERVER, &simple_bind(2, "cn=x", "y")),
            ],
        );
        assert!(matches!(ldap_facts(&facts)[..], [Seen::Bind { .. }]));
    }

    #[test]
    fn cldap_one_message_per_datagram() {
        let entry = search_entry(1, "cn=x", &[attribute("givenName", &[b"Jane"])]);
        let (facts, _) = run(L4::Udp, &[(TO_CLIENT, &entry)]);
        assert_eq!(ldap_facts(&facts).len(), 1);
    }

    #[test]
    fn truncated_and_garbage_input_never_panics() {
        let bind = simple_bind(1, "cn=Jane Doe,dc=test", "secret");
        let entry = search_entry(
            3,
            "cn=x",
            &[
                attribute("cn", &[b"Jane Doe"]),
                attribute("mail", &[b"a@b.c"]),
            ],
        );
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut junk = || {
            (0..64)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect::<Vec<u8>>()
        };
        with_ctx(AppProto::Failed, |ctx| {
            for sample in [&bind, &entry] {
                for cut in 0..sample.len() {
                    let _ = probe_ldap(&sample[..cut]);
                    for l4 in [L4::Tcp, L4::Udp] {
                        LdapDissector::new(l4).on_data(TO_SERVER, &sample[..cut], ctx);
                    }
                    // Corrupt one byte at a time.
                    let mut bad = sample.clone();
                    bad[cut] ^= 0xff;
                    LdapDissector::new(L4::Udp).on_data(TO_SERVER, &bad, ctx);
                    let mut tcp = LdapDissector::new(L4::Tcp);
                    tcp.on_data(TO_SERVER, &bad, ctx);
                    tcp.on_data(TO_SERVER, sample, ctx);
                }
            }
            for _ in 0..200 {
                let junk = junk();
                let _ = probe_ldap(&junk);
                LdapDissector::new(L4::Tcp).on_data(TO_SERVER, &junk, ctx);
                LdapDissector::new(L4::Udp).on_data(TO_CLIENT, &junk, ctx);
            }
        });
        // Not BER: the direction is lost, and found again at a message boundary.
        let out = output(
            L4::Tcp,
            &[(TO_SERVER, b"\x00\x00\x00\x10garbage"), (TO_SERVER, &bind)],
        );
        assert_eq!(anomalies(&out), [("ldap.framing_lost", 1)]);
        assert_eq!(ldap_facts(&out.facts).len(), 1);
        // An announced length above the cap loses framing instead of buffering.
        let out = output(
            L4::Tcp,
            &[(TO_SERVER, &[0x30, 0x84, 0x7f, 0, 0, 0, 2, 1, 1])],
        );
        assert_eq!(anomalies(&out), [("ldap.framing_lost", 1)]);
    }

    #[test]
    fn probe() {
        assert_eq!(probe_ldap(&simple_bind(1, "cn=x", "y")), Probe::Match);
        // Unbind, primitive [APPLICATION 2].
        assert_eq!(
            probe_ldap(&[0x30, 0x05, 0x02, 0x01, 0x03, 0x42, 0x00]),
            Probe::Match
        );
        // Long-form lengths, as Active Directory sends them.
        assert_eq!(
            probe_ldap(&[0x30, 0x84, 0, 0, 0, 0x07, 0x02, 0x01, 0x03, 0x42, 0x00]),
            Probe::Match
        );
        assert_eq!(probe_ldap(&[0x30]), Probe::NeedMore);
        assert_eq!(probe_ldap(&[0x30, 0x0c, 0x02, 0x01]), Probe::NeedMore);
        assert_eq!(probe_ldap(&[0x30, 0x84, 0]), Probe::NeedMore);
        // SNMP: INTEGER version then an OCTET STRING community.
        assert_eq!(
            probe_ldap(&[0x30, 0x26, 0x02, 0x01, 0x00, 0x04, 0x06, b'p']),
            Probe::NoMatch
        );
        assert_eq!(probe_ldap(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        // Indefinite length.
        assert_eq!(
            probe_ldap(&[0x30, 0x80, 0x02, 0x01, 0x01, 0x60]),
            Probe::NoMatch
        );
    }
}
