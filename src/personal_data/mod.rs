//! Personal data: detectors and validators, the one scanning API dissectors use, and
//! masking. A match leaves this module with its evidence already masked — raw values
//! never do.

pub mod directory;
pub mod mask;
pub mod validators;

use serde::Deserialize;

use crate::severity::Severity;
use crate::signatures::{Anchor, Pattern};
use mask::MaskStyle;

/// What kind of personal data (or secret) a match is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    CardNumber,
    Iban,
    Email,
    PhoneNumber,
    NationalId,
    PersonName,
    /// Passwords, PINs, tokens: never shown.
    Credential,
    Custom,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CardNumber => "card_number",
            Kind::Iban => "iban",
            Kind::Email => "email",
            Kind::PhoneNumber => "phone_number",
            Kind::NationalId => "national_id",
            Kind::PersonName => "person_name",
            Kind::Credential => "credential",
            Kind::Custom => "custom",
        }
    }

    pub fn default_mask(self) -> MaskStyle {
        match self {
            Kind::CardNumber => MaskStyle::Card,
            Kind::Iban => MaskStyle::Iban,
            Kind::Email => MaskStyle::Email,
            Kind::PhoneNumber => MaskStyle::Phone,
            Kind::NationalId | Kind::Custom => MaskStyle::NationalId,
            Kind::PersonName => MaskStyle::Name,
            Kind::Credential => MaskStyle::Secret,
        }
    }
}

/// Where the scanned bytes come from. Person names are only reported from fields that
/// hold names (SIP display names, LDAP cn …), never guessed from free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Free text: bodies, payloads, header values.
    Text,
    /// A field whose value is a person's name.
    PersonName,
    /// A field whose value is a telephone number or extension (a SIP URI user part
    /// made of digits, an RTCP SDES PHONE item).
    PhoneNumber,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// Shape only.
    Low,
    /// A plausibility rule or a context word agreed.
    Medium,
    /// A checksum, or a field that holds this kind by definition.
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One piece of personal data found; `evidence` is masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub kind: Kind,
    pub pattern_id: u32,
    pub evidence: String,
    pub confidence: Confidence,
    pub severity: Severity,
    /// Rule the pattern asks for instead of the protocol's default.
    pub rule: Option<u32>,
}

impl Match {
    /// A password, PIN or key seen in a field that holds nothing else: never scanned
    /// or shown, only its length (`userPassword present (14 chars)`). Credentials are
    /// critical whatever the protocol.
    pub fn credential(label: &str, len: usize) -> Match {
        Match {
            kind: Kind::Credential,
            pattern_id: 0,
            evidence: mask::secret(label, len),
            confidence: Confidence::High,
            severity: Severity::Critical,
            rule: None,
        }
    }

    /// The evidence labelled with what it is (`person_name: J*** D**`), as alerts and
    /// the report show it.
    pub fn labelled_evidence(&self) -> String {
        format!("{}: {}", self.kind.as_str(), self.evidence)
    }
}

/// Matches reported per scan call; more are not needed to judge a flow.
const MAX_MATCHES_PER_SCAN: usize = 32;
/// Longest person name kept (masked) from a field.
const MAX_NAME_CHARS: usize = 128;

/// Bytes around a digit run in which a digit-anchored match may start (the "+" of
/// E.164, "DE" of an IBAN, "AB " of a NINO) and end (" C" of a NINO). Context words
/// are looked for in the whole payload, not in this window.
const DIGIT_WINDOW_BEFORE: usize = 8;
const DIGIT_WINDOW_AFTER: usize = 4;
/// Bytes around a literal anchor: an e-mail's local part before `@` (RFC 5321: 64)
/// and its domain after; a credential's key and value.
const LITERAL_WINDOW_BEFORE: usize = 64;
const LITERAL_WINDOW_AFTER: usize = 256;

