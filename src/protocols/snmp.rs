//! SNMP v1 (RFC 1157), v2c (RFC 1901) and v3 (RFC 3412, RFC 3414) over UDP, one message
//! per datagram, and over TCP (RFC 3430), messages back to back; recognised by content.
//!
//! Per message: a v1/v2c community is reported by its length and whether it is a
//! well-known default (rule 4001), never itself; a v3 message without privacy is
//! reported with its security level and masked user name (rule 4003); OCTET STRING
//! varbind values of every readable PDU go to the personal-data scanner (rule 4002).
//! An encrypted v3 PDU (authPriv) is left alone.
//!
//! The envelope (version, community, v3 header and USM user) is walked here, so that a
//! community or user name that is not UTF-8 — which snmp-parser refuses — is still
//! reported; varbinds are decoded one by one with snmp-parser, so that one odd value
//! does not hide the others.

use snmp_parser::asn1_rs::FromBer;
use snmp_parser::{ObjectSyntax, SnmpVariable, VarBindValue};

use crate::flow::{Direction, L4};
use crate::personal_data::{looks_textual, mask, Field, Match};
use crate::protocols::ber;
use crate::protocols::fact::{ClearChannel, Credential, CredentialForm, PersonalData};
use crate::protocols::{AppProto, Ctx, Dissector, Fact, Probe, Registration};

/// Our own cap on one message held for reassembly over TCP (RFC 3430 §2 lets a
/// message be as long as msgMaxSize, up to 2^31-1; real ones are a few KiB).
const MAX_MESSAGE: usize = 1 << 20;
/// Our own cap on the varbinds looked at per PDU.
const MAX_VARBINDS: usize = 256;
/// Distinct community facts per flow (a get with `public`, a set with `private` …).
const MAX_COMMUNITY_FACTS: usize = 4;

/// X.690 universal tags.
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
/// RFC 1157 §4.1.6 Trap-PDU, [4] IMPLICIT: different fields before its varbinds.
const TRAP_V1_PDU: u8 = 0xa4;
/// RFC 3416 §3 Report-PDU, [8].
const REPORT_PDU: u8 = 0xa8;
/// RFC 3412 §6.4 msgFlags.
const FLAG_AUTH: u8 = 0x01;
const FLAG_PRIV: u8 = 0x02;
/// RFC 3411 §5 SnmpSecurityModel: the User-based Security Model.
const SECURITY_MODEL_USM: &[u8] = &[3];

/// RFC 3418 sysContact.0 (1.3.6.1.2.1.1.4.0), BER content octets.
const SYS_CONTACT: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 4, 0];

/// Community strings shipped as defaults or guessed first (vendor defaults, scanner
/// word lists); compared case-insensitively.
const WELL_KNOWN_COMMUNITIES: &[&str] = &[
    "public",
    "private",
    "community",
    "admin",
    "manager",
    "snmp",
    "snmpd",
    "default",
    "cisco",
    "secret",
    "monitor",
    "read",
    "write",
    "test",
    "guest",
    "system",
    "security",
    "router",
    "switch",
    "network",
    "password",
    "all private",
    "ilmi",
];

/// A message whose envelope or PDU could not be read.
const UNPARSED_MESSAGE: &str = "snmp.unparsed_message";

