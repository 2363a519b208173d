//! `--config FILE`: TOML settings with safe defaults for everything.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::decode::tunnel::TunnelConfig;
use crate::flow::{ExpectationLimits, FlowLimits, ReassemblyLimits};
use crate::memory::MemoryConfig;
use crate::policy::suppress::Suppression;
use crate::protocols::tls::TlsVersion;
use crate::severity::Severity;
use crate::signatures::RuleSet;
use crate::toml_location::{line_of, Located, Step};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {reason}")]
    Read {
        path: String,
        reason: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Invalid {
        path: String,
        line: usize,
        reason: String,
    },
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReassemblyConfig {
    pub max_buffered_bytes: usize,
    pub max_buffered_segments: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        let d = ReassemblyLimits::default();
        ReassemblyConfig {
            max_buffered_bytes: d.max_buffered_bytes,
            max_buffered_segments: d.max_buffered_segments,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// Bytes of one flow handed to the personal-data scanner, both directions together.
    pub max_bytes_per_flow: usize,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            max_bytes_per_flow: 1 << 20,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Endpoints awaited at once; the oldest is dropped beyond this (counted).
    pub max_expectations: usize,
    /// Seconds an announced endpoint is awaited.
    pub expectation_ttl: u64,
    /// SIP dialogs tracked per flow (for SIP INFO digits).
    pub max_sip_dialogs: usize,
}

impl Default for MediaConfig {
    fn default() -> Self {
        let d = ExpectationLimits::default();
        MediaConfig {
            max_expectations: d.max_entries,
            expectation_ttl: d.ttl_secs,
            max_sip_dialogs: crate::protocols::AppLimits::default().sip_dialogs,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Lowest acceptable TLS version (rules 1001, 1003): "1.2" unless told otherwise.
    pub min_tls_version: String,
    pub flow: FlowLimits,
    pub reassembly: ReassemblyConfig,
    /// IPv4 datagrams reassembled at once.
    pub max_ip_fragments: usize,
    /// Per-rule overrides, keyed by rule id: `[rules.1001] severity = "medium"`.
    pub rules: BTreeMap<String, RuleOverride>,
    pub scan: ScanConfig,
    /// Media flows announced by SDP and awaited.
    pub media: MediaConfig,
    /// `[[suppress]]` entries: alerts that must not be raised, each with its reason.
    pub suppress: Vec<Suppression>,
    /// The sensor's name: EVE `host` on every line, `host` label of `build_info`.
    /// `--sensor-name` overrides it.
    pub sensor_name: Option<String>,
    /// `[memory] budget_mib`: what one engine's buffers may hold (see `memory`).
    pub memory: MemoryConfig,
    /// `[tunnels]`: UDP ports read as VXLAN / GENEVE / GTP-U, and the nesting limit.
    pub tunnels: TunnelConfig,
    /// `[report]`: site, scope, assessor, and `[[report.system]]` host assignments.
    pub report: crate::output::report::ReportConfig,
    /// The file this came from, so later checks (rule ids) can name its lines.
    #[serde(skip)]
    origin: Origin,
}

/// A configuration's file name and text.
#[derive(Clone, Default)]
struct Origin {
    name: String,
    text: String,
}

/// Where a configuration came from is not part of what it says: two configurations
/// with the same settings print the same.
impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Origin")
    }
}

impl Origin {
    fn error(&self, path: &[Step<'_>], reason: String) -> ConfigError {
        let line = Located::parse(&self.text)
            .ok()
            .and_then(|doc| doc.line_of_path(path))
            .unwrap_or(1);
        ConfigError::Invalid {
            path: if self.name.is_empty() {
                "configuration".into()
            } else {
                self.name.clone()
            },
            line,
            reason,
        }
    }
}

/// Seconds in a day: the longest a timeout may sensibly be is a few of them.
const DAY: u64 = 86_400;

/// A numeric setting and the range that makes sense for it.
struct Limit {
    /// Table and key, as written in the file.
    path: &'static [&'static str],
    value: u64,
    min: u64,
    max: u64,
    /// What the bound protects, said when the value is outside it.
    why: &'static str,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_tls_version: "1.2".into(),
            flow: FlowLimits::default(),
            reassembly: ReassemblyConfig::default(),
            max_ip_fragments: 1024,
            rules: BTreeMap::new(),
            scan: ScanConfig::default(),
            media: MediaConfig::default(),
            suppress: Vec::new(),
            sensor_name: None,
            origin: Origin::default(),
            memory: MemoryConfig::default(),
            tunnels: TunnelConfig::default(),
            report: Default::default(),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.display().to_string(),
            reason,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, ConfigError> {
        let invalid = |offset: usize, reason: String| ConfigError::Invalid {
            path: name.to_string(),
            line: line_of(text, offset),
            reason,
        };
        let mut config: Config = toml::from_str(text)
            .map_err(|e| invalid(e.span().map_or(0, |s| s.start), e.message().to_string()))?;
        config.origin = Origin {
            name: name.to_string(),
            text: text.to_string(),
        };
        for (i, s) in config.suppress.iter().enumerate() {
            if let Err(reason) = s.check() {
                return Err(config
                    .origin
                    .error(&[Step::Key("suppress"), Step::Entry(i)], reason));
            }
        }
        if config.min_tls().is_none() {
            return Err(config.origin.error(
                &[Step::Key("min_tls_version")],
                format!(
                    "min_tls_version {:?}: use 1.0, 1.1, 1.2 or 1.3",
                    config.min_tls_version
                ),
            ));
        }
        for limit in config.limits() {
            if !(limit.min..=limit.max).contains(&limit.value) {
                let path: Vec<Step<'_>> = limit.path.iter().map(|k| Step::Key(k)).collect();
                let name = limit.path.join(".");
                return Err(config.origin.error(
                    &path,
                    format!(
                        "{name} = {}: must be between {} and {} ({})",
                        limit.value, limit.min, limit.max, limit.why
                    ),
                ));
            }
        }
        Ok(config)
    }

    /// Every numeric setting with its sensible range. Zero is never one: a table of
    /// no entries or a timeout of no time silently changes what the sensor sees.
    fn limits(&self) -> [Limit; 14] {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        let f = &self.flow;
        [
            Limit {
                path: &["flow", "max_flows"],
                value: n(f.max_flows),
                min: 1,
                max: 1 << 24,
                why: "each tracked flow holds memory",
            },
            Limit {
                path: &["flow", "tcp_idle_timeout"],
                value: f.tcp_idle_timeout,
                min: 1,
                max: 7 * DAY,
                why: "seconds",
            },
            Limit {
                path: &["flow", "tcp_closed_timeout"],
                value: f.tcp_closed_timeout,
                min: 1,
                max: DAY,
                why: "seconds",
            },
            Limit {
                path: &["flow", "udp_idle_timeout"],
                value: f.udp_idle_timeout,
                min: 1,
                max: 7 * DAY,
                why: "seconds",
            },
            Limit {
                path: &["flow", "active_timeout"],
                value: f.active_timeout,
                min: 1,
                max: 30 * DAY,
                why: "seconds",
            },
            Limit {
                path: &["reassembly", "max_buffered_bytes"],
                value: n(self.reassembly.max_buffered_bytes),
                min: 1,
                max: 64 << 20,
                why: "bytes per flow direction",
            },
            Limit {
                path: &["reassembly", "max_buffered_segments"],
                value: n(self.reassembly.max_buffered_segments),
                min: 1,
                max: 1 << 16,
                why: "segments per flow direction",
            },
            Limit {
                path: &["memory", "budget_mib"],
                value: n(self.memory.budget_mib),
                min: 1,
                max: 1 << 20,
                why: "MiB of buffered input per engine",
            },
            Limit {
                path: &["max_ip_fragments"],
                value: n(self.max_ip_fragments),
                min: 1,
                max: 1 << 20,
                why: "datagrams held at once",
            },
            Limit {
                path: &["scan", "max_bytes_per_flow"],
                value: n(self.scan.max_bytes_per_flow),
                min: 1,
                max: 1 << 30,
                why: "bytes scanned per flow; 0 would scan nothing",
            },
            Limit {
                path: &["media", "max_expectations"],
                value: n(self.media.max_expectations),
                min: 1,
                max: 1 << 20,
                why: "announced media endpoints held at once",
            },
            Limit {
                path: &["media", "expectation_ttl"],
                value: self.media.expectation_ttl,
                min: 1,
                max: DAY,
                why: "seconds",
            },
            Limit {
                path: &["tunnels", "max_depth"],
                value: u64::from(self.tunnels.max_depth),
                min: 1,
                max: 32,
                why: "tunnel layers peeled off one packet",
            },
            Limit {
                path: &["media", "max_sip_dialogs"],
                value: n(self.media.max_sip_dialogs),
                min: 1,
                max: 1 << 16,
                why: "SIP dialogs tracked per flow",
            },
        ]
    }

    pub fn min_tls(&self) -> Option<TlsVersion> {
        TlsVersion::parse_config(&self.min_tls_version)
    }

    pub fn reassembly_limits(&self) -> ReassemblyLimits {
        ReassemblyLimits {
            max_buffered_bytes: self.reassembly.max_buffered_bytes,
            max_buffered_segments: self.reassembly.max_buffered_segments,
        }
    }

    /// Applies rule overrides; an override for an unknown rule id is an error.
    pub fn apply_to(&self, rules: &mut RuleSet) -> Result<(), ConfigError> {
        for (key, over) in &self.rules {
            let at = [Step::Key("rules"), Step::Key(key)];
            let id: u32 = key.parse().map_err(|_| {
                self.origin
                    .error(&at, format!("[rules.{key}]: a rule id is a number"))
            })?;
            let Some(rule) = rules.get_mut(id) else {
                return Err(self
                    .origin
                    .error(&at, format!("[rules.{id}]: no rule with this id")));
            };
            if let Some(enabled) = over.enabled {
                rule.enabled = enabled;
            }
            if let Some(severity) = over.severity {
                rule.severity = severity;
            }
        }
        for (i, s) in self.suppress.iter().enumerate() {
            if rules.get(s.rule).is_none() {
                return Err(self.origin.error(
                    &[Step::Key("suppress"), Step::Entry(i), Step::Key("rule")],
                    format!("[[suppress]] for rule {}: no rule with this id", s.rule),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cleartrace.example.toml` says every key at its default: it parses to the
    /// defaults, and written out the defaults are exactly its uncommented keys.
    #[test]
    fn the_example_file_lists_every_key_at_its_default() {
        let text = include_str!("../cleartrace.example.toml");
        let example = Config::parse("cleartrace.example.toml", text).unwrap();
        assert_eq!(format!("{example:?}"), format!("{:?}", Config::default()));
        let written: toml::Table = toml::from_str(text).unwrap();
        let mut defaults = toml::Table::try_from(Config::default()).unwrap();
        // Lists of entries, empty by default: the example shows them commented out.
        for entries in ["rules", "suppress"] {
            defaults.remove(entries);
            assert!(
                text.contains(&format!("\n# [{entries}"))
                    || text.contains(&format!("\n# [[{entries}")),
                "{entries}"
            );
        }
        assert!(text.contains("\n# sensor_name = "));
        assert_eq!(written, defaults);
    }

    #[test]
    fn parses_overrides_and_rejects_unknown_keys() {
        let c = Config::parse(
            "c.toml",
            "min_tls_version = \"1.3\"\n[flow]\nmax_flows = 10\n[rules.1001]\nseverity = \"low\"\n",
        )
        .unwrap();
        assert_eq!(c.min_tls(), Some(TlsVersion::Tls13));
        assert_eq!(c.flow.max_flows, 10);
        let mut rules = RuleSet::builtin();
        c.apply_to(&mut rules).unwrap();
        assert_eq!(rules.get(1001).map(|r| r.severity), Some(Severity::Low));

        let err = Config::parse("c.toml", "\nmax_flowz = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
        assert!(Config::parse("c.toml", "min_tls_version = \"9\"").is_err());

        let sup = "[[suppress]]\nrule = 6001\ndst = \"10.0.0.0/8\"\nreason = \"lab\"\nexpires = \"2027-01-31\"\n";
        let c = Config::parse("c.toml", sup).unwrap();
        assert_eq!(c.suppress.len(), 1);
        let no_reason = "\n[[suppress]]\nrule = 6001\nreason = \"\"\n";
        assert!(Config::parse("c.toml", no_reason)
            .unwrap_err()
            .to_string()
            .starts_with("c.toml:2:"));
        let bad_date = "[[suppress]]\nrule = 6001\nreason = \"x\"\nexpires = \"31.01.2027\"\n";
        assert!(Config::parse("c.toml", bad_date).is_err());
    }
}
