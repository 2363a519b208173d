//! Signature files: the rule table (`signatures/rules.toml`) and the personal-data
//! patterns (`signatures/personal-data.toml`), both compiled in, plus the files of a
//! `--signatures DIR` that add or override rules and patterns by id.
//!
//! Every file is checked whole before anything of it is used: a bad file never
//! half-loads, and every problem is reported with its file and line.

mod listing;
mod patterns;
pub mod profiles;
pub mod raises;

pub use listing::Checked;
pub use patterns::{Anchor, Pattern, Validator};
pub use profiles::Profile;
pub use raises::Raises;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::IntoDeserializer;
use serde::Serialize;

use crate::severity::Severity;
use crate::toml_location::{line_of, Located};

const BUILTIN: [(&str, &str); 3] = [
    (
        "signatures/rules.toml (built in)",
        include_str!("../../signatures/rules.toml"),
    ),
    (
        "signatures/personal-data.toml (built in)",
        include_str!("../../signatures/personal-data.toml"),
    ),
    (
        "signatures/raises.toml (built in)",
        include_str!("../../signatures/raises.toml"),
    ),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: u32,
    pub rev: u32,
    pub signature: String,
    pub category: String,
    pub severity: Severity,
    pub gdpr: Vec<String>,
    pub remediation: String,
    pub enabled: bool,
    /// File the rule came from, for `signatures list`.
    #[serde(skip)]
    pub source: String,
}

/// The tables a signature file may hold.
const SECTIONS: [&str; 3] = ["rule", "pattern", "raise"];

/// The keys of a `[[rule]]`.
const RULE_KEYS: &[&str] = &[
    "id",
    "rev",
    "signature",
    "category",
    "severity",
    "gdpr",
    "remediation",
    "enabled",
];

/// Rule id ranges (DESIGN §6): the built-in families, then the users'.
const RULE_FAMILIES: [(u32, u32, &str); 7] = [
    (1000, 1999, "TLS and DTLS"),
    (2000, 2999, "SIP and voice"),
    (3000, 3999, "LDAP"),
    (4000, 4999, "SNMP"),
    (5000, 5999, "paging and building control"),
    (6000, 6999, "application protocols"),
    (7000, 7999, "unclassified flows"),
];
const FIRST_USER_RULE: u32 = 9000;

/// Rule categories, so a report can group rules and a typo does not make a new group.
/// `custom` is for an organisation's own rules that fit none of the others.
pub const CATEGORIES: [&str; 7] = [
    "weak-encryption",
    "cleartext-personal-data",
    "cleartext-voice",
    "cleartext-credentials",
    "cleartext-protocol",
    "key-exposure",
    "custom",
];

/// Why a rule id is not acceptable, if it is not. `builtin` is the built-in table when
/// checking a user's file (which may override a built-in rule by id, or add 9000+), and
/// None when checking the built-in files themselves.
fn rule_id_problem(id: u32, builtin: Option<&RuleSet>) -> Option<String> {
    if id >= FIRST_USER_RULE {
        return None;
    }
    let Some((first, last, family)) = RULE_FAMILIES
        .iter()
        .find(|(first, last, _)| (*first..=*last).contains(&id))
    else {
        return Some(format!(
            "rule id {id} is in no range: built-in rules are 1000–7999 (DESIGN §6), \
             your own take {FIRST_USER_RULE} and above"
        ));
    };
    match builtin {
        Some(rules) if rules.get(id).is_none() => Some(format!(
            "rule id {id} is in {first}–{last}, kept for built-in {family} rules, and no \
             built-in rule has it; your own rules take {FIRST_USER_RULE} and above"
        )),
        _ => None,
    }
}

/// One problem in one file, located by line when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureProblem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct SignatureError {
    pub problems: Vec<SignatureProblem>,
}

/// One `[[rule]]` or `[[pattern]]` entry, read key by key so that every bad key of every
/// entry is reported, each at its own line.
struct Entry<'a> {
    file: &'a Path,
    doc: &'a Located,
    table: &'a toml_edit::Table,
    /// Line of the `[[rule]]` / `[[pattern]]` header.
    line: usize,
    problems: &'a mut Vec<SignatureProblem>,
}

