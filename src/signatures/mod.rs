//! Signature files: the rule table (`signatures/rules.toml`) and the personal-data
//! patterns (`signatures/personal-data.toml`), both compiled in, plus the files of a
//! `--signatures DIR` that add or override rules and patterns by id.
//!
//! Every file is checked whole before anything of it is used: a bad file never
//! half-loads, and every problem is reported with its file and line.

mod patterns;

pub use patterns::{Anchor, Pattern, Validator};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const BUILTIN: [(&str, &str); 2] = [
    (
        "signatures/rules.toml (built in)",
        include_str!("../../signatures/rules.toml"),
    ),
    (
        "signatures/personal-data.toml (built in)",
        include_str!("../../signatures/personal-data.toml"),
    ),
];

/// Suricata's scale: lower is worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical = 1,
    High = 2,
    Medium = 3,
    Low = 4,
    Info = 5,
}

impl Severity {
    pub fn as_int(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// True when `self` is as bad as `threshold` or worse.
    pub fn at_least(self, threshold: Severity) -> bool {
        self.as_int() <= threshold.as_int()
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Ok(Severity::Critical),
            "high" => Ok(Severity::High),
            "medium" => Ok(Severity::Medium),
            "low" => Ok(Severity::Low),
            "info" => Ok(Severity::Info),
            _ => Err(format!(
                "unknown severity {s:?} (critical, high, medium, low, info)"
            )),
        }
    }
}

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

/// The schema of every signature file: rules, patterns, or both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<RuleDef>>,
    #[serde(default)]
    pattern: Vec<toml::Spanned<patterns::PatternDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: u32,
    #[serde(default = "one")]
    rev: u32,
    signature: String,
    category: String,
    severity: Severity,
    #[serde(default)]
    gdpr: Vec<String>,
    #[serde(default)]
    remediation: String,
    #[serde(default = "yes")]
    enabled: bool,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// One problem in one file, located by line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureProblem {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct SignatureError {
    pub problems: Vec<SignatureProblem>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// What one file defines, checked.
#[derive(Default)]
struct Parsed {
    rules: Vec<Rule>,
    patterns: Vec<Pattern>,
}

