//! The rule table: `signatures/rules.toml` compiled in, plus the files of a
//! `--signatures DIR` that add rules or override them by id.
//!
//! A file is checked whole before anything of it is used: a bad file never half-loads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const BUILTIN_RULES: &str = include_str!("../../signatures/rules.toml");
const BUILTIN_NAME: &str = "signatures/rules.toml (built in)";

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<RuleDef>>,
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

#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: BTreeMap<u32, Rule>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len())).map_or(1, |t| {
        t.lines().count().max(1) + usize::from(t.ends_with('\n'))
    })
}

/// Parses and checks one rule file; either all its rules or its problems.
fn parse_rules(file: &Path, text: &str) -> Result<Vec<Rule>, Vec<SignatureProblem>> {
    let problem = |offset: usize, reason: String| SignatureProblem {
        file: file.to_owned(),
        line: line_of(text, offset),
        reason,
    };
    let parsed: RuleFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![problem(offset, e.message().to_string())]
    })?;
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    let mut rules = Vec::new();
    for spanned in parsed.rule {
        let at = spanned.span().start;
        let def = spanned.into_inner();
        if let Some(first) = seen.insert(def.id, at) {
            problems.push(problem(
                at,
                format!(
                    "rule id {} defined twice (first at line {})",
                    def.id,
                    line_of(text, first)
                ),
            ));
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
        if def.id == 0 {
            problems.push(problem(at, "rule id 0 is reserved".into()));
        }
        rules.push(Rule {
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
    if problems.is_empty() {
        Ok(rules)
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

impl RuleSet {
    /// The rules compiled into the binary.
    pub fn builtin() -> Self {
        let rules =
            parse_rules(Path::new(BUILTIN_NAME), BUILTIN_RULES).unwrap_or_else(|problems| {
                // The file is part of the build and checked by the test suite; this only
                // triggers for a broken checkout.
                panic!("built-in rules invalid: {problems:?}")
            });
        RuleSet {
            rules: rules.into_iter().map(|r| (r.id, r)).collect(),
        }
    }

    /// Adds and overrides rules from every `.toml` file in `dir` that defines rules.
    /// Nothing is applied unless every file is valid.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), SignatureError> {
        let files = toml_files(dir).map_err(|p| SignatureError { problems: vec![p] })?;
        let mut problems = Vec::new();
        let mut loaded = Vec::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(SignatureProblem {
                        file: file.clone(),
                        line: 0,
                        reason: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            // Pattern files (personal-data.toml) sit beside rule files; only files with
            // [[rule]] tables are rule files.
            if !text.lines().any(|l| l.trim_start().starts_with("[[rule]]")) {
                continue;
            }
            match parse_rules(&file, &text) {
                Ok(rules) => loaded.extend(rules),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(SignatureError { problems });
        }
        for rule in loaded {
            self.rules.insert(rule.id, rule);
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_is_complete() {
        let rules = RuleSet::builtin();
        let ids: Vec<u32> = rules.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            vec![
                1001, 1002, 1003, 2001, 2002, 2003, 2004, 2005, 3001, 3002, 4001, 4002, 4003, 5001,
                5002, 6001, 6002, 6003, 7001
            ]
        );
        assert_eq!(
            rules.get(2003).map(|r| r.severity),
            Some(Severity::Critical)
        );
    }

    #[test]
    fn problems_carry_file_and_line() {
        let text = "[[rule]]\nid = 9001\nsignature = \"a\"\ncategory = \"c\"\nseverity = \"high\"\n\n[[rule]]\nid = 9001\nsignature = \"\"\ncategory = \"c\"\nseverity = \"high\"\n";
        let problems = parse_rules(Path::new("x.toml"), text).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].line, 7);
        assert!(problems[0].reason.contains("defined twice"));

        let bad =
            "[[rule]]\nid = 9002\nsignature = \"a\"\ncategory = \"c\"\nseverity = \"severe\"\n";
        let problems = parse_rules(Path::new("y.toml"), bad).unwrap_err();
        assert_eq!(problems[0].line, 5);
        assert!(
            problems[0].reason.contains("unknown variant"),
            "{}",
            problems[0].reason
        );
    }
}
