//! Channel profiles (DESIGN §11): the systems the vendor documents describe, each with
//! its channels (protocols, ports, documented secure form, personal data carried), as
//! data in `signatures/profiles/`. They judge nothing; the report uses them to say,
//! per system, which documented channels were seen and how.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{toml_files, SignatureProblem};
use crate::protocols::AppProto;
use crate::toml_location::line_of;

pub(super) const BUILTIN: [(&str, &str); 4] = [
    (
        "signatures/profiles/pbx.toml (built in)",
        include_str!("../../signatures/profiles/pbx.toml"),
    ),
    (
        "signatures/profiles/dect.toml (built in)",
        include_str!("../../signatures/profiles/dect.toml"),
    ),
    (
        "signatures/profiles/micc-office.toml (built in)",
        include_str!("../../signatures/profiles/micc-office.toml"),
    ),
    (
        "signatures/profiles/micc-enterprise.toml (built in)",
        include_str!("../../signatures/profiles/micc-enterprise.toml"),
    ),
];

/// Whether a profile may name `name`: an `app_proto` of DESIGN §5 that a flow can have
/// (not `failed`, which names no channel).
fn known_protocol(name: &str) -> bool {
    AppProto::ALL
        .iter()
        .any(|p| *p != AppProto::Failed && p.as_str() == name)
}

/// Carriers of many applications: a service speaking one of these is put on a channel
/// only when its port is one the channel documents.
const GENERIC_CARRIERS: [&str; 3] = ["tls", "dtls", "http"];

/// Personal-data kinds a channel may declare: the scanner's kinds and those the policy
/// names for what it finds (voice, digits, keys, paging, directory entries).
const KNOWN_KINDS: [&str; 14] = [
    "person_name",
    "phone_number",
    "email",
    "card_number",
    "iban",
    "national_id",
    "credential",
    "user_name",
    "custom",
    "voice",
    "dtmf",
    "srtp_key",
    "paging",
    "directory_entry",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelProfile {
    pub id: String,
    pub name: String,
    pub protocols: Vec<String>,
    pub ports: Vec<u16>,
    pub secure_form: String,
    pub personal_data: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemHeader {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    system: toml::Spanned<SystemHeader>,
    #[serde(default)]
    channel: Vec<toml::Spanned<ChannelProfile>>,
}

/// One system and its documented channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub channels: Vec<ChannelProfile>,
}

/// Parses and checks one profile file: the whole profile or its problems.
pub(super) fn parse(file: &Path, text: &str) -> Result<Profile, Vec<SignatureProblem>> {
    let problem = |offset: usize, reason: String| SignatureProblem {
        file: file.to_owned(),
        line: Some(line_of(text, offset)),
        reason,
    };
    let parsed: ProfileFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![problem(offset, e.message().trim().to_string())]
    })?;
    let mut problems = Vec::new();
    let at = parsed.system.span().start;
    let header = parsed.system.into_inner();
    if header.id.trim().is_empty() || header.name.trim().is_empty() {
        problems.push(problem(at, "system id and name must not be empty".into()));
    }
    let mut channels: Vec<ChannelProfile> = Vec::new();
    for spanned in parsed.channel {
        let at = spanned.span().start;
        let c = spanned.into_inner();
        if c.id.trim().is_empty() || c.name.trim().is_empty() || c.secure_form.trim().is_empty() {
            problems.push(problem(
                at,
                "channel id, name and secure_form must not be empty".into(),
            ));
        }
        if channels.iter().any(|d| d.id == c.id) {
            problems.push(problem(at, format!("channel id {:?} defined twice", c.id)));
        }
        if c.protocols.is_empty() {
            problems.push(problem(at, format!("channel {:?} names no protocol", c.id)));
        }
        for p in &c.protocols {
            if !known_protocol(p) {
                problems.push(problem(
                    at,
                    format!("channel {:?}: unknown protocol {p:?}", c.id),
                ));
            }
        }
        if c.ports.contains(&0) {
            problems.push(problem(at, format!("channel {:?}: port 0", c.id)));
        }
        let only_generic = c
            .protocols
            .iter()
            .all(|p| GENERIC_CARRIERS.contains(&p.as_str()));
        if only_generic && c.ports.is_empty() {
            problems.push(problem(
                at,
                format!(
                    "channel {:?} names only generic carriers (tls, dtls, http): it needs ports",
                    c.id
                ),
            ));
        }
        for k in &c.personal_data {
            if !KNOWN_KINDS.contains(&k.as_str()) {
                problems.push(problem(
                    at,
                    format!("channel {:?}: unknown personal-data kind {k:?}", c.id),
                ));
            }
        }
        channels.push(c);
    }
    if channels.is_empty() {
        problems.push(problem(
            at,
            "a profile needs at least one [[channel]]".into(),
        ));
    }
    if problems.is_empty() {
        Ok(Profile {
            id: header.id,
            name: header.name,
            channels,
        })
    } else {
        Err(problems)
    }
}

