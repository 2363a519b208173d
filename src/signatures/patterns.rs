//! Personal-data patterns (DESIGN §7): the file form and its checked, compiled form.

use regex::bytes::Regex;
use serde::Deserialize;

use super::{Entry, Severity};
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

/// The keys of a `[[pattern]]`.
const PATTERN_KEYS: &[&str] = &[
    "id",
    "name",
    "kind",
    "regex",
    "validator",
    "context",
    "context_window",
    "protocols",
    "severity",
    "mask",
    "rule",
    "anchor_digits",
    "anchor_literals",
];

/// The gist of a regex error, whose full text draws a caret under the pattern over
/// several lines: one line per problem keeps `file:line: reason` readable.
fn last_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// A `[[pattern]]` as written, before it is checked and compiled.
struct PatternDef {
    id: u32,
    name: String,
    kind: Kind,
    regex: String,
    validator: Option<Validator>,
    context: Vec<String>,
    context_window: Option<usize>,
    protocols: Vec<String>,
    severity: Severity,
    mask: Option<MaskStyle>,
    rule: Option<u32>,
    anchor_digits: Option<usize>,
    anchor_literals: Vec<String>,
}

/// Reads and compiles one `[[pattern]]`, reporting every bad key at its line. Gives the
/// pattern and the line of its `rule =`, if it names one.
pub(super) fn read(entry: &mut Entry<'_>) -> Option<(Pattern, Option<usize>)> {
    entry.unknown_keys("pattern", PATTERN_KEYS);
    let id = entry.required("pattern", "id");
    let name = entry.required("pattern", "name");
    let kind = entry.required("pattern", "kind");
    let regex = entry.required("pattern", "regex");
    let severity = entry.required("pattern", "severity");
    let validator = entry.get("validator");
    let context = entry.get("context");
    let context_window = entry.get("context_window");
    let protocols = entry.get("protocols");
    let mask = entry.get("mask");
    let rule = entry.get("rule");
    let anchor_digits = entry.get("anchor_digits");
    let anchor_literals = entry.get("anchor_literals");
    let def = PatternDef {
        id: id?,
        name: name?,
        kind: kind?,
        regex: regex?,
        severity: severity?,
        validator,
        context: context.unwrap_or_default(),
        context_window,
        protocols: protocols.unwrap_or_else(|| vec!["*".to_string()]),
        mask,
        rule,
        anchor_digits,
        anchor_literals: anchor_literals.unwrap_or_default(),
    };
    let rule_line = def.rule.map(|_| entry.line_of("rule"));
    match Pattern::compile(def) {
        Ok(pattern) => Some((pattern, rule_line)),
        Err((key, reason)) => {
            let line = entry.line_of(key);
            entry.problem(line, reason);
            None
        }
    }
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
    /// The compiled pattern, or the key at fault and why.
    fn compile(def: PatternDef) -> Result<Self, (&'static str, String)> {
        if def.name.trim().is_empty() {
            return Err(("name", format!("pattern {}: empty name", def.id)));
        }
        // ASCII classes and word boundaries: Unicode \b would keep the fast DFA engines
        // from running on payload that is not valid UTF-8, i.e. most payload.
        let regex = regex::bytes::RegexBuilder::new(&def.regex)
            .unicode(false)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                (
                    "regex",
                    format!("pattern {}: bad regex: {}", def.id, last_line(&e)),
                )
            })?;
        if regex.is_match(b"") {
            return Err((
                "regex",
                format!("pattern {}: regex matches the empty string", def.id),
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
                .map_err(|e| {
                    let reason = last_line(&e);
                    (
                        "context",
                        format!("pattern {}: bad context words: {reason}", def.id),
                    )
                })?;
            Some(words)
        };
        let context_window = def.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW);
        if context_window > MAX_CONTEXT_WINDOW {
            return Err((
                "context_window",
                format!(
                    "pattern {}: context_window above {MAX_CONTEXT_WINDOW}",
                    def.id
                ),
            ));
        }
        let mask = def.mask.unwrap_or(def.kind.default_mask());
        if def.kind == Kind::Credential && mask != MaskStyle::Secret {
            return Err((
                "mask",
                format!(
                    "pattern {}: a credential must use mask = \"secret\"",
                    def.id
                ),
            ));
        }
        let anchor = match (def.anchor_digits, def.anchor_literals.is_empty()) {
            (Some(_), false) => {
                return Err((
                    "anchor_literals",
                    format!(
                        "pattern {}: anchor_digits or anchor_literals, not both",
                        def.id
                    ),
                ))
            }
            (Some(0), _) => {
                return Err((
                    "anchor_digits",
                    format!("pattern {}: anchor_digits must be at least 1", def.id),
                ))
            }
            (Some(n), true) => Anchor::Digits(n),
            (None, false) => {
                if def.anchor_literals.iter().any(|l| l.is_empty()) {
                    return Err((
                        "anchor_literals",
                        format!("pattern {}: empty anchor literal", def.id),
                    ));
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
