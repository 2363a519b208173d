//! The command line (DESIGN §4). Flags, wiring and exit codes only.

#![forbid(unsafe_code)]

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};

use cleartrace::analyze::{
    self, check_metrics_name, check_report_name, AnalyzeError, AnalyzeOptions, PacketFilter,
    Progress, Usage,
};
#[cfg(feature = "live")]
use cleartrace::capture::live::{CaptureMethod, CaptureOptions};
use cleartrace::config::Config;
use cleartrace::output::report;
use cleartrace::setup::{load_signatures, Setup};
use cleartrace::severity::Severity;
use cleartrace::signatures::{Checked, Signatures};

/// Exit status when alerts reach `--fail-on`.
const EXIT_ALERTS: u8 = 3;
/// Exit status of a usage error, as clap gives for the ones it finds.
const EXIT_USAGE: u8 = 2;

/// A line on standard error. A failure to write it is ignored: with stderr gone
/// (`2>/dev/full`, a closed terminal) there is nowhere left to tell, and the outputs
/// and the exit status still say how the run went.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stderr(), $($arg)*);
    }};
}

/// How to get the `live` subcommand, for a build without it (a macro, for `concat!`).
#[cfg(not(feature = "live"))]
macro_rules! live_hint {
    () => {
        "rebuild with `cargo build --release --features live`, which needs libpcap-dev"
    };
}

/// `--version`: the version, the git revision and the features built in.
#[cfg(feature = "live")]
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nrevision: ",
    env!("CLEARTRACE_GIT_REV"),
    "\nfeatures: live"
);
#[cfg(not(feature = "live"))]
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nrevision: ",
    env!("CLEARTRACE_GIT_REV"),
    "\nfeatures: none; live capture is not built in (",
    live_hint!(),
    ")"
);

#[derive(Parser)]
#[command(
    name = "cleartrace",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CLEARTRACE_GIT_REV"), ")"),
    long_version = LONG_VERSION,
    about = "Passive compliance sensor for telephony networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse pcap / pcapng files or folders of them.
    Analyze(Box<AnalyzeArgs>),
    /// Watch an interface (a mirror port) until SIGTERM; serve metrics meanwhile.
    #[cfg(feature = "live")]
    Live(LiveArgs),
    /// Watch an interface: not in this build (it needs `--features live`).
    #[cfg(not(feature = "live"))]
    Live {
        /// Whatever was given; the subcommand only explains how to get it.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Check or list the signature files.
    Signatures {
        #[command(subcommand)]
        command: SignaturesCommand,
    },
    /// Compare two JSON reports: findings new, fixed or unchanged, per system and channel.
    Diff(DiffArgs),
    /// Work on JSON reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Man pages and shell completions, generated from these very definitions.
    Generate {
        #[command(subcommand)]
        what: GenerateCommand,
    },
}