/// Parses and checks one signature file; either all its definitions or its problems.
fn parse_file(file: &Path, text: &str) -> Result<Parsed, Vec<SignatureProblem>> {
    let problem = |offset: usize, reason: String| SignatureProblem {
        file: file.to_owned(),
        line: line_of(text, offset),
        reason,
    };
    let parsed: SignatureFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![problem(offset, e.message().trim().to_string())]
    })?;
    let mut problems = Vec::new();
    let mut out = Parsed::default();
    // Ids defined twice in one file, for rules and patterns alike.
    let mut seen: BTreeMap<(&str, u32), usize> = BTreeMap::new();
    let mut twice =
        |what: &'static str, id: u32, at: usize, problems: &mut Vec<SignatureProblem>| {
            if let Some(first) = seen.insert((what, id), at) {
                problems.push(problem(
                    at,
                    format!(
                        "{what} id {id} defined twice (first at line {})",
                        line_of(text, first)
                    ),
                ));
            }
        };
    for spanned in parsed.rule {
        let at = spanned.span().start;
        let def = spanned.into_inner();
        twice("rule", def.id, at, &mut problems);
        if def.id == 0 {
            problems.push(problem(at, "rule id 0 is reserved".into()));
        }
        if def.signature.trim().is_empty() {
            problems.push(problem(
                at,
                format!("rule {}: empty signature text", def.id),
            ));
        }
        if def.category.trim().is_empty() {
            problems.push(problem(at, format!("rule {}: empty category", def.id)));
        }
        out.rules.push(Rule {
            id: def.id,
            rev: def.rev,
            signature: def.signature,
            category: def.category,
            severity: def.severity,
            gdpr: def.gdpr,
            remediation: def.remediation,
            enabled: def.enabled,
            source: file.display().to_string(),
        });
    }
    for spanned in parsed.pattern {
        let at = spanned.span().start;
        let def = spanned.into_inner();
        twice("pattern", def.id, at, &mut problems);
        match Pattern::compile(def) {
            Ok(p) => out.patterns.push(p),
            Err(reason) => problems.push(problem(at, reason)),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The `.toml` files of a directory, in name order.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, SignatureProblem> {
    let entries = std::fs::read_dir(dir).map_err(|e| SignatureProblem {
        file: dir.to_owned(),
        line: 0,
        reason: format!("cannot read directory: {e}"),
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
        for (name, text) in BUILTIN {
            // The files are part of the build and checked by the test suite; this only
            // fails for a broken checkout.
            #[allow(clippy::panic)]
            let parsed = parse_file(Path::new(name), text)
                .unwrap_or_else(|p| panic!("built-in signatures invalid: {p:?}"));
            rules.extend(parsed.rules.into_iter().map(|r| (r.id, r)));
            patterns.extend(parsed.patterns.into_iter().map(|p| (p.id, p)));
        }
        Signatures {
            rules: RuleSet { rules },
            patterns: patterns.into_values().collect(),
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
                Ok(text) => match parse_file(&file, &text) {
                    Ok(parsed) => loaded.push(parsed),
                    Err(p) => problems.extend(p),
                },
                Err(e) => problems.push(SignatureProblem {
                    file: file.clone(),
                    line: 0,
                    reason: format!("cannot read: {e}"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(SignatureError { problems });
        }
        let mut patterns: BTreeMap<u32, Pattern> = std::mem::take(&mut self.patterns)
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        for parsed in loaded {
            for rule in parsed.rules {
                self.rules.rules.insert(rule.id, rule);
            }
            for pattern in parsed.patterns {
                patterns.insert(pattern.id, pattern);
            }
        }
        self.patterns = patterns.into_values().collect();
        // A pattern may only raise a rule that exists.
        let dangling: Vec<SignatureProblem> = self
            .patterns
            .iter()
            .filter_map(|p| {
                p.rule
                    .filter(|r| self.rules.get(*r).is_none())
                    .map(|r| (p, r))
            })
            .map(|(p, r)| SignatureProblem {
                file: dir.to_owned(),
                line: 0,
                reason: format!("pattern {} raises rule {r}, which no file defines", p.id),
            })
            .collect();
        if dangling.is_empty() {
            Ok(())
        } else {
            Err(SignatureError { problems: dangling })
        }
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
                5002, 6001, 6002, 6003, 7001
            ]
        );
        assert_eq!(
            sigs.rules.get(2003).map(|r| r.severity),
            Some(Severity::Critical)
        );
        assert_eq!(sigs.patterns.len(), 9);
    }

    #[test]
    fn problems_carry_file_and_line() {
        let text = "[[rule]]\nid = 9001\nsignature = \"a\"\ncategory = \"c\"\nseverity = \"high\"\n\n[[rule]]\nid = 9001\nsignature = \"\"\ncategory = \"c\"\nseverity = \"high\"\n";
        let problems = parse_file(Path::new("x.toml"), text)
            .err()
            .unwrap_or_default();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].line, 7);
        assert!(problems[0].reason.contains("defined twice"));

        let bad =
            "[[rule]]\nid = 9002\nsignature = \"a\"\ncategory = \"c\"\nseverity = \"severe\"\n";
        let problems = parse_file(Path::new("y.toml"), bad)
            .err()
            .unwrap_or_default();
        assert_eq!(problems[0].line, 5);
        assert!(
            problems[0].reason.contains("unknown variant"),
            "{}",
            problems[0].reason
        );

        let bad_regex = "\n[[pattern]]\nid = 50\nname = \"n\"\nkind = \"custom\"\nregex = 'ab(c'\nseverity = \"low\"\nmask = \"secret\"\n";
        let problems = parse_file(Path::new("z.toml"), bad_regex)
            .err()
            .unwrap_or_default();
        assert_eq!(problems[0].line, 2);
        assert!(
            problems[0].reason.contains("regex"),
            "{}",
            problems[0].reason
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
