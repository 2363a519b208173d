//! `[[raise]]` entries: which rule a protocol-neutral fact raises on which protocol
//! (`signatures/raises.toml`). Dissectors never name rules; this table does, so a
//! protocol added later, or a site's own rule, needs no policy code.

use serde::de::IntoDeserializer;
use serde::Deserialize;

use super::Entry;
use crate::personal_data::Kind;
use crate::protocols::fact::RECORD_KINDS;
use crate::protocols::AppProto;

/// The facts a `[[raise]]` can name (see `signatures/raises.toml`).
pub const FACTS: &[&str] = &[
    "tls_below_minimum",
    "weak_cipher",
    "client_below_minimum",
    "credential",
    "challenge_response",
    "personal_data",
    "key_in_clear",
    "clear_channel",
    "media",
    "dtmf",
    "upgrade_refused",
];

const RAISE_KEYS: &[&str] = &["fact", "protocol", "kind", "rule"];

/// One entry: the fact, optionally narrowed to a protocol and a personal-data kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raise {
    pub fact: &'static str,
    pub protocol: Option<AppProto>,
    pub kind: Option<String>,
    pub rule: u32,
}

impl Raise {
    fn matches(&self, fact: &str, protocol: AppProto, kind: Option<&str>) -> bool {
        self.fact == fact
            && self.protocol.is_none_or(|p| p == protocol)
            && self.kind.as_deref().is_none_or(|k| Some(k) == kind)
    }
}

/// The entries in force, first match wins.
#[derive(Clone, Debug, Default)]
pub struct Raises {
    entries: Vec<Raise>,
    /// How many of the first entries came from `--signatures` directories.
    from_directories: usize,
}

impl Raises {
    pub fn builtin() -> Self {
        super::Signatures::builtin().raises
    }

    pub fn new(entries: Vec<Raise>) -> Self {
        Raises {
            entries,
            from_directories: 0,
        }
    }

    /// The rule `fact` raises when seen on `protocol` (for personal data, of `kind`).
    pub fn rule(&self, fact: &str, protocol: AppProto, kind: Option<&str>) -> Option<u32> {
        self.entries
            .iter()
            .find(|e| e.matches(fact, protocol, kind))
            .map(|e| e.rule)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Raise> {
        self.entries.iter()
    }

    /// The entries a `--signatures` directory added (the built-in table is part of the
    /// program, like its code).
    pub fn from_directories(&self) -> &[Raise] {
        &self.entries[..self.from_directories]
    }

    /// `first` before the entries already here: a directory's entries take precedence
    /// over the built-in ones.
    pub(super) fn put_first(&mut self, first: Vec<Raise>) {
        let rest = std::mem::take(&mut self.entries);
        self.from_directories += first.len();
        self.entries = first;
        self.entries.extend(rest);
    }
}

fn known_kind(kind: &str) -> bool {
    RECORD_KINDS.contains(&kind)
        || Kind::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(kind))
            .is_ok()
}

/// Reads one `[[raise]]`, reporting every problem at its key's line; also returns the
/// line of `rule =`, to point at it if that rule does not exist.
pub(super) fn read(entry: &mut Entry<'_>) -> Option<(Raise, usize)> {
    entry.unknown_keys("raise", RAISE_KEYS);
    let fact: Option<String> = entry.required("raise", "fact");
    let protocol: Option<String> = entry.get("protocol");
    let kind: Option<String> = entry.get("kind");
    let rule: Option<u32> = entry.required("raise", "rule");
    let fact = fact.and_then(|f| match FACTS.iter().find(|known| **known == f) {
        Some(known) => Some(*known),
        None => {
            let line = entry.line_of("fact");
            entry.problem(
                line,
                format!("fact {f:?} is not one of: {}", FACTS.join(", ")),
            );
            None
        }
    });
    let protocol = match protocol {
        None => Some(None),
        Some(p) => match AppProto::ALL.iter().find(|a| a.as_str() == p) {
            Some(a) => Some(Some(*a)),
            None => {
                let line = entry.line_of("protocol");
                let names: Vec<&str> = AppProto::ALL.iter().map(|a| a.as_str()).collect();
                entry.problem(
                    line,
                    format!("protocol {p:?} is not one of: {}", names.join(", ")),
                );
                None
            }
        },
    };
    if let Some(k) = kind.as_deref().filter(|k| !known_kind(k)) {
        let line = entry.line_of("kind");
        entry.problem(
            line,
            format!(
                "kind {k:?} is neither a personal-data kind nor one of: {}",
                RECORD_KINDS.join(", ")
            ),
        );
        return None;
    }
    let rule_line = entry.line_of("rule");
    Some((
        Raise {
            fact: fact?,
            protocol: protocol?,
            kind,
            rule: rule?,
        },
        rule_line,
    ))
}