impl Entry<'_> {
    fn problem(&mut self, line: usize, reason: String) {
        self.problems.push(SignatureProblem {
            file: self.file.to_owned(),
            line: Some(line),
            reason,
        });
    }

    /// Line of `key` in this entry, or of the entry's header if the key is absent.
    fn line_of(&self, key: &str) -> usize {
        self.table
            .key(key)
            .and_then(|k| self.doc.line(k.span()))
            .unwrap_or(self.line)
    }

    /// The value of an optional key; a value of the wrong type is reported.
    fn get<T: serde::de::DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        let item = self.table.get(key)?;
        let line = self.line_of(key);
        let Ok(value) = item.clone().into_value() else {
            self.problem(line, format!("{key}: expected a value, found a table"));
            return None;
        };
        match T::deserialize(value.into_deserializer()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(line, format!("{key}: {}", e.message().trim()));
                None
            }
        }
    }

    /// The value of a key every entry must have.
    fn required<T: serde::de::DeserializeOwned>(&mut self, what: &str, key: &str) -> Option<T> {
        if !self.table.contains_key(key) {
            self.problem(self.line, format!("{what} without `{key}`"));
            return None;
        }
        self.get(key)
    }

    /// Reports keys this kind of entry does not have.
    fn unknown_keys(&mut self, what: &str, known: &[&str]) {
        let unknown: Vec<String> = self
            .table
            .iter()
            .map(|(k, _)| k.to_string())
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        for key in unknown {
            let line = self.line_of(&key);
            self.problem(
                line,
                format!(
                    "unknown key `{key}` in a {what} (known: {})",
                    known.join(", ")
                ),
            );
        }
    }
}

fn read_rule(entry: &mut Entry<'_>, builtin: Option<&RuleSet>) -> Option<Rule> {
    entry.unknown_keys("rule", RULE_KEYS);
    let id: Option<u32> = entry.required("rule", "id");
    let rev: Option<u32> = entry.get("rev");
    let signature: Option<String> = entry.required("rule", "signature");
    let category: Option<String> = entry.required("rule", "category");
    let severity: Option<Severity> = entry.required("rule", "severity");
    let gdpr: Option<Vec<String>> = entry.get("gdpr");
    let remediation: Option<String> = entry.get("remediation");
    let enabled: Option<bool> = entry.get("enabled");
    if let Some(reason) = id.and_then(|id| rule_id_problem(id, builtin)) {
        let line = entry.line_of("id");
        entry.problem(line, reason);
    }
    if signature.as_ref().is_some_and(|s| s.trim().is_empty()) {
        let line = entry.line_of("signature");
        entry.problem(line, "empty signature text".into());
    }
    if let Some(c) = category
        .as_ref()
        .filter(|c| !CATEGORIES.contains(&c.as_str()))
    {
        let line = entry.line_of("category");
        entry.problem(
            line,
            format!("category {c:?} is not one of: {}", CATEGORIES.join(", ")),
        );
    }
    Some(Rule {
        id: id?,
        rev: rev.unwrap_or(1),
        signature: signature?,
        category: category?,
        severity: severity?,
        gdpr: gdpr.unwrap_or_default(),
        remediation: remediation.unwrap_or_default(),
        enabled: enabled.unwrap_or(true),
        source: entry.file.display().to_string(),
    })
}

/// What one file defines, checked.
#[derive(Default)]
struct Parsed {
    rules: Vec<Rule>,
    patterns: Vec<Pattern>,
    /// Line of each pattern's `rule =`, to point at it if that rule does not exist.
    rule_refs: BTreeMap<u32, usize>,
    /// `[[raise]]` entries in file order, with the line of their `rule =`.
    raises: Vec<(raises::Raise, usize)>,
}