/// The compiled patterns. Built once; shared by every flow.
///
/// Scanning is anchored: one pass finds digit runs, one Aho-Corasick pass finds the
/// literal anchors (`@`, `sip:`, `pass` …), and each pattern's regex runs only in small
/// windows around its anchors. Text without anchors costs those two passes and nothing
/// else, which is what keeps cleartext without personal data cheap.
#[derive(Clone, Debug)]
pub struct Scanner {
    patterns: Vec<Pattern>,
    /// Literal anchors of two bytes or more, each in its lower, Capitalised and UPPER
    /// form, with its anchor group. One memmem pass per form is faster here than one
    /// Aho-Corasick pass over all of them (measured: ~700 MB/s for the built-in
    /// anchors, whose short words defeat its SIMD prefilter), and a case-insensitive
    /// automaton would be slower still.
    literals: Vec<(memchr::memmem::Finder<'static>, usize)>,
    /// One-byte anchors (`@`), found with memchr. Each is (byte, anchor group).
    single_bytes: Vec<(u8, usize)>,
    /// For each anchor group, the patterns anchored on it.
    literal_owners: Vec<Vec<usize>>,
    /// Smallest `anchor_digits` of any pattern.
    min_digits: Option<usize>,
}

/// A digit run: bytes `start..end`, holding `digits` digits.
#[derive(Clone, Copy, Debug)]
struct DigitRun {
    start: usize,
    end: usize,
    digits: usize,
}

/// Runs of at least `min` digits in which single separators (space, dash, dot,
/// slash) may sit between digits.
fn digit_runs(data: &[u8], min: usize, out: &mut Vec<DigitRun>) {
    let mut i = 0;
    while i < data.len() {
        let Some(start) = next_digit(data, i) else {
            break;
        };
        let mut end = start;
        let mut digits = 0;
        let mut j = start;
        while j < data.len() {
            if data[j].is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
            } else if matches!(data[j], b' ' | b'-' | b'.' | b'/')
                && data.get(j + 1).is_some_and(u8::is_ascii_digit)
            {
                j += 1;
            } else {
                break;
            }
        }
        if digits >= min {
            out.push(DigitRun { start, end, digits });
        }
        i = end.max(start + 1);
    }
}

/// Position of the first ASCII digit at or after `from`. Eight bytes at a time: text
/// is mostly letters, and this loop runs over every scanned byte.
fn next_digit(data: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = data.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // Per byte: (b ^ 0x30) < 10 exactly for '0'..='9'. Classic "has byte less
        // than n" test; it can report false positives only above a true hit, which
        // the byte loop below sorts out.
        let x = word ^ (0x30 * ONES);
        if (x.wrapping_sub(10 * ONES) & !x & HIGHS) != 0 {
            break;
        }
        i += 8;
    }
    data.get(i..)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| i + p)
}

/// Sorts and merges overlapping windows in place.
fn merge(windows: &mut Vec<(usize, usize)>) {
    windows.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(windows.len());
    for &(s, e) in windows.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *windows = merged;
}

impl Scanner {
    pub fn new(patterns: Vec<Pattern>) -> Self {
        // Each distinct literal (lower-cased) with the patterns anchored on it.
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            if let Anchor::Literals(words) = &pattern.anchor {
                for word in words {
                    let word = word.to_ascii_lowercase();
                    match groups.iter_mut().find(|(l, _)| *l == word) {
                        Some((_, owners)) => owners.push(index),
                        None => groups.push((word, vec![index])),
                    }
                }
            }
        }
        let (single, multi): (Vec<_>, Vec<_>) = groups
            .into_iter()
            .partition(|(l, _)| l.len() == 1 && !l.as_bytes()[0].is_ascii_alphabetic());
        let mut literals: Vec<(memchr::memmem::Finder<'static>, usize)> = Vec::new();
        for (group, (literal, _)) in multi.iter().enumerate() {
            let mut capitalised = literal.clone();
            capitalised[..1].make_ascii_uppercase();
            let mut forms = vec![literal.clone(), capitalised, literal.to_ascii_uppercase()];
            forms.dedup();
            for form in forms {
                literals.push((
                    memchr::memmem::Finder::new(form.as_bytes()).into_owned(),
                    group,
                ));
            }
        }
        let single_bytes = single
            .iter()
            .enumerate()
            .map(|(i, (l, _))| (l.as_bytes()[0], multi.len() + i))
            .collect();
        let literal_owners = multi
            .into_iter()
            .chain(single)
            .map(|(_, owners)| owners)
            .collect();
        let min_digits = patterns
            .iter()
            .filter_map(|p| match p.anchor {
                Anchor::Digits(n) => Some(n),
                _ => None,
            })
            .min();
        Scanner {
            patterns,
            literals,
            single_bytes,
            literal_owners,
            min_digits,
        }
    }

