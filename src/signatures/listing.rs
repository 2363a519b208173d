//! What `signatures check` and `signatures list` say about a set of signatures.

use std::io::{self, Write};
use std::path::Path;

use super::{SignatureProblem, Signatures};

/// The outcome of `signatures check`.
pub enum Checked {
    /// The line that says what is in force.
    Ok(String),
    /// Every problem (file, line, reason), then a line that counts them.
    Problems(Vec<String>),
}

impl Signatures {
    /// Checks a directory of signature files (or one file) on top of the built-in set;
    /// without one, the built-in set alone.
    pub fn check(dir: Option<&Path>) -> Checked {
        let mut sigs = Signatures::builtin();
        // The built-in files were checked when they were loaded (a build with broken
        // ones does not start), so there is only a directory's to check.
        let loaded = match dir {
            Some(dir) => sigs.load_dir(dir).map_err(|e| e.problems),
            None => Ok(()),
        };
        let name = dir.map_or_else(
            || "built-in signatures".to_string(),
            |d| d.display().to_string(),
        );
        match loaded {
            Ok(()) => Checked::Ok(format!(
                "{name}: ok ({} rules, {} patterns in force), {} system profiles",
                sigs.rules.iter().count(),
                sigs.patterns.len(),
                sigs.profiles.len()
            )),
            Err(problems) => {
                let mut lines: Vec<String> =
                    problems.iter().map(SignatureProblem::to_string).collect();
                lines.push(format!("{name}: {} problem(s)", problems.len()));
                Checked::Problems(lines)
            }
        }
    }

    /// The rules and patterns in force, one line each (`signatures list`).
    pub fn list(&self, out: &mut impl Write) -> io::Result<()> {
        for r in self.rules.iter() {
            let state = if r.enabled { "" } else { " (disabled)" };
            writeln!(
                out,
                "{:<6} {:<9} {:<24} {}{state}",
                r.id,
                r.severity.as_str(),
                r.category,
                r.signature
            )?;
        }
        for p in &self.patterns {
            let validator = p.validator.map(|v| format!(" [{v:?}]")).unwrap_or_default();
            writeln!(
                out,
                "p{:<5} {:<9} {:<24} {}{validator}",
                p.id,
                p.severity.as_str(),
                p.kind.as_str(),
                p.name
            )?;
        }
        out.flush()
    }
}
