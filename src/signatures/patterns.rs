//! Personal-data patterns (DESIGN §7): the file form and its checked, compiled form.

use regex::bytes::Regex;
use serde::Deserialize;

use super::Severity;
use crate::personal_data::mask::MaskStyle;
use crate::personal_data::{validators, Kind};

/// Bytes before a match searched for a context word, when the pattern has some.
const DEFAULT_CONTEXT_WINDOW: usize = 40;
/// Our own cap, so a pattern cannot ask to look back over a whole flow.
const MAX_CONTEXT_WINDOW: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    Luhn,
    /// Card number: issuer range, length and Luhn.
    Card,
    IbanMod97,
    UsSsn,
    UkNino,
    E164,
    PhoneNational,
}

impl Validator {
    pub fn check(self, value: &[u8]) -> bool {
        match self {
            Validator::Luhn => validators::luhn(value),
            Validator::Card => validators::card_number(value),
            Validator::IbanMod97 => validators::iban(value),
            Validator::UsSsn => validators::us_ssn(value),
            Validator::UkNino => validators::uk_nino(value),
            Validator::E164 => validators::e164(value),
            Validator::PhoneNational => validators::phone_national(value),
        }
    }

    /// A checksum proves more than a plausibility rule.
    pub fn is_checksum(self) -> bool {
        matches!(
            self,
            Validator::Luhn | Validator::Card | Validator::IbanMod97
        )
    }
}

/// Where every match of a pattern must lie, so the scanner only runs the pattern
/// there. `Everywhere` is always correct, only slower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Around runs of at least this many digits (single separators allowed).
    Digits(usize),
    /// Around any of these words, compared without case.
    Literals(Vec<String>),
    Everywhere,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatternDef {
    pub id: u32,
    name: String,
    kind: Kind,
    regex: String,
    #[serde(default)]
    validator: Option<Validator>,
    #[serde(default)]
    context: Vec<String>,
    #[serde(default)]
    context_window: Option<usize>,
    #[serde(default = "all_protocols")]
    protocols: Vec<String>,
    severity: Severity,
    #[serde(default)]
    mask: Option<MaskStyle>,
    #[serde(default)]
    rule: Option<u32>,
    #[serde(default)]
    anchor_digits: Option<usize>,
    #[serde(default)]
    anchor_literals: Vec<String>,
}

fn all_protocols() -> Vec<String> {
    vec!["*".to_string()]
}

#[derive(Clone, Debug)]
pub struct Pattern {
    pub id: u32,
    pub name: String,
    pub kind: Kind,
    pub regex: Regex,
    pub validator: Option<Validator>,
    /// Case-insensitive alternation of the context words, if any.
    pub context: Option<Regex>,
    pub context_window: usize,
    /// `app_proto` names, or `*`.
    pub protocols: Vec<String>,
    pub severity: Severity,
    pub mask: MaskStyle,
    /// Rule to raise instead of the protocol's default.
    pub rule: Option<u32>,
    pub anchor: Anchor,
}

impl Pattern {
    pub(super) fn compile(def: PatternDef) -> Result<Self, String> {
        if def.name.trim().is_empty() {
            return Err(format!("pattern {}: empty name", def.id));
        }
        // ASCII classes and word boundaries: Unicode \b would keep the fast DFA engines
        // from running on payload that is not valid UTF-8, i.e. most payload.
        let regex = regex::bytes::RegexBuilder::new(&def.regex)
            .unicode(false)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("pattern {}: bad regex: {e}", def.id))?;
        if regex.is_match(b"") {
            return Err(format!(
                "pattern {}: regex matches the empty string",
                def.id
            ));
        }
        let context = if def.context.is_empty() {
            None
        } else {
            let words: Vec<String> = def.context.iter().map(|w| regex::escape(w)).collect();
            let alternation = format!("(?i){}", words.join("|"));
            let words = regex::bytes::RegexBuilder::new(&alternation)
                .unicode(false)
                .build()
                .map_err(|e| format!("pattern {}: bad context words: {e}", def.id))?;
            Some(words)
        };
        let context_window = def.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW);
        if context_window > MAX_CONTEXT_WINDOW {
            return Err(format!(
                "pattern {}: context_window above {MAX_CONTEXT_WINDOW}",
                def.id
            ));
        }
        let mask = def.mask.unwrap_or(def.kind.default_mask());
        if def.kind == Kind::Credential && mask != MaskStyle::Secret {
            return Err(format!(
                "pattern {}: a credential must use mask = \"secret\"",
                def.id
            ));
        }
        let anchor = match (def.anchor_digits, def.anchor_literals.is_empty()) {
            (Some(_), false) => {
                return Err(format!(
                    "pattern {}: anchor_digits or anchor_literals, not both",
                    def.id
                ))
            }
            (Some(0), _) => {
                return Err(format!(
                    "pattern {}: anchor_digits must be at least 1",
                    def.id
                ))
            }
            (Some(n), true) => Anchor::Digits(n),
            (None, false) => {
                if def.anchor_literals.iter().any(|l| l.is_empty()) {
                    return Err(format!("pattern {}: empty anchor literal", def.id));
                }
                Anchor::Literals(def.anchor_literals)
            }
            (None, true) => Anchor::Everywhere,
        };
        Ok(Pattern {
            anchor,
            id: def.id,
            name: def.name,
            kind: def.kind,
            regex,
            validator: def.validator,
            context,
            context_window,
            protocols: def.protocols,
            severity: def.severity,
            mask,
            rule: def.rule,
        })
    }

    pub fn applies_to(&self, app_proto: &str) -> bool {
        self.protocols.iter().any(|p| p == "*" || p == app_proto)
    }
}