/// Parses and checks one signature file: all its definitions, or every problem in it.
fn parse_file(
    file: &Path,
    text: &str,
    builtin: Option<&RuleSet>,
) -> Result<Parsed, Vec<SignatureProblem>> {
    let problem = |line: usize, reason: String| SignatureProblem {
        file: file.to_owned(),
        line: Some(line),
        reason,
    };
    let doc =
        Located::parse(text).map_err(|(at, reason)| vec![problem(line_of(text, at), reason)])?;
    let mut problems = Vec::new();
    let mut out = Parsed::default();
    let mut first_line: BTreeMap<(&str, u32), usize> = BTreeMap::new();
    for (key, item) in doc.root().iter() {
        let line = doc
            .line(doc.root().key(key).and_then(|k| k.span()))
            .unwrap_or(1);
        if !SECTIONS.contains(&key) {
            problems.push(problem(
                line,
                format!("unknown table `{key}` (a signature file has [[rule]], [[pattern]] and [[raise]])"),
            ));
            continue;
        }
        let Some(entries) = item.as_array_of_tables() else {
            problems.push(problem(line, format!("`{key}` must be written [[{key}]]")));
            continue;
        };
        for table in entries.iter() {
            let mut entry = Entry {
                file,
                doc: &doc,
                table,
                line: doc.line(table.span()).unwrap_or(line),
                problems: &mut problems,
            };
            // Ids defined twice in one file, whatever else is wrong with the entries.
            let id_line = entry.line_of("id");
            let id = table
                .get("id")
                .and_then(|i| i.as_integer())
                .and_then(|i| u32::try_from(i).ok());
            if let Some(id) = id {
                if let Some(first) = first_line.insert((key, id), id_line) {
                    entry.problem(
                        id_line,
                        format!("{key} id {id} defined twice (first at line {first})"),
                    );
                }
            }
            if key == "rule" {
                if let Some(rule) = read_rule(&mut entry, builtin) {
                    out.rules.push(rule);
                }
            } else if key == "raise" {
                out.raises.extend(raises::read(&mut entry));
            } else if let Some((pattern, rule_line)) = patterns::read(&mut entry) {
                if let Some(line) = rule_line {
                    out.rule_refs.insert(pattern.id, line);
                }
                out.patterns.push(pattern);
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The `.toml` files of a directory, in name order; a file named directly is itself.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, SignatureProblem> {
    if dir.is_file() {
        return Ok(vec![dir.to_owned()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| SignatureProblem {
        file: dir.to_owned(),
        line: None,
        reason: format!("cannot read the signature directory: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The rules and patterns in force.
#[derive(Clone, Debug)]
pub struct Signatures {
    pub rules: RuleSet,
    pub patterns: Vec<Pattern>,
    /// The systems' channel profiles (`profiles/*.toml`), in file order.
    pub profiles: Vec<Profile>,
    /// Which rule each fact raises on each protocol.
    pub raises: Raises,
}

#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: BTreeMap<u32, Rule>,
}

impl RuleSet {
    pub fn builtin() -> Self {
        Signatures::builtin().rules
    }

    pub fn get(&self, id: u32) -> Option<&Rule> {
        self.rules.get(&id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Rule> {
        self.rules.get_mut(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values()
    }
}

impl Signatures {
    /// The files compiled into the binary.
    pub fn builtin() -> Self {
        let mut rules = BTreeMap::new();
        let mut patterns = BTreeMap::new();
        let mut raises = Vec::new();
        for (name, text) in BUILTIN {
            // The files are part of the build and checked by the test suite; this only
            // fails for a broken checkout.
            #[allow(clippy::panic)]
            let parsed = parse_file(Path::new(name), text, None)
                .unwrap_or_else(|p| panic!("built-in signatures invalid: {p:?}"));
            rules.extend(parsed.rules.into_iter().map(|r| (r.id, r)));
            patterns.extend(parsed.patterns.into_iter().map(|p| (p.id, p)));
            raises.extend(parsed.raises.into_iter().map(|(r, _)| r));
        }
        #[allow(clippy::panic)]
        let profiles = profiles::BUILTIN
            .iter()
            .map(|(name, text)| {
                profiles::parse(Path::new(name), text)
                    .unwrap_or_else(|p| panic!("built-in profile invalid: {p:?}"))
            })
            .collect();
        Signatures {
            rules: RuleSet { rules },
            patterns: patterns.into_values().collect(),
            profiles,
            raises: Raises::new(raises),
        }
    }

    /// Adds and overrides rules and patterns from every `.toml` file in `dir`.
    /// Nothing is applied unless every file is valid.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), SignatureError> {
        let files = toml_files(dir).map_err(|p| SignatureError { problems: vec![p] })?;
        let mut problems = Vec::new();
        let mut loaded = Vec::new();
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => match parse_file(&file, &text, Some(&self.rules)) {
                    Ok(parsed) => loaded.push((file, parsed)),
                    Err(p) => problems.extend(p),
                },
                Err(e) => problems.push(SignatureProblem {
                    file: file.clone(),
                    line: None,
                    reason: format!("cannot read: {e}"),
                }),
            }
        }
        let mut patterns: BTreeMap<u32, Pattern> =
            self.patterns.iter().map(|p| (p.id, p.clone())).collect();
        let mut rules = self.rules.clone();
        // Where the pattern in force got its `rule =`, for a rule that does not exist.
        let mut rule_refs: BTreeMap<u32, SignatureProblem> = BTreeMap::new();
        let mut raised: Vec<raises::Raise> = Vec::new();
        let mut raise_refs: Vec<(u32, SignatureProblem)> = Vec::new();
        for (file, parsed) in loaded {
            for (raise, line) in parsed.raises {
                raise_refs.push((
                    raise.rule,
                    SignatureProblem {
                        file: file.clone(),
                        line: Some(line),
                        reason: format!(
                            "{} raises rule {}, which no file defines",
                            raise.fact, raise.rule
                        ),
                    },
                ));
                raised.push(raise);
            }
            for rule in parsed.rules {
                rules.rules.insert(rule.id, rule);
            }
            for pattern in parsed.patterns {
                rule_refs.remove(&pattern.id);
                if let (Some(rule), Some(line)) = (pattern.rule, parsed.rule_refs.get(&pattern.id))
                {
                    rule_refs.insert(
                        pattern.id,
                        SignatureProblem {
                            file: file.clone(),
                            line: Some(*line),
                            reason: format!(
                                "pattern {} raises rule {rule}, which no file defines",
                                pattern.id
                            ),
                        },
                    );
                }
                patterns.insert(pattern.id, pattern);
            }
        }
        // A pattern may only raise a rule that exists once every file is in.
        problems.extend(
            patterns
                .values()
                .filter(|p| p.rule.is_some_and(|r| rules.get(r).is_none()))
                .filter_map(|p| rule_refs.remove(&p.id)),
        );
        problems.extend(
            raise_refs
                .into_iter()
                .filter(|(rule, _)| rules.get(*rule).is_none())
                .map(|(_, problem)| problem),
        );
        let profiles = profiles::load_dir(dir).unwrap_or_else(|p| {
            problems.extend(p);
            Vec::new()
        });
        if !problems.is_empty() {
            return Err(SignatureError { problems });
        }
        self.rules = rules;
        self.patterns = patterns.into_values().collect();
        self.raises.put_first(raised);
        for profile in profiles {
            match self.profiles.iter_mut().find(|p| p.id == profile.id) {
                Some(existing) => *existing = profile,
                None => self.profiles.push(profile),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_is_complete() {
        let sigs = Signatures::builtin();
        let ids: Vec<u32> = sigs.rules.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            vec![
                1001, 1002, 1003, 2001, 2002, 2003, 2004, 2005, 3001, 3002, 4001, 4002, 4003, 5001,
                5002, 6001, 6002, 6003, 6004, 6005, 6006, 7001
            ]
        );
        assert_eq!(
            sigs.rules.get(2003).map(|r| r.severity),
            Some(Severity::Critical)
        );
        assert_eq!(sigs.patterns.len(), 9);
        // Every built-in rule is raised by some fact, and only rules that exist are.
        let raised: std::collections::BTreeSet<u32> = sigs.raises.iter().map(|r| r.rule).collect();
        assert_eq!(raised.into_iter().collect::<Vec<_>>(), ids);
    }

    #[test]
    fn raises_are_checked_and_a_directory_goes_first() {
        let names: Vec<&str> = crate::protocols::AppProto::ALL
            .iter()
            .map(|p| p.as_str())
            .collect();
        let names = names.join(", ");
        assert_eq!(
            problems_of(
                "[[raise]]\nfact = \"voice\"\nrule = 2002\n\n[[raise]]\nfact = \"media\"\nprotocol = \"h323\"\nrule = 2002\n\n[[raise]]\nfact = \"personal_data\"\nkind = \"shoe_size\"\nrule = 6002\n"
            ),
            vec![
                "2: fact \"voice\" is not one of: tls_below_minimum, weak_cipher, client_below_minimum, credential, challenge_response, personal_data, key_in_clear, clear_channel, media, dtmf, upgrade_refused",
                &format!("7: protocol \"h323\" is not one of: {names}"),
                "12: kind \"shoe_size\" is neither a personal-data kind nor one of: directory_entry, paging, voice_recording, call_records",
            ]
        );
        let dir = std::env::temp_dir().join(format!("cleartrace-raise-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("site.toml");
        std::fs::write(
            &file,
            "[[raise]]\nfact = \"personal_data\"\nprotocol = \"syslog\"\nrule = 9001\n",
        )
        .expect("write");
        let mut sigs = Signatures::builtin();
        let err = sigs.load_dir(&dir).expect_err("rule 9001 is not defined");
        assert_eq!(
            err.problems
                .iter()
                .map(|p| (p.line, p.reason.as_str()))
                .collect::<Vec<_>>(),
            vec![(
                Some(4),
                "personal_data raises rule 9001, which no file defines"
            )]
        );
        std::fs::write(
            &file,
            "[[rule]]\nid = 9001\nsignature = \"Caller data in syslog\"\ncategory = \"custom\"\nseverity = \"low\"\n\n[[raise]]\nfact = \"personal_data\"\nprotocol = \"syslog\"\nrule = 9001\n",
        )
        .expect("write");
        sigs.load_dir(&dir).expect("valid");
        std::fs::remove_dir_all(&dir).unwrap_or_default();
        let (syslog, http) = (
            crate::protocols::AppProto::Syslog,
            crate::protocols::AppProto::Http,
        );
        assert_eq!(
            sigs.raises.rule("personal_data", syslog, Some("email")),
            Some(9001)
        );
        assert_eq!(
            sigs.raises.rule("personal_data", http, Some("email")),
            Some(6002)
        );
    }

    /// Every problem of a file, as `line: reason`.
    fn problems_of(text: &str) -> Vec<String> {
        parse_file(Path::new("x.toml"), text, Some(&RuleSet::builtin()))
            .err()
            .unwrap_or_default()
            .iter()
            .map(|p| format!("{}: {}", p.line.unwrap_or(0), p.reason))
            .collect()
    }

    #[test]
    fn every_problem_at_the_line_of_its_key() {
        let text = "[[rule]]\nid = 9001\nsignature = \"a\"\ncategory = \"cleartext-protocol\"\nseverity = \"high\"\n\n[[rule]]\nid = 9001\nsignature = \"\"\ncategory = \"cleartext-protocol\"\nseverity = \"severe\"\n\n[[rule]]\nid = 50\nsignature = \"b\"\ncategory = \"x\"\nseverity = \"low\"\ncolour = 1\n\n[[pattern]]\nid = 50\nname = \"n\"\nkind = \"custom\"\nregex = 'ab(c'\nseverity = \"low\"\nmask = \"secret\"\n";
        let problems = problems_of(text);
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert_eq!(
            problems[0],
            "8: rule id 9001 defined twice (first at line 2)"
        );
        assert_eq!(problems[1], "9: empty signature text");
        assert!(problems[2].starts_with("11: severity: unknown variant `severe`"));
        assert!(problems[3].starts_with("14: rule id 50 is in no range"));
        assert!(problems[4].starts_with("16: category \"x\" is not one of"));
        assert!(problems[5].starts_with("18: unknown key `colour` in a rule"));
        assert_eq!(problems[6], "24: pattern 50: bad regex: unclosed group");
    }

    #[test]
    fn rule_ids_keep_to_their_ranges() {
        let builtin = RuleSet::builtin();
        assert_eq!(rule_id_problem(1001, Some(&builtin)), None, "an override");
        assert_eq!(rule_id_problem(9000, Some(&builtin)), None);
        assert!(rule_id_problem(1999, Some(&builtin)).is_some_and(|r| r.contains("1000–1999")));
        assert!(rule_id_problem(8000, None).is_some());
        assert!(rule_id_problem(0, None).is_some());
        assert_eq!(
            rule_id_problem(1999, None),
            None,
            "the built-in files themselves"
        );
    }

    #[test]
    fn directory_overrides_by_id_and_never_half_loads() {
        let dir = std::env::temp_dir().join(format!("cleartrace-sig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let good = "[[rule]]\nid = 9001\nsignature = \"Employee id\"\ncategory = \"custom\"\nseverity = \"low\"\n\n[[pattern]]\nid = 100\nname = \"Employee id\"\nkind = \"custom\"\nregex = 'EMP-\\d{6}'\nseverity = \"low\"\nmask = \"national_id\"\nrule = 9001\n";
        std::fs::write(dir.join("a.toml"), good).unwrap_or_default();
        std::fs::write(
            dir.join("b.toml"),
            "[[rule]]\nid = 1001\nsignature = \"x\"\ncategory = \"c\"\nseverity = \"bad\"\n",
        )
        .unwrap_or_default();
        let mut sigs = Signatures::builtin();
        assert!(sigs.load_dir(&dir).is_err());
        assert!(sigs.rules.get(9001).is_none(), "nothing of a.toml applied");
        std::fs::remove_file(dir.join("b.toml")).unwrap_or_default();
        assert!(sigs.load_dir(&dir).is_ok());
        assert!(sigs.rules.get(9001).is_some());
        assert_eq!(sigs.patterns.iter().filter(|p| p.id == 100).count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
