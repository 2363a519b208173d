//! From configuration and signature files to engines: what `analyze` and `live` both
//! need before the first packet.

use std::path::Path;

use thiserror::Error;

use crate::config::Config;
use crate::engine::Engine;
use crate::output::report::{InputRecord, Limits, RunInfo};
use crate::personal_data::Scanner;
use crate::policy::suppress::{Suppression, Suppressions};
use crate::policy::Policy;
use crate::signatures::Signatures;
use crate::timestamp::Timestamp;

#[derive(Debug, Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Signatures(#[from] crate::signatures::SignatureError),
    #[error("invalid min_tls_version {0:?}")]
    MinTls(String),
    #[error("[[report.system]] names profile {0:?}; the profiles are: {1}")]
    UnknownProfile(String, String),
}

/// Everything an engine is built from, loaded once.
pub struct Setup {
    pub config: Config,
    /// Shared by every engine made from this setup; clones share suppression counts.
    pub policy: Policy,
    pub scanner: Scanner,
    /// A short hash of the rules and patterns in force, for the report.
    pub signature_fingerprint: String,
    pub rules: usize,
    pub patterns: usize,
    /// The systems' channel profiles, for the report.
    pub profiles: Vec<crate::signatures::Profile>,
}

/// The built-in signatures, plus a folder's, with the configuration's rule overrides.
pub fn load_signatures(dir: Option<&Path>, config: &Config) -> Result<Signatures, SetupError> {
    let mut sigs = Signatures::builtin();
    if let Some(dir) = dir {
        sigs.load_dir(dir)?;
    }
    config.apply_to(&mut sigs.rules)?;
    Ok(sigs)
}

/// A short hash of the rules and patterns in force (ids, revisions, severities,
/// regexes), so a report says which signature set judged the capture.
fn signature_fingerprint(sigs: &Signatures) -> String {
    let mut text = String::new();
    for r in sigs.rules.iter() {
        text.push_str(&format!(
            "{}:{}:{}:{};",
            r.id,
            r.rev,
            r.severity.as_str(),
            r.enabled
        ));
    }
    for p in &sigs.patterns {
        text.push_str(&format!("p{}:{};", p.id, p.regex.as_str()));
    }
    for r in sigs.raises.from_directories() {
        let protocol = r.protocol.map_or("*", |p| p.as_str());
        let kind = r.kind.as_deref().unwrap_or("*");
        text.push_str(&format!("r{}:{protocol}:{kind}:{};", r.fact, r.rule));
    }
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

impl Setup {
    pub fn load(config: Option<&Path>, signatures: Option<&Path>) -> Result<Self, SetupError> {
        let config = match config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        let sigs = load_signatures(signatures, &config)?;
        let min_tls = config
            .min_tls()
            .ok_or_else(|| SetupError::MinTls(config.min_tls_version.clone()))?;
        if let Some(unknown) = config
            .report
            .system
            .iter()
            .find(|a| !sigs.profiles.iter().any(|p| p.id == a.profile))
        {
            let known: Vec<&str> = sigs.profiles.iter().map(|p| p.id.as_str()).collect();
            return Err(SetupError::UnknownProfile(
                unknown.profile.clone(),
                known.join(", "),
            ));
        }
        let suppressions = Suppressions::new(&config.suppress, &Timestamp::now().date());
        Ok(Setup {
            signature_fingerprint: signature_fingerprint(&sigs),
            rules: sigs.rules.iter().count(),
            patterns: sigs.patterns.len(),
            profiles: sigs.profiles,
            policy: Policy::new(sigs.rules, sigs.raises, min_tls, suppressions),
            scanner: Scanner::new(sigs.patterns),
            config,
        })
    }

    /// Suppressions past their expiry date: no longer applied, worth a warning.
    pub fn expired_suppressions(&self) -> &[Suppression] {
        self.policy.suppressions().expired()
    }

    /// What the report says about a run judged by this setup.
    pub fn run_info(
        &self,
        inputs: Vec<InputRecord>,
        packets: u64,
        bytes: u64,
        limits: Limits,
    ) -> RunInfo<'_> {
        let suppressions = self.policy.suppressions();
        RunInfo {
            inputs,
            packets,
            bytes,
            limits,
            signature_fingerprint: self.signature_fingerprint.clone(),
            rules: self.rules,
            patterns: self.patterns,
            profiles: &self.profiles,
            config: self.config.report.clone(),
            suppressions: suppressions.applied().collect(),
            expired: suppressions.expired(),
        }
    }

    /// One engine per worker, numbering flows apart. The flow-table bound is the
    /// sensor's, shared out, so more workers do not mean more memory.
    pub fn engines(&self, workers: usize) -> Vec<Engine> {
        let workers = workers.max(1);
        let mut config = self.config.clone();
        config.flow.max_flows = self.config.flow.max_flows.div_ceil(workers);
        let mut engines: Vec<Engine> = (0..workers)
            .map(|i| {
                let mut engine = Engine::new(&config, self.policy.clone(), self.scanner.clone());
                engine.set_worker(i, workers);
                engine
            })
            .collect();
        if let Some((first, rest)) = engines.split_first_mut() {
            for engine in rest {
                engine.share_expectations(first);
            }
        }
        engines
    }
}