/// BER SEQUENCE, INTEGER version 0 | 1 | 3, then (v1/v2c) an OCTET STRING community
/// and a PDU tag, or (v3) the msgGlobalData SEQUENCE.
///
/// ```text
/// Message ::= SEQUENCE { version INTEGER { version-1(0), version-2c(1) },
///                        community OCTET STRING, data PDUs }        -- RFC 1157, 1901
/// SNMPv3Message ::= SEQUENCE { msgVersion INTEGER (3),
///                        msgGlobalData HeaderData, … }               -- RFC 3412 §6
/// ```
pub fn probe_snmp(data: &[u8]) -> Probe {
    let (header_len, len) = match ber::probe_sequence(data) {
        Ok(header) => header,
        Err(verdict) => return verdict,
    };
    let body = &data[header_len..];
    let version = match body {
        [] | [_] | [_, _] => return Probe::NeedMore,
        [INTEGER, 1, version @ (0 | 1 | 3), ..] => *version,
        _ => return Probe::NoMatch,
    };
    let rest = &body[3..];
    let (tag, field_header, field_len) = match ber::header(rest) {
        ber::Header::Incomplete => return Probe::NeedMore,
        ber::Header::Complete {
            tag,
            header_len,
            len,
        } => (tag, header_len, len),
        ber::Header::Invalid => return Probe::NoMatch,
    };
    // What must follow the field: the msgID INTEGER inside msgGlobalData, or the PDU
    // after the community.
    let (expected_tag, next) = match (version, tag) {
        (3, ber::SEQUENCE) => (INTEGER, field_header),
        (0 | 1, OCTET_STRING) => (0, field_header + field_len),
        _ => return Probe::NoMatch,
    };
    // The next identifier and a length octet must fit in the message.
    if len < 3 + next + 2 {
        return Probe::NoMatch;
    }
    match rest.get(next) {
        None => Probe::NeedMore,
        Some(&tag) if version == 3 && tag == expected_tag => Probe::Match,
        Some(0xa0..=0xa8) if version != 3 => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

fn resync(data: &[u8]) -> bool {
    probe_snmp(data) == Probe::Match
}

/// The parts of a message read before its PDU.
#[derive(Debug, PartialEq, Eq)]
enum Envelope<'a> {
    Community {
        version: &'static str,
        community: &'a [u8],
        /// The PDU's TLV and anything after it.
        pdu: &'a [u8],
    },
    V3 {
        flags: u8,
        /// USM msgUserName; `None` for other security models.
        user: Option<&'a [u8]>,
        /// The ScopedPDU's content when it is in plaintext.
        scoped_pdu: Option<&'a [u8]>,
    },
}

/// A TLV with the expected tag: its content and what follows.
fn expect(tag: u8, data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = ber::tlv(data)?;
    (found == tag).then_some((content, rest))
}

/// Skips `n` TLVs.
fn skip(n: usize, mut data: &[u8]) -> Option<&[u8]> {
    for _ in 0..n {
        data = ber::tlv(data)?.2;
    }
    Some(data)
}

fn envelope(message: &[u8]) -> Option<Envelope<'_>> {
    let (body, _) = expect(ber::SEQUENCE, message)?;
    let (version, rest) = expect(INTEGER, body)?;
    match version {
        [0] | [1] => {
            let (community, pdu) = expect(OCTET_STRING, rest)?;
            let version = if version == [0] { "v1" } else { "v2c" };
            Some(Envelope::Community {
                version,
                community,
                pdu,
            })
        }
        [3] => {
            // HeaderData ::= SEQUENCE { msgID INTEGER, msgMaxSize INTEGER,
            //     msgFlags OCTET STRING (SIZE(1)), msgSecurityModel INTEGER }
            let (global, rest) = expect(ber::SEQUENCE, rest)?;
            let (flags, after) = expect(OCTET_STRING, skip(2, global)?)?;
            let &[flags] = flags else { return None };
            let (model, _) = expect(INTEGER, after)?;
            let (params, rest) = expect(OCTET_STRING, rest)?;
            let user = if model == SECURITY_MODEL_USM {
                Some(usm_user(params)?)
            } else {
                None
            };
            // ScopedPduData ::= CHOICE { plaintext ScopedPDU, encryptedPDU OCTET STRING }
            let scoped_pdu = if flags & FLAG_PRIV == 0 {
                Some(expect(ber::SEQUENCE, rest)?.0)
            } else {
                None
            };
            Some(Envelope::V3 {
                flags,
                user,
                scoped_pdu,
            })
        }
        _ => None,
    }
}

/// RFC 3414 §2.4: UsmSecurityParameters ::= SEQUENCE { msgAuthoritativeEngineID,
/// msgAuthoritativeEngineBoots, msgAuthoritativeEngineTime, msgUserName, … }.
fn usm_user(params: &[u8]) -> Option<&[u8]> {
    let (usm, _) = expect(ber::SEQUENCE, params)?;
    Some(expect(OCTET_STRING, skip(3, usm)?)?.0)
}