/// The profiles of `dir/profiles/*.toml`, if that folder exists.
pub(super) fn load_dir(dir: &Path) -> Result<Vec<Profile>, Vec<SignatureProblem>> {
    let dir = dir.join("profiles");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let files = toml_files(&dir).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    let mut profiles = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => match parse(&file, &text) {
                Ok(p) if profiles.iter().any(|q: &Profile| q.id == p.id) => {
                    problems.push(SignatureProblem {
                        file: file.clone(),
                        line: None,
                        reason: format!("system id {:?} defined by two files", p.id),
                    });
                }
                Ok(p) => profiles.push(p),
                Err(p) => problems.extend(p),
            },
            Err(e) => problems.push(SignatureProblem {
                file: file.clone(),
                line: None,
                reason: format!("cannot read: {e}"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(profiles)
    } else {
        Err(problems)
    }
}

/// An address or a network, from the configuration (`10.1.2.3`, `10.1.0.0/16`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostMatch(IpNet);

impl TryFrom<String> for HostMatch {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let net = if s.contains('/') {
            IpNet::from_str(&s).ok()
        } else {
            IpAddr::from_str(&s).ok().map(IpNet::from)
        };
        net.map(HostMatch)
            .ok_or_else(|| format!("{s:?} is neither an address nor a network (CIDR)"))
    }
}

impl From<HostMatch> for String {
    fn from(h: HostMatch) -> String {
        h.0.to_string()
    }
}

/// `[[report.system]]` in the configuration: which hosts belong to which profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemAssignment {
    /// A profile's system id (`pbx`, `dect`, …).
    pub profile: String,
    /// Addresses and networks of the system's servers.
    pub addresses: Vec<HostMatch>,
    /// Server names (the TLS server name the clients ask for), exact or `*.suffix`.
    pub names: Vec<String>,
}

impl SystemAssignment {
    fn covers(&self, server: IpAddr, name: Option<&str>) -> bool {
        self.addresses.iter().any(|n| n.0.contains(&server))
            || name.is_some_and(|name| {
                self.names
                    .iter()
                    .any(|pattern| match pattern.strip_prefix("*.") {
                        Some(suffix) => name
                            .to_ascii_lowercase()
                            .ends_with(&format!(".{}", suffix.to_ascii_lowercase())),
                        None => name.eq_ignore_ascii_case(pattern),
                    })
            })
    }
}

/// How a service came to belong to a system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssignedBy {
    /// Its address or name is configured for the system.
    Configuration,
    /// Proposed from what it speaks (protocol and port of a documented channel).
    Protocol,
}

/// Where a service belongs: a system (index into the profiles) and, when one of the
/// system's documented channels fits, that channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub system: usize,
    pub channel: Option<usize>,
    pub by: AssignedBy,
}

/// How well a channel fits a service: 2 protocol and port, 1 protocol only (not for a
/// generic carrier), 0 not at all.
fn fit(channel: &ChannelProfile, app_proto: &str, port: u16) -> u8 {
    if !channel.protocols.iter().any(|p| p == app_proto) {
        return 0;
    }
    if channel.ports.contains(&port) {
        2
    } else if GENERIC_CARRIERS.contains(&app_proto) {
        0
    } else {
        1
    }
}

fn best_channel(profile: &Profile, app_proto: &str, port: u16) -> Option<(usize, u8)> {
    profile
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| (i, fit(c, app_proto, port)))
        .filter(|(_, score)| *score > 0)
        // The first of equally good channels.
        .max_by_key(|(i, score)| (*score, std::cmp::Reverse(*i)))
}