    /// Finds personal data in `data`, a `field` of an `app_proto` flow.
    pub fn scan(&self, data: &[u8], field: Field, app_proto: &str, out: &mut Vec<Match>) {
        match field {
            Field::PersonName => self.scan_name(data, out),
            Field::PhoneNumber => scan_number(data, out),
            Field::Text => self.scan_text(data, app_proto, out),
        }
    }

    fn scan_name(&self, data: &[u8], out: &mut Vec<Match>) {
        let text = String::from_utf8_lossy(data);
        let name: String = text
            .trim()
            .trim_matches('"')
            .trim()
            .chars()
            .take(MAX_NAME_CHARS)
            .collect();
        if name.is_empty() {
            return;
        }
        // A display name that is a number is a phone number ("26841945").
        let digits = name.chars().filter(char::is_ascii_digit).count();
        let numeric = name
            .chars()
            .all(|c| c.is_ascii_digit() || "+-. ()".contains(c));
        let (kind, evidence) = if numeric && digits >= 3 {
            (Kind::PhoneNumber, mask::phone(&name))
        } else if name.chars().any(char::is_alphabetic) {
            (Kind::PersonName, mask::name(&name))
        } else {
            return;
        };
        out.push(Match {
            kind,
            pattern_id: 0,
            evidence,
            confidence: Confidence::High,
            severity: Severity::Medium,
            rule: None,
        });
    }

    fn scan_text(&self, data: &[u8], app_proto: &str, out: &mut Vec<Match>) {
        let mut runs = Vec::new();
        if let Some(min) = self.min_digits {
            digit_runs(data, min, &mut runs);
        }
        // (anchor position, anchor group)
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for (finder, group) in &self.literals {
            hits.extend(finder.find_iter(data).map(|at| (at, *group)));
        }
        for &(byte, group) in &self.single_bytes {
            hits.extend(memchr::memchr_iter(byte, data).map(|at| (at, group)));
        }
        if runs.is_empty()
            && hits.is_empty()
            && !self.patterns.iter().any(|p| p.anchor == Anchor::Everywhere)
        {
            return;
        }
        let mut claimed: Vec<(usize, usize)> = Vec::new();
        let mut windows: Vec<(usize, usize)> = Vec::new();
        let start_len = out.len();
        for (index, pattern) in self.patterns.iter().enumerate() {
            if !pattern.applies_to(app_proto) {
                continue;
            }
            windows.clear();
            match &pattern.anchor {
                Anchor::Digits(n) => {
                    windows.extend(runs.iter().filter(|r| r.digits >= *n).map(|r| {
                        (
                            r.start.saturating_sub(DIGIT_WINDOW_BEFORE),
                            (r.end + DIGIT_WINDOW_AFTER).min(data.len()),
                        )
                    }))
                }
                Anchor::Literals(_) => windows.extend(
                    hits.iter()
                        .filter(|(_, lit)| {
                            self.literal_owners
                                .get(*lit)
                                .is_some_and(|o| o.contains(&index))
                        })
                        .map(|(at, _)| {
                            (
                                at.saturating_sub(LITERAL_WINDOW_BEFORE),
                                (at + LITERAL_WINDOW_AFTER).min(data.len()),
                            )
                        }),
                ),
                Anchor::Everywhere => windows.push((0, data.len())),
            }
            merge(&mut windows);
            for &(from, to) in &windows {
                let window = &data[from..to];
                // Plain search first (DFA speed); capture groups only for real matches.
                for found in pattern.regex.find_iter(window) {
                    if out.len() - start_len >= MAX_MATCHES_PER_SCAN {
                        return;
                    }
                    let Some(caps) = pattern.regex.captures_at(window, found.start()) else {
                        continue;
                    };
                    if let Some(m) = self.judge_match(pattern, data, from, &caps, &claimed) {
                        claimed.push(m.1);
                        out.push(m.0);
                    }
                }
            }
        }
    }