/// The person's name in a sysContact value: the whole text if it has no address and no
/// digits, or the display part of `Jane Doe <jane.doe@example.com>` if it is at least
/// two words (net-snmp's default `Me <me@example.org>` is not a name).
fn contact_name(value: &[u8]) -> Option<&[u8]> {
    let plain = |text: &[u8]| !text.iter().any(|b| *b == b'@' || b.is_ascii_digit());
    match memchr::memchr(b'<', value) {
        Some(at) => {
            let display = value[..at].trim_ascii();
            let display = display
                .strip_prefix(b"\"")
                .and_then(|d| d.strip_suffix(b"\""))
                .unwrap_or(display);
            let words = display
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty());
            (plain(display) && words.count() >= 2).then_some(display)
        }
        None => plain(value).then_some(value),
    }
}

fn is_well_known(community: &[u8]) -> bool {
    WELL_KNOWN_COMMUNITIES
        .iter()
        .any(|c| c.as_bytes().eq_ignore_ascii_case(community))
}

pub struct SnmpDissector {
    l4: L4,
    streams: [ber::Stream; 2],
    session: Session,
}

#[derive(Default)]
struct Session {
    /// Community facts already emitted, as (version, length, well-known).
    communities: Vec<(&'static str, usize, bool)>,
    /// V3WithoutPrivacy already emitted for [noAuthNoPriv, authNoPriv].
    v3_levels: [bool; 2],
    /// An authPriv message was seen, and one that carried data in clear (a community
    /// message, a v3 request or response of a user without privacy).
    private: bool,
    clear: bool,
}

impl Session {
    fn on_message(&mut self, message: &[u8], ctx: &mut Ctx<'_>) -> ber::Next {
        match envelope(message) {
            Some(Envelope::Community {
                version,
                community,
                pdu,
            }) => {
                self.clear = true;
                self.community(version, community, ctx);
                self.varbinds(pdu, ctx);
            }
            // authPriv: the PDU is encrypted, and that is as it should be.
            Some(Envelope::V3 { flags, .. }) if flags & FLAG_PRIV != 0 => self.private = true,
            Some(Envelope::V3 {
                flags,
                user,
                scoped_pdu,
            }) => {
                // ScopedPDU ::= SEQUENCE { contextEngineID, contextName, data }
                let pdu = scoped_pdu.and_then(|s| skip(2, s));
                // Engine discovery (RFC 3414 §4: empty user name) and Reports (sent at
                // a lower level by design, RFC 3412 §7.1 step 3) are part of every
                // SNMPv3 exchange, authPriv included: not a choice to run without
                // privacy.
                let report = pdu.and_then(|p| p.first()) == Some(&REPORT_PDU);
                let user = user.unwrap_or_default();
                if !report && !user.is_empty() {
                    self.clear = true;
                    self.v3_without_privacy(flags, user, ctx);
                }
                match pdu {
                    Some(pdu) => self.varbinds(pdu, ctx),
                    None => ctx.anomaly(UNPARSED_MESSAGE),
                }
            }
            None => ctx.anomaly(UNPARSED_MESSAGE),
        }
        ber::Next::Continue
    }

    fn community(&mut self, version: &'static str, community: &[u8], ctx: &mut Ctx<'_>) {
        let key = (version, community.len(), is_well_known(community));
        if self.communities.contains(&key) || self.communities.len() >= MAX_COMMUNITY_FACTS {
            return;
        }
        self.communities.push(key);
        ctx.emit(community_fact(version, key.1, key.2));
    }

    fn v3_without_privacy(&mut self, flags: u8, user: &[u8], ctx: &mut Ctx<'_>) {
        let (index, level) = if flags & FLAG_AUTH != 0 {
            (1, "authNoPriv")
        } else {
            (0, "noAuthNoPriv")
        };
        if std::mem::replace(&mut self.v3_levels[index], true) {
            return;
        }
        ctx.emit(Fact::ClearChannel(ClearChannel {
            description: format!(
                "SNMPv3 {level}, user {}",
                mask::user_name(&String::from_utf8_lossy(user))
            ),
            kinds: &["user_name"],
        }));
    }

