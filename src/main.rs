//! The command line (DESIGN §4). Flags, wiring and exit codes only.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use cleartrace::analyze::{analyze_files, capture_files};
use cleartrace::config::Config;
use cleartrace::engine::Engine;
use cleartrace::output::eve::EveWriter;
use cleartrace::output::report::{self, RunInfo};
use cleartrace::output::summary::Summary;
use cleartrace::output::Tee;
use cleartrace::personal_data::Scanner;
use cleartrace::policy::suppress::Suppressions;
use cleartrace::policy::Policy;
use cleartrace::signatures::{Severity, Signatures};
use cleartrace::timestamp::Timestamp;

/// Exit status when alerts reach `--fail-on`.
const EXIT_ALERTS: u8 = 3;

#[derive(Parser)]
#[command(
    name = "cleartrace",
    version,
    about = "Passive compliance sensor for telephony networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse pcap / pcapng files or folders of them.
    Analyze(AnalyzeArgs),
    /// Check or list the signature files.
    Signatures {
        #[command(subcommand)]
        command: SignaturesCommand,
    },
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files, or folders whose captures are all read.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Alerts as JSON lines ("-" = stdout).
    #[arg(long, default_value = "-")]
    alerts: String,
    /// One JSON line per flow at its end.
    #[arg(long)]
    flows: Option<PathBuf>,
    /// Prometheus metrics of the run (text exposition, node_exporter textfile style).
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Auditor's report: `.html` for the page, `.json` for the same summary as data.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Extra or overriding signature files.
    #[arg(long)]
    signatures: Option<PathBuf>,
    /// TOML configuration (minimum TLS version, limits, rule overrides).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Exit with status 3 if any alert is at or above this severity
    /// (info, low, medium, high, critical).
    #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
    fail_on: Option<Severity>,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// More detail in the summary (decode errors, evictions).
    #[arg(short, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand)]
enum SignaturesCommand {
    /// Validate signature files; exit 1 with file, line and reason on any error.
    Check { dir: Option<PathBuf> },
    /// The rules in force, one line each.
    List {
        #[arg(long)]
        signatures: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn load_signatures(signatures: Option<&Path>, config: &Config) -> Result<Signatures> {
    let mut sigs = Signatures::builtin();
    if let Some(dir) = signatures {
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
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    })
}

fn open_output(name: &str) -> Result<Box<dyn Write>> {
    Ok(if name == "-" {
        Box::new(BufWriter::new(io::stdout()))
    } else {
        Box::new(BufWriter::new(
            File::create(name).with_context(|| format!("{name}: cannot create"))?,
        ))
    })
}

fn analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let sigs = load_signatures(args.signatures.as_deref(), &config)?;
    let fingerprint = signature_fingerprint(&sigs);
    let (rule_count, pattern_count) = (sigs.rules.iter().count(), sigs.patterns.len());
    let scanner = Scanner::new(sigs.patterns);
    let suppressions = Suppressions::new(&config.suppress, &Timestamp::now().date());
    for expired in suppressions.expired() {
        eprintln!(
            "warning: suppression expired on {} and no longer applies: {}",
            expired.expires.as_deref().unwrap_or("?"),
            expired.describe()
        );
    }
    let Some(min_tls) = config.min_tls() else {
        bail!("invalid min_tls_version {:?}", config.min_tls_version);
    };
    let files = capture_files(&args.paths)?;
    if files.is_empty() {
        bail!(
            "no capture files found in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let same_stream = args
        .flows
        .as_ref()
        .is_some_and(|f| f.as_os_str() == args.alerts.as_str());
    let mut eve = if same_stream {
        EveWriter::combined(open_output(&args.alerts)?)
    } else {
        let flows = match &args.flows {
            Some(p) => Some(open_output(&p.display().to_string())?),
            None => None,
        };
        EveWriter::new(Some(open_output(&args.alerts)?), flows)
    };
    let mut summary = Summary::default();
    let mut engine = Engine::new(
        &config,
        Policy::new(sigs.rules, min_tls, suppressions),
        scanner,
    );
    let progress = (!args.quiet && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let outcome = {
        let mut tee = Tee(vec![&mut eve, &mut summary]);
        analyze_files(&files, &mut engine, &mut tee, |p| {
            if let Some(bar) = &progress {
                bar.set_length(p.bytes_total);
                bar.set_position(p.bytes_done.min(p.bytes_total));
                bar.set_message(format!("{:.0} packets/s", p.packets_per_sec));
            }
        })
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    eve.finish().context("writing output")?;
    if let Some(path) = &args.metrics {
        let text = cleartrace::output::metrics::exposition(
            &summary,
            &outcome.stats,
            engine.active_flows(),
        )
        .map_err(|_| anyhow::anyhow!("encoding metrics"))?;
        std::fs::write(path, text)
            .with_context(|| format!("{}: cannot write the metrics", path.display()))?;
    }
    if let Some(path) = &args.report {
        let inputs: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let policy = engine.policy();
        let run = RunInfo {
            inputs: &inputs,
            packets: outcome.stats.packets,
            bytes: outcome.stats.bytes,
            signature_fingerprint: fingerprint,
            rules: rule_count,
            patterns: pattern_count,
            suppressions: policy.suppressions().applied().collect(),
            expired: policy.suppressions().expired(),
        };
        let text = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            report::json(&summary, &run)?
        } else {
            report::html(&summary, &run)
        };
        std::fs::write(path, text)
            .with_context(|| format!("{}: cannot write the report", path.display()))?;
    }
    if !args.quiet {
        let s = &outcome.stats;
        let mut extra = vec![
            ("flow evictions", s.flow_evictions),
            ("tcp gaps", s.tcp_gaps),
            ("tcp retransmitted bytes", s.tcp_retransmitted_bytes),
            ("ip fragments reassembled", s.fragments_reassembled),
            ("ip fragment evictions", s.fragment_evictions),
            ("media expectation evictions", s.expectation_evictions),
        ];
        if args.verbose > 0 {
            extra.push(("non-IP frames", s.non_ip));
            extra.push(("other transports", s.other_transport));
        }
        extra.extend(s.decode_errors.iter().map(|(reason, n)| (*reason, *n)));
        extra.extend(s.anomalies.iter().map(|(name, n)| (*name, *n)));
        eprint!("{}", summary.render(&outcome.throughput, &extra));
        for (suppression, held) in engine.policy().suppressions().applied() {
            eprintln!("suppressed: {held} alert(s) by {}", suppression.describe());
        }
    }
    if !outcome.errors.is_empty() {
        for e in &outcome.errors {
            eprintln!("error: {e}");
        }
        return Ok(ExitCode::FAILURE);
    }
    if let (Some(threshold), Some(worst)) = (args.fail_on, summary.worst) {
        if worst.at_least(threshold) {
            return Ok(ExitCode::from(EXIT_ALERTS));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn signatures(command: SignaturesCommand) -> Result<ExitCode> {
    match command {
        SignaturesCommand::Check { dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("signatures"));
            let mut sigs = Signatures::builtin();
            let loaded = sigs.load_dir(&dir).map_err(|e| e.problems);
            match loaded {
                Ok(()) => {
                    println!(
                        "{}: ok ({} rules, {} patterns in force)",
                        dir.display(),
                        sigs.rules.iter().count(),
                        sigs.patterns.len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        SignaturesCommand::List { signatures, config } => {
            let config = load_config(config.as_deref())?;
            let sigs = load_signatures(signatures.as_deref(), &config)?;
            let mut out = io::stdout().lock();
            for r in sigs.rules.iter() {
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
            for p in &sigs.patterns {
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
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Signatures { command } => signatures(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