    /// Boundary, validator and context checks for one regex match at `offset + caps`;
    /// the masked match and the byte range it claims.
    fn judge_match(
        &self,
        pattern: &Pattern,
        data: &[u8],
        offset: usize,
        caps: &regex::bytes::Captures<'_>,
        claimed: &[(usize, usize)],
    ) -> Option<(Match, (usize, usize))> {
        let whole = caps.get(0)?;
        let (start, end) = (offset + whole.start(), offset + whole.end());
        if claimed.iter().any(|&(s, e)| start < e && s < end) || !on_boundaries(data, start, end) {
            return None;
        }
        // A named `value` group is the secret or number itself; `key` its label.
        let value = caps
            .name("value")
            .map_or(whole.as_bytes(), |m| m.as_bytes());
        if pattern.validator.is_some_and(|v| !v.check(value)) {
            return None;
        }
        let context = match &pattern.context {
            None => false,
            Some(words) => {
                let from = start.saturating_sub(pattern.context_window);
                if !words.is_match(&data[from..start]) {
                    return None;
                }
                true
            }
        };
        let confidence = match pattern.validator {
            Some(v) if v.is_checksum() => Confidence::High,
            Some(_) => Confidence::Medium,
            None if context => Confidence::Medium,
            None => Confidence::Low,
        };
        let label = caps.name("key").map_or_else(
            || pattern.kind.as_str().to_string(),
            |k| String::from_utf8_lossy(k.as_bytes()).to_ascii_lowercase(),
        );
        let evidence = mask::apply(pattern.mask, &String::from_utf8_lossy(value), &label);
        let found = Match {
            kind: pattern.kind,
            pattern_id: pattern.id,
            evidence,
            confidence,
            severity: pattern.severity,
            rule: pattern.rule,
        };
        Some((found, (start, end)))
    }
}

/// Digit and word boundaries: a match that starts or ends inside a longer run of
/// letters or digits is a piece of something else (a token, a hash); one glued to `@`
/// is a URI or Call-ID user part; one glued to `.digit` is part of a decimal or an
/// address.
fn on_boundaries(data: &[u8], start: usize, end: usize) -> bool {
    let at = |i: Option<usize>| i.and_then(|i| data.get(i)).copied();
    // `@` glues a bare number to a host (a Call-ID, a URI user part); a match that is
    // itself a URI (`sip:+4930…`) legitimately ends at its `@`.
    let bare_number = at(Some(start)).is_some_and(|b| b.is_ascii_digit() || b == b'+');
    let joins = |b: Option<u8>| {
        b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || (b == b'@' && bare_number))
    };
    let decimal = |dot: Option<u8>, digit: Option<u8>| {
        dot == Some(b'.') && digit.is_some_and(|d| d.is_ascii_digit())
    };
    let before = at(start.checked_sub(1));
    let after = at(Some(end));
    !joins(before)
        && !joins(after)
        && !decimal(before, at(start.checked_sub(2)))
        && !decimal(after, at(end.checked_add(1)))
}