    /// Rule 4002: OCTET STRING values of the PDU at the front of `pdu`.
    ///
    /// ```text
    /// PDU      ::= [0..8] IMPLICIT SEQUENCE { request-id, error-status, error-index,
    ///                                        variable-bindings }      -- RFC 3416 §3
    /// Trap-PDU ::= [4] IMPLICIT SEQUENCE { enterprise, agent-addr, generic-trap,
    ///                                      specific-trap, time-stamp,
    ///                                      variable-bindings }        -- RFC 1157 §4.1.6
    /// ```
    fn varbinds(&mut self, pdu: &[u8], ctx: &mut Ctx<'_>) {
        let list = ber::tlv(pdu).and_then(|(tag, content, _)| {
            let fields = match tag {
                TRAP_V1_PDU => 5,
                0xa0..=0xa8 => 3,
                _ => return None,
            };
            Some(expect(ber::SEQUENCE, skip(fields, content)?)?.0)
        });
        let Some(mut list) = list else {
            ctx.anomaly(UNPARSED_MESSAGE);
            return;
        };
        let mut matches = Vec::new();
        for _ in 0..MAX_VARBINDS {
            let Some((_, _, after)) = ber::tlv(list) else {
                break;
            };
            let varbind = &list[..list.len() - after.len()];
            list = after;
            match <SnmpVariable as FromBer>::from_ber(varbind) {
                Ok((_, variable)) => scan_value(&variable, &mut matches, ctx),
                // The other varbinds still count.
                Err(_) => ctx.anomaly("snmp.unparsed_varbind"),
            }
        }
        if !matches.is_empty() {
            ctx.emit(Fact::PersonalData(PersonalData::matches(matches)));
        }
    }
}

/// A v1/v2c community string: its length and whether it is a well-known default,
/// never the community itself.
fn community_fact(version: &'static str, length: usize, well_known_default: bool) -> Fact {
    Fact::Credential(Credential {
        form: CredentialForm::Community {
            version,
            well_known_default,
        },
        user: None,
        secret_len: length,
        challenge_response: false,
        scope: None,
    })
}

/// Text values are scanned; sysContact is also read as a person's name.
fn scan_value(variable: &SnmpVariable<'_>, matches: &mut Vec<Match>, ctx: &mut Ctx<'_>) {
    let VarBindValue::Value(ObjectSyntax::String(value)) = &variable.val else {
        return;
    };
    // Binary strings (MAC addresses, engine IDs, bitmaps) hold no text to scan.
    if !looks_textual(value) {
        return;
    }
    ctx.find(Field::Text, value, matches);
    if variable.oid.as_bytes() == SYS_CONTACT {
        if let Some(name) = contact_name(value) {
            ctx.find(Field::PersonName, name, matches);
        }
    }
}

impl SnmpDissector {
    /// `L4::Udp`: one message per datagram (RFC 3417 §2); `L4::Tcp`: messages back to
    /// back (RFC 3430 §2).
    pub fn new(l4: L4) -> Self {
        SnmpDissector {
            l4,
            streams: [ber::Stream::new(MAX_MESSAGE), ber::Stream::new(MAX_MESSAGE)],
            session: Session::default(),
        }
    }
}

impl Dissector for SnmpDissector {
    fn on_data(&mut self, dir: Direction, data: &[u8], ctx: &mut Ctx<'_>) {
        if self.l4 == L4::Udp {
            self.session.on_message(data, ctx);
            return;
        }
        let session = &mut self.session;
        let pushed = self.streams[dir.index()]
            .push(data, resync, |message| session.on_message(message, ctx));
        // Not BER, or a message above our cap.
        if pushed == ber::Pushed::Lost {
            ctx.anomaly("snmp.framing_lost");
        }
    }

    /// Encrypted when the flow ran SNMPv3 authPriv and nothing else carried data in
    /// clear (engine discovery and Reports are part of every v3 exchange).
    fn encrypted(&self) -> bool {
        self.session.private && !self.session.clear
    }