#[derive(Subcommand)]
enum GenerateCommand {
    /// Write cleartrace.1, cleartrace-analyze.1, … into DIR (created if missing), e.g.
    /// /usr/local/share/man/man1.
    Man { dir: PathBuf },
    /// Print the completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The JSON report before the change.
    before: PathBuf,
    /// The JSON report after it.
    after: PathBuf,
    /// The comparison as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Exit with status 3 if a new finding is at or above this severity.
    #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
    fail_on: Option<Severity>,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Several JSON reports (sensors, batches of captures) as one report.
    Merge {
        /// JSON reports written by `analyze --report x.json`.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// The merged report: `.html` or `.json`.
        #[arg(long)]
        report: PathBuf,
        /// Configuration: its `[report]` section (site, scope, assessor, systems).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Extra or overriding signature files (their profiles).
        #[arg(long)]
        signatures: Option<PathBuf>,
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
    /// Analyse only the frames this capture filter selects, as tcpdump would (libpcap's
    /// compiler: needs a build with `--features live`).
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// A JSON report of an earlier run: the report shows findings new, fixed and
    /// unchanged since it, and `--fail-on` applies to new findings only.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// The report's site (overrides `[report] site`).
    #[arg(long)]
    site: Option<String>,
    /// The report's scope (overrides `[report] scope`).
    #[arg(long)]
    scope: Option<String>,
    /// The report's assessor (overrides `[report] assessor`).
    #[arg(long)]
    assessor: Option<String>,
    /// Worker threads; flows are sharded by address pair (as in `live`). 1 reads and
    /// analyses in one thread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// More detail in the summary (decode errors, evictions).
    #[arg(long, short, action = clap::ArgAction::Count)]
    verbose: u8,
    /// The sensor's name, written as `host` on every EVE line (config `sensor_name`).
    #[arg(long)]
    sensor_name: Option<String>,
}

#[cfg(feature = "live")]
#[derive(clap::Args)]
struct LiveArgs {
    /// Interface to capture on (`any` for all, as SLL2; libpcap only).
    #[arg(short, long)]
    interface: String,
    /// How frames are read: libpcap and one capture thread, or AF_PACKET rings, one
    /// per worker, in one fanout group (Linux).
    #[arg(long, value_enum, default_value_t = CaptureMethod::Pcap)]
    capture: CaptureMethod,
    /// BPF capture filter, as for tcpdump.
    #[arg(long)]
    bpf: Option<String>,
    /// Bytes kept of each frame.
    #[arg(long, default_value_t = 65_535)]
    snaplen: i32,
    /// Do not put the interface into promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Kernel capture buffer, MiB (with afpacket: of each worker's ring).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(i32).range(1..=2047))]
    buffer_size: i32,
    /// Worker threads (flows sharded by address pair).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: u16,
    /// Batches (up to 256 frames or 1 MiB) each worker may queue before frames are
    /// dropped (counted): at most about queue-size MiB per worker.
    #[arg(long, default_value_t = 64)]
    queue_size: usize,
    /// Address of the metrics endpoint (/metrics, /healthz).
    #[arg(long, default_value = "127.0.0.1:9477")]
    listen: std::net::SocketAddr,
    /// Alerts as JSON lines, appended; reopened on SIGHUP (default: stdout).
    #[arg(long)]
    alerts: Option<PathBuf>,
    /// Flow records as JSON lines, appended; reopened on SIGHUP.
    #[arg(long)]
    flows: Option<PathBuf>,
    /// Extra or overriding signature files.
    #[arg(long)]
    signatures: Option<PathBuf>,
    /// TOML configuration.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Drop root to this user once the capture is open (like tcpdump -Z).
    #[arg(long)]
    user: Option<String>,
    /// Auditor's report of the whole run, written at exit: `.html` or `.json`.
    #[arg(long)]
    report: Option<PathBuf>,
    /// No summary on stderr at exit.
    #[arg(long, short)]
    quiet: bool,
    /// The sensor's name, written as `host` on every EVE line (config `sensor_name`).
    #[arg(long)]
    sensor_name: Option<String>,
}

/// `--sensor-name` wins over the configuration's `sensor_name`.
fn name_sensor(setup: &mut Setup, flag: Option<String>) {
    if flag.is_some() {
        setup.config.sensor_name = flag;
    }
}

#[cfg(feature = "live")]
fn live(args: LiveArgs) -> Result<ExitCode> {
    check_report_name(args.report.as_deref())?;
    use cleartrace::live::{run, LiveOptions};
    let mut setup = Setup::load(args.config.as_deref(), args.signatures.as_deref())?;
    name_sensor(&mut setup, args.sensor_name.clone());
    warn_expired(&setup);
    let options = LiveOptions {
        capture: CaptureOptions {
            method: args.capture,
            iface: args.interface,
            bpf: args.bpf,
            snaplen: args.snaplen,
            promisc: !args.no_promisc,
            buffer_bytes: args.buffer_size.saturating_mul(1024 * 1024),
        },
        workers: usize::from(args.workers),
        queue_batches: args.queue_size.max(1),
        listen: args.listen,
        alerts: args.alerts,
        flows: args.flows,
        user: args.user,
        report: args.report,
    };
    if !args.quiet {
        note!(
            "cleartrace: capturing on {} with {} worker(s); metrics on http://{}/metrics",
            options.capture.iface,
            options.workers,
            options.listen
        );
    }
    let outcome = run(setup, options)?;
    if !args.quiet {
        let _ = write!(io::stderr(), "{}", outcome.render());
    }
    match outcome.failure {
        Some(e) => {
            note!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

#[derive(Subcommand)]
enum SignaturesCommand {
    /// Validate signature files (a directory of them, or one file); exit 1 with file,
    /// line and reason of every error. Without DIR, the built-in set is checked.
    Check { dir: Option<PathBuf> },
    /// The rules in force, one line each.
    List {
        #[arg(long)]
        signatures: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn warn_expired(setup: &Setup) {
    for expired in setup.expired_suppressions() {
        note!(
            "warning: suppression expired on {} and no longer applies: {}",
            expired.expires.as_deref().unwrap_or("?"),
            expired.describe()
        );
    }
}

fn analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    // The names are checked before the configuration is read, so a typo in a flag is
    // told first.
    check_report_name(args.report.as_deref())?;
    let filter = args
        .bpf
        .as_deref()
        .map(PacketFilter::new)
        .transpose()
        .map_err(Usage)?;
    check_metrics_name(args.metrics.as_deref())?;
    let mut setup = Setup::load(args.config.as_deref(), args.signatures.as_deref())?;
    name_sensor(&mut setup, args.sensor_name);
    warn_expired(&setup);
    let options = AnalyzeOptions {
        paths: args.paths,
        alerts: args.alerts,
        flows: args.flows,
        metrics: args.metrics,
        report: args.report,
        filter,
        baseline: args.baseline,
        fail_on: args.fail_on,
        site: args.site,
        scope: args.scope,
        assessor: args.assessor,
        workers: usize::from(args.workers),
    };
    let progress = (!args.quiet && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let show = |p: Progress| {
        if let Some(bar) = &progress {
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_done.min(p.bytes_total));
            bar.set_message(format!("{:.0} packets/s", p.packets_per_sec));
        }
    };
    let outcome = analyze::run(setup, options, show);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let outcome = outcome?;
    if !args.quiet {
        let _ = write!(io::stderr(), "{}", outcome.render(args.verbose > 0));
    }
    if !outcome.errors.is_empty() {
        for e in &outcome.errors {
            note!("error: {}", causes_once(e));
        }
        return Ok(ExitCode::FAILURE);
    }
    if outcome.reached_fail_on {
        return Ok(ExitCode::from(EXIT_ALERTS));
    }
    Ok(ExitCode::SUCCESS)
}

fn diff(args: DiffArgs) -> Result<ExitCode> {
    let before = report::read(&args.before)?;
    let after = report::read(&args.after)?;
    let comparison = report::diff::compare(&before, &after);
    let text = if args.json {
        serde_json::to_string_pretty(&comparison)? + "\n"
    } else {
        comparison.render()
    };
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    match args.fail_on {
        Some(threshold) if comparison.new_at_least(threshold) => Ok(ExitCode::from(EXIT_ALERTS)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn report_command(command: ReportCommand) -> Result<ExitCode> {
    match command {
        ReportCommand::Merge {
            reports,
            report: out,
            config,
            signatures,
        } => {
            let setup = Setup::load(config.as_deref(), signatures.as_deref())?;
            report::merge_files(&reports, &out, &setup.profiles, &setup.config.report)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn signatures(command: SignaturesCommand) -> Result<ExitCode> {
    match command {
        SignaturesCommand::Check { dir } => match Signatures::check(dir.as_deref()) {
            Checked::Ok(line) => {
                writeln!(io::stdout(), "{line}").context("standard output: cannot write")?;
                Ok(ExitCode::SUCCESS)
            }
            Checked::Problems(lines) => {
                for line in &lines {
                    note!("{line}");
                }
                Ok(ExitCode::FAILURE)
            }
        },
        SignaturesCommand::List { signatures, config } => {
            let config = match config {
                Some(p) => Config::load(&p)?,
                None => Config::default(),
            };
            let sigs = load_signatures(signatures.as_deref(), &config)?;
            sigs.list(&mut io::stdout().lock())
                .context("standard output: cannot write")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn generate(what: GenerateCommand) -> Result<ExitCode> {
    match what {
        GenerateCommand::Man { dir } => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("{}: cannot write the man pages", dir.display()))?;
        }
        GenerateCommand::Completions { shell } => {
            // Into memory first: the generator cannot report a failed write itself.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cleartrace", &mut script);
            let mut out = io::stdout().lock();
            out.write_all(&script)
                .and_then(|()| out.flush())
                .context("standard output: cannot write")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An error and its causes, each said once: a library error that already quotes its
/// source in its own message does not get it again.
fn causes_once(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    for cause in anyhow::Chain::new(e).map(ToString::to_string) {
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze(*args),
        #[cfg(feature = "live")]
        Command::Live(args) => live(args),
        #[cfg(not(feature = "live"))]
        Command::Live { .. } => {
            Err(Usage(concat!("`live` is not in this build: ", live_hint!()).to_string()).into())
        }
        Command::Signatures { command } => signatures(command),
        Command::Generate { what } => generate(what),
        Command::Diff(args) => diff(args),
        Command::Report { command } => report_command(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line per problem (a signature directory may have several), each once.
            for line in causes_once(&*e).lines() {
                note!("error: {line}");
            }
            let usage = e.downcast_ref::<Usage>().is_some()
                || e.downcast_ref::<AnalyzeError>()
                    .is_some_and(AnalyzeError::is_usage);
            if usage {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