/// A structured number field: three digits or more is a number that reaches a person
/// (extensions included); anything else in the field is not a number.
fn scan_number(data: &[u8], out: &mut Vec<Match>) {
    let text = String::from_utf8_lossy(data);
    let value = text.trim();
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let numeric = value
        .chars()
        .all(|c| c.is_ascii_digit() || "+-. ()".contains(c));
    // A dotted quad in a name field is a host, not a number.
    let address = value.parse::<std::net::Ipv4Addr>().is_ok();
    if numeric && !address && digits >= 3 && value.len() <= 32 {
        out.push(Match {
            kind: Kind::PhoneNumber,
            pattern_id: 0,
            evidence: mask::phone(value),
            confidence: Confidence::High,
            severity: Severity::Medium,
            rule: None,
        });
    }
}

/// The scanner over the built-in patterns, compiled once per process (tests, fuzzing).
pub fn builtin_scanner() -> &'static Scanner {
    static SCANNER: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
    SCANNER.get_or_init(|| Scanner::new(crate::signatures::Signatures::builtin().patterns))
}

/// Bytes of a flow still allowed to be scanned (configuration `scan.max_bytes_per_flow`).
#[derive(Clone, Copy, Debug)]
pub struct ScanBudget {
    remaining: usize,
}

impl ScanBudget {
    pub fn new(limit: usize) -> Self {
        ScanBudget { remaining: limit }
    }

    /// How many of `wanted` bytes may be scanned now.
    pub fn take(&mut self, wanted: usize) -> usize {
        let granted = wanted.min(self.remaining);
        self.remaining -= granted;
        granted
    }

    pub fn exhausted(&self) -> bool {
        self.remaining == 0
    }

    /// Nothing more of this flow is worth scanning.
    pub fn exhaust(&mut self) {
        self.remaining = 0;
    }
}

/// Magic numbers of compressed or media payloads that text patterns must not read.
const BINARY_MAGICS: [&[u8]; 6] = [
    b"\x1f\x8b",         // gzip
    b"PK\x03\x04",       // zip, docx, jar
    b"\x89PNG",          // PNG
    b"\xff\xd8\xff",     // JPEG
    b"GIF8",             // GIF
    b"\x28\xb5\x2f\xfd", // zstd
];

/// Bytes sampled to decide whether a payload is text.
const TEXT_SAMPLE: usize = 512;

/// Whether a payload is text worth scanning: no binary magic, mostly printable, and
/// not as random as compressed or encrypted data (Shannon entropy per byte).
pub fn looks_textual(data: &[u8]) -> bool {
    if data.is_empty() || BINARY_MAGICS.iter().any(|m| data.starts_with(m)) {
        return false;
    }
    let sample = &data[..data.len().min(TEXT_SAMPLE)];
    let printable: usize = sample
        .iter()
        .map(|&b| usize::from(PRINTABLE[usize::from(b)]))
        .sum();
    if printable * 100 < sample.len() * 90 {
        return false;
    }
    if sample.len() >= 128 {
        let mut counts = [0u16; 256];
        for &b in sample {
            counts[usize::from(b)] += 1;
        }
        // H = log2 n − (1/n) Σ c·log2 c, with c·log2 c from a table: no logarithm per
        // byte value on the packet path.
        let table = c_log2_c();
        let n = sample.len();
        let sum: f64 = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| table[usize::from(c)])
            .sum();
        let entropy = table[n] / n as f64 - sum / n as f64;
        if entropy > 6.0 {
            return false;
        }
    }
    true
}

/// Bytes counted as text: printable ASCII, tab, CR, LF, and Latin-1 / UTF-8 high bytes.
const PRINTABLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b >= 0x20 && b < 0x7f) || b == 0x09 || b == 0x0a || b == 0x0d || b >= 0xa0;
        b += 1;
    }
    table
};