    fn on_gap(&mut self, dir: Direction) {
        self.streams[dir.index()].gap();
    }

    /// Bytes of partial messages held (the engine's memory budget).
    fn buffered(&self) -> usize {
        self.streams.iter().map(ber::Stream::buffered).sum()
    }
}

pub const SNMP_UDP: Registration = Registration {
    app_proto: AppProto::Snmp,
    l4: L4::Udp,
    ports: &[161, 162],
    probe: probe_snmp,
    start: || Box::new(SnmpDissector::new(L4::Udp)),
};

pub const SNMP_TCP: Registration = Registration {
    app_proto: AppProto::Snmp,
    l4: L4::Tcp,
    ports: &[161, 162, 1161],
    probe: probe_snmp,
    start: || Box::new(SnmpDissector::new(L4::Tcp)),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::ber::tlv;
    use crate::personal_data::Kind;
    use crate::protocols::testing::with_ctx_output;
    use crate::protocols::{testing::with_ctx, AppProto};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// zeek snmpv1_get.pcap, frame 1: v1 get-request sysObjectID.0, community public.
    const V1_GET: &str =
        "302602010004067075626c6963a019020126020100020100300e300c06082b060102010102000500";
    /// ndpi snmp.pcap: v3 engine discovery (empty user, noAuthNoPriv, reportable).
    const V3_DISCOVERY: &str = "303e020103301102046c9af56e020300ffe30401040201030410300e0400020100020100040004000400301404000400a00e0204750558880201000201003000";
    /// … its Report (usmStatsUnknownEngineIDs).
    const V3_REPORT: &str = "3067020103301002046c9af56e020205dc040100020103041d301b040c800000090300aabbcc00010002010c020202cd0400040004003031040c800000090300aabbcc0001000400a81f0204750558880201000201003011300f060a2b060106030f01010400410101";
    /// … then get-next sysName with user NOAUTHNOPRIV, noAuthNoPriv.
    const V3_NO_AUTH: &str = "3071020103301102046c9af56d020300ffe304010402010304293027040c800000090300aabbcc00010002010c020202cd040c4e4f415554484e4f5052495604000400302e040c800000090300aabbcc0001000400a11c020475055887020100020100300e300c06082b060102010105000500";
    /// … user SHA1NOPRIV, authNoPriv.
    const V3_AUTH_NO_PRIV: &str = "307b020103301102043eccb10a020300ffe304010502010304333031040c800000090300aabbcc00010002010c02020564040a534841314e4f50524956040cf9a64b8f252078a0ea90fc150400302e040c800000090300aabbcc0001000400a11c0204674053aa020100020100300e300c06082b060102010105000500";
    /// … user SHA1AES128, authPriv (encrypted PDU).
    const V3_AUTH_PRIV: &str = "30818502010330110204482e3bea020300ffe3040107020103043b3039040c800000090300aabbcc00010002010c02020604040a53484131414553313238040c545946e49cfd586b30c17318040839bcbcf46fa870ce04300251aab2f5cb475d178f6464b9aea8477665ce4450eb8d9341dc61597469285481c07133363299b7b81a01d486ea8c9c";

    /// A v2c get-response with `community` and (OID content, OCTET STRING value) pairs.
    fn v2c_response(community: &[u8], values: &[(&[u8], &[u8])]) -> Vec<u8> {
        let varbinds: Vec<u8> = values
            .iter()
            .flat_map(|(oid, value)| tlv(0x30, &[tlv(0x06, oid), tlv(0x04, value)].concat()))
            .collect();
        let pdu = tlv(
            0xa2,
            &[
                tlv(0x02, &[0x26]),
                tlv(0x02, &[0]),
                tlv(0x02, &[0]),
                tlv(0x30, &varbinds),
            ]
            .concat(),
        );
        tlv(0x30, &[tlv(0x02, &[1]), tlv(0x04, community), pdu].concat())
    }

    fn run(l4: L4, chunks: &[(Direction, &[u8])]) -> Vec<Fact> {
        let mut d = SnmpDissector::new(l4);
        with_ctx(AppProto::Failed, |ctx| {
            for (dir, chunk) in chunks {
                d.on_data(*dir, chunk, ctx);
            }
        })
    }

    const TO_SERVER: Direction = Direction::ToServer;
    const TO_CLIENT: Direction = Direction::ToClient;

    #[test]
    fn v1_get_with_public_community() {
        let get = hex(V1_GET);
        assert_eq!(probe_snmp(&get), Probe::Match);
        let facts = run(L4::Udp, &[(TO_SERVER, &get), (TO_SERVER, &get)]);
        assert_eq!(facts, vec![community_fact("v1", 6, true)]);
        assert!(!format!("{facts:?}").contains("public"));
    }

    #[test]
    fn v2c_response_with_sys_contact() {
        let response = v2c_response(
            b"n0t-s0-0bvious",
            &[
                (SYS_CONTACT, b"Jane Doe <jane.doe@example.com>"),
                // sysLocation.0
                (
                    &[0x2b, 6, 1, 2, 1, 1, 6, 0],
                    b"Desk of Chandra, call +44 1632 960961",
                ),
                // ifPhysAddress.1: binary, not scanned.
                (
                    &[0x2b, 6, 1, 2, 1, 2, 2, 1, 6, 1],
                    b"\x00\x1a\x2b\x3c\x4d\x5e",
                ),
            ],
        );
        assert_eq!(probe_snmp(&response), Probe::Match);
        let facts = run(L4::Udp, &[(TO_CLIENT, &response)]);
        assert_eq!(facts[0], community_fact("v2c", 14, false));
        let Fact::PersonalData(PersonalData { matches, .. }) = &facts[1] else {
            panic!("{facts:?}");
        };
        let found: Vec<(Kind, &str)> = matches
            .iter()
            .map(|m| (m.kind, m.evidence.as_str()))
            .collect();
        assert!(
            found.contains(&(Kind::Email, "j***@example.com")),
            "{found:?}"
        );
        assert!(found.contains(&(Kind::PersonName, "J*** D**")), "{found:?}");
        assert!(
            found
                .iter()
                .any(|(k, e)| *k == Kind::PhoneNumber && e.ends_with("0961")),
            "{found:?}"
        );
        assert_eq!(facts.len(), 2);
        let debug = format!("{facts:?}");
        for raw in ["Jane", "jane.doe", "960961", "n0t-s0"] {
            assert!(!debug.contains(raw), "{raw} in {debug}");
        }
    }

    #[test]
    fn sys_contact_names() {
        assert_eq!(contact_name(b"Jane Doe"), Some(&b"Jane Doe"[..]));
        assert_eq!(
            contact_name(b"\"Jane Doe\" <jane@example.com>"),
            Some(&b"Jane Doe"[..])
        );
        assert_eq!(contact_name(b"Me <me@example.org>"), None);
        assert_eq!(contact_name(b"root@localhost"), None);
        assert_eq!(contact_name(b"NOC +44 1632 960961"), None);
    }

    #[test]
    fn v3_no_auth_no_priv_reports_the_user_masked() {
        let (discovery, report, get) = (hex(V3_DISCOVERY), hex(V3_REPORT), hex(V3_NO_AUTH));
        assert_eq!(probe_snmp(&discovery), Probe::Match);
        let facts = run(
            L4::Udp,
            &[
                (TO_SERVER, &discovery),
                (TO_CLIENT, &report),
                (TO_SERVER, &get),
                (TO_SERVER, &get),
            ],
        );
        assert_eq!(
            facts,
            vec![Fact::ClearChannel(ClearChannel {
                description: "SNMPv3 noAuthNoPriv, user N***".to_string(),
                kinds: &["user_name"],
            })]
        );

        let facts = run(L4::Udp, &[(TO_SERVER, &hex(V3_AUTH_NO_PRIV))]);
        assert_eq!(
            facts,
            vec![Fact::ClearChannel(ClearChannel {
                description: "SNMPv3 authNoPriv, user S***".to_string(),
                kinds: &["user_name"],
            })]
        );
    }

    #[test]
    fn v3_auth_priv_gives_nothing() {
        let message = hex(V3_AUTH_PRIV);
        assert_eq!(probe_snmp(&message), Probe::Match);
        let facts = run(L4::Udp, &[(TO_SERVER, &message)]);
        assert!(facts.is_empty(), "{facts:?}");
    }

    #[test]
    fn tcp_two_messages_in_one_segment_and_split() {
        let mut two = hex(V1_GET);
        two.extend_from_slice(&v2c_response(b"private", &[(SYS_CONTACT, b"Jane Doe")]));
        let facts = run(L4::Tcp, &[(TO_SERVER, &two)]);
        assert_eq!(facts.len(), 3, "{facts:?}");
        let (a, b) = two.split_at(50);
        let split = run(L4::Tcp, &[(TO_SERVER, a), (TO_SERVER, b)]);
        assert_eq!(split, facts);
    }

    #[test]
    fn non_utf8_community_still_counts() {
        let response = v2c_response(b"\xfe\xff\x01", &[(SYS_CONTACT, b"Jane Doe")]);
        let facts = run(L4::Udp, &[(TO_CLIENT, &response)]);
        assert_eq!(facts.len(), 2, "{facts:?}");
    }

    #[test]
    fn truncated_and_garbage_input_never_panics() {
        let samples = [
            hex(V1_GET),
            hex(V3_NO_AUTH),
            hex(V3_AUTH_PRIV),
            v2c_response(b"public", &[(SYS_CONTACT, b"Jane Doe <j@example.com>")]),
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut junk = || {
            (0..48)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect::<Vec<u8>>()
        };
        with_ctx(AppProto::Failed, |ctx| {
            for sample in &samples {
                for cut in 0..sample.len() {
                    let _ = probe_snmp(&sample[..cut]);
                    SnmpDissector::new(L4::Udp).on_data(TO_SERVER, &sample[..cut], ctx);
                    let mut bad = sample.clone();
                    bad[cut] ^= 0xff;
                    SnmpDissector::new(L4::Udp).on_data(TO_SERVER, &bad, ctx);
                    let mut tcp = SnmpDissector::new(L4::Tcp);
                    tcp.on_data(TO_SERVER, &bad, ctx);
                    tcp.on_data(TO_SERVER, sample, ctx);
                }
            }
            for _ in 0..200 {
                let junk = junk();
                let _ = probe_snmp(&junk);
                SnmpDissector::new(L4::Udp).on_data(TO_SERVER, &junk, ctx);
                SnmpDissector::new(L4::Tcp).on_data(TO_SERVER, &junk, ctx);
            }
        });
        let mut d = SnmpDissector::new(L4::Tcp);
        let out = with_ctx_output(AppProto::Failed, |ctx| {
            d.on_data(TO_SERVER, b"\x01\x02garbage", ctx);
            d.on_data(TO_SERVER, &hex(V1_GET), ctx);
        });
        assert_eq!(out.anomalies.get("snmp.framing_lost"), Some(&1));
        assert!(matches!(
            out.facts[0],
            Fact::Credential(Credential {
                form: CredentialForm::Community { .. },
                ..
            })
        ));
    }

    #[test]
    fn probe() {
        assert_eq!(probe_snmp(&hex(V1_GET)[..4]), Probe::NeedMore);
        assert_eq!(probe_snmp(&hex(V1_GET)[..12]), Probe::NeedMore);
        assert_eq!(probe_snmp(&hex(V3_NO_AUTH)[..6]), Probe::NeedMore);
        // Version 2 does not exist on the wire.
        assert_eq!(
            probe_snmp(&[0x30, 0x26, 0x02, 0x01, 0x02, 0x04, 0x01, b'p', 0xa0, 0]),
            Probe::NoMatch
        );
        // LDAP: INTEGER messageID then an application tag.
        assert_eq!(
            probe_snmp(&[0x30, 0x05, 0x02, 0x01, 0x03, 0x42, 0x00]),
            Probe::NoMatch
        );
        assert_eq!(probe_snmp(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