/// Puts a service on a system: by configuration first, else by the best-fitting
/// documented channel of any profile (the first profile on a tie). `None`: no profile
/// documents what it speaks and no configuration claims it.
pub fn assign(
    profiles: &[Profile],
    configured: &[SystemAssignment],
    server: IpAddr,
    port: u16,
    app_proto: &str,
    name: Option<&str>,
) -> Option<Assignment> {
    for a in configured {
        if let Some(system) = profiles.iter().position(|p| p.id == a.profile) {
            if a.covers(server, name) {
                return Some(Assignment {
                    system,
                    channel: best_channel(&profiles[system], app_proto, port).map(|(c, _)| c),
                    by: AssignedBy::Configuration,
                });
            }
        }
    }
    profiles
        .iter()
        .enumerate()
        .filter_map(|(s, p)| best_channel(p, app_proto, port).map(|(c, score)| (s, c, score)))
        .max_by_key(|(s, _, score)| (*score, std::cmp::Reverse(*s)))
        .map(|(system, channel, _)| Assignment {
            system,
            channel: Some(channel),
            by: AssignedBy::Protocol,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Vec<Profile> {
        BUILTIN
            .iter()
            .map(|(name, text)| parse(Path::new(name), text).unwrap_or_else(|p| panic!("{p:?}")))
            .collect()
    }

    #[test]
    fn builtin_profiles_cover_the_seed_systems() {
        let ids: Vec<String> = builtin().into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["pbx", "dect", "micc-office", "micc-enterprise"]);
    }

    #[test]
    fn bad_profiles_say_file_line_and_reason() {
        let text = "[system]\nid = \"x\"\nname = \"X\"\n\n[[channel]]\nid = \"a\"\nname = \"A\"\nprotocols = [\"tls\", \"gopher\"]\nports = []\nsecure_form = \"TLS\"\npersonal_data = [\"shoe_size\"]\n";
        let problems = parse(Path::new("x.toml"), text).err().unwrap_or_default();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            [
                "x.toml:5: channel \"a\": unknown protocol \"gopher\"",
                "x.toml:5: channel \"a\": unknown personal-data kind \"shoe_size\"",
            ]
        );
        let missing = parse(Path::new("y.toml"), "[system]\nid = \"y\"\n")
            .err()
            .unwrap_or_default();
        assert_eq!(missing[0].line, Some(1), "{missing:?}");
    }

    #[test]
    fn services_are_assigned_by_configuration_then_by_what_they_speak() {
        let profiles = builtin();
        let local: IpAddr = [127, 0, 0, 1].into();
        let espa = assign(&profiles, &[], local, 7000, "espa", None);
        assert_eq!(
            espa,
            Some(Assignment {
                system: 1,
                channel: Some(2),
                by: AssignedBy::Protocol
            })
        );
        // TLS on a port no channel documents: nobody's.
        assert_eq!(assign(&profiles, &[], local, 4433, "tls", None), None);
        // TLS on the OMM's port: the DECT system.
        assert_eq!(
            assign(&profiles, &[], local, 12622, "tls", None).map(|a| a.system),
            Some(1)
        );
        let configured = [SystemAssignment {
            profile: "micc-enterprise".into(),
            addresses: vec![
                HostMatch::try_from("127.0.0.0/8".to_string()).unwrap_or_else(|e| panic!("{e}"))
            ],
            names: vec![],
        }];
        let tls = assign(&profiles, &configured, local, 4433, "tls", None);
        assert_eq!(
            tls,
            Some(Assignment {
                system: 3,
                channel: None,
                by: AssignedBy::Configuration
            })
        );
        let by_name = [SystemAssignment {
            profile: "dect".into(),
            addresses: vec![],
            names: vec!["*.dect.example".into()],
        }];
        assert_eq!(
            assign(
                &profiles,
                &by_name,
                local,
                4433,
                "tls",
                Some("omm.DECT.example")
            )
            .map(|a| (a.system, a.by)),
            Some((1, AssignedBy::Configuration))
        );
        assert!(HostMatch::try_from("10.0.0.0/33".to_string()).is_err());
    }
}