/// c·log2(c) for every count a sample can hold.
fn c_log2_c() -> &'static [f64; TEXT_SAMPLE + 1] {
    static TABLE: std::sync::OnceLock<[f64; TEXT_SAMPLE + 1]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [0.0; TEXT_SAMPLE + 1];
        for (c, v) in table.iter_mut().enumerate().skip(1) {
            *v = c as f64 * (c as f64).log2();
        }
        table
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signatures::Signatures;

    fn scanner() -> Scanner {
        Scanner::new(Signatures::builtin().patterns)
    }

    fn scan(text: &str) -> Vec<(Kind, String)> {
        let mut out = Vec::new();
        scanner().scan(text.as_bytes(), Field::Text, "failed", &mut out);
        out.into_iter().map(|m| (m.kind, m.evidence)).collect()
    }

    #[test]
    fn finds_and_masks_each_kind() {
        let found = scan(
            "card=4111 1111 1111 1111&iban=DE89 3704 0044 0532 0130 00&ssn=123-45-6789 \
             nino AB 12 34 56 C mail alice.martin@example.com call +44 1632 960961 \
             Tel.: 030 1234567 password=Tr0ub4dor",
        );
        let kinds: Vec<Kind> = found.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            vec![
                Kind::CardNumber,
                Kind::Iban,
                Kind::NationalId,
                Kind::NationalId,
                Kind::PhoneNumber,
                Kind::PhoneNumber,
                Kind::Email,
                Kind::Credential
            ],
            "{found:?}"
        );
        let text = format!("{found:?}");
        for raw in [
            "4111 1111 1111 1111",
            "0532 0130",
            "123-45",
            "alice.martin",
            "1632 960961",
            "1234567",
            "Tr0ub4dor",
        ] {
            assert!(!text.contains(raw), "{raw} leaked in {text}");
        }
        assert!(text.contains("password present (9 chars)"), "{text}");
    }

    #[test]
    fn rejects_lookalikes() {
        // Luhn fails; digits inside a hex token; a Call-ID; an RTP-ish timestamp run;
        // a national number without context; repeated digits.
        for text in [
            "4111 1111 1111 1112",
            "branch=z9hG4bK4111111111111111abc",
            "Call-ID: 4111111111111111@10.0.0.1x",
            "ts=1700000000123456789",
            "ref 030 1234567",
            "+11111111111",
            "DE89 3704 0044 0532 0130 01",
        ] {
            assert!(scan(text).is_empty(), "{text}: {:?}", scan(text));
        }
    }

    #[test]
    fn names_only_from_name_fields() {
        let s = scanner();
        let mut out = Vec::new();
        s.scan(b"\"Jane Doe\"", Field::PersonName, "sip", &mut out);
        s.scan(b"26841945", Field::PersonName, "sip", &mut out);
        let got: Vec<(Kind, &str)> = out.iter().map(|m| (m.kind, m.evidence.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Kind::PersonName, "J*** D**"),
                (Kind::PhoneNumber, "****1945")
            ]
        );
        assert!(scan("Jane Doe called").is_empty());
    }

    #[test]
    fn text_check() {
        assert!(looks_textual(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!looks_textual(b"\x1f\x8b\x08\x00rest"));
        let random: Vec<u8> = (0..512u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(!looks_textual(&random));
    }

    #[test]
    fn digit_runs_allow_single_separators() {
        let mut runs = Vec::new();
        digit_runs(b"ab 12 34 56 c, 4111-1111, 1..2, 7", 4, &mut runs);
        let got: Vec<(usize, usize, usize)> =
            runs.iter().map(|r| (r.start, r.end, r.digits)).collect();
        assert_eq!(got, vec![(3, 11, 6), (15, 24, 8)]);
    }

    #[test]
    fn next_digit_finds_every_position() {
        let text = b"abcdefghijklmnopqrstuvwxyz:;<=>?@/ 0 9";
        for from in 0..text.len() {
            let want = text[from..]
                .iter()
                .position(u8::is_ascii_digit)
                .map(|p| p + from);
            assert_eq!(next_digit(text, from), want, "from {from}");
        }
        assert_eq!(next_digit(b"\xb0\xb9\x3a\x2f\x00\xff\x30", 0), Some(6));
    }

    #[test]
    fn budget() {
        let mut b = ScanBudget::new(10);
        assert_eq!(b.take(6), 6);
        assert_eq!(b.take(6), 4);
        assert!(b.exhausted());
    }
}
