//! The command line (DESIGN §4). Flags, wiring and exit codes only.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser, Subcommand};

use cleartrace::analyze::{
    capture_files, read_files, Filtered, Inline, PacketFilter, PacketPath, Progress, ReadOutcome,
};
#[cfg(feature = "live")]
use cleartrace::capture::live::{CaptureMethod, CaptureOptions};
use cleartrace::config::Config;
use cleartrace::memory::ShedReason;
use cleartrace::output::eve::{EveWriter, Stream};
use cleartrace::output::lines::{stdout_was_closed, LineOutput};
use cleartrace::output::metrics::Drops;
use cleartrace::output::report;
use cleartrace::output::summary::{Section, Summary, Throughput};
use cleartrace::output::syslog::{self, SyslogStats, SyslogStream};
use cleartrace::output::Outputs;
use cleartrace::setup::{load_signatures, Setup};
use cleartrace::severity::Severity;
use cleartrace::signatures::Signatures;
use cleartrace::workers::{SharedSink, WhenFull, WorkerReport, Workers};

/// Exit status when alerts reach `--fail-on`.
const EXIT_ALERTS: u8 = 3;
/// Exit status of a usage error, as clap gives for the ones it finds.
const EXIT_USAGE: u8 = 2;

/// A mistake in the command line found after parsing (an output that is an input, an
/// unknown report format): exit 2, like the mistakes clap finds.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

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
        let s = &outcome.report.stats;
        let throughput = Throughput {
            packets: s.packets,
            bytes: s.bytes,
            file_bytes: None,
            seconds: outcome.seconds,
            peak_memory: peak_memory(),
            budget_peak: Some(s.shed.peak_bytes),
        };
        let extra = [
            Section {
                title: "packets lost before analysis",
                counts: vec![
                    ("dropped in the kernel", outcome.drops.kernel),
                    ("dropped by the interface", outcome.drops.interface),
                    ("dropped at worker queues", outcome.drops.queue),
                ],
            },
            Section {
                title: "flow table and reassembly",
                counts: vec![
                    ("flow evictions", s.flow_evictions),
                    ("tcp gaps", s.tcp_gaps),
                ],
            },
        ];
        let _ = write!(
            io::stderr(),
            "{}",
            outcome.summary.render(&throughput, &extra)
        );
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

/// A file, stdout (`-`), or a syslog collector (`syslog://HOST:PORT`), whose
/// sender counts into `shipping`.
fn open_output(name: &str, host: Option<&str>, shipping: &Arc<SyslogStats>) -> Result<Stream> {
    if let Some(target) = name.strip_prefix(syslog::SCHEME) {
        let stream = SyslogStream::connect(target, host, Arc::clone(shipping))?;
        return Ok(Box::new(stream));
    }
    Ok(Box::new(LineOutput::create(name)?))
}

/// Report formats, by the extension that picks them.
const REPORT_EXTENSIONS: [&str; 3] = ["html", "htm", "json"];
/// Metrics files: node_exporter's textfile collector reads only `*.prom`.
const METRICS_EXTENSIONS: [&str; 2] = ["prom", "txt"];

/// Refuses a name whose extension does not say a format we write.
fn check_extension(flag: &str, path: &Path, known: &[&str], hint: &str) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if known.iter().any(|k| k.eq_ignore_ascii_case(ext)) {
        return Ok(());
    }
    let found = if ext.is_empty() {
        "no extension".to_string()
    } else {
        format!("unknown extension `.{ext}`")
    };
    Err(Usage(format!("{flag} {}: {found}; {hint}", path.display())).into())
}

/// The report's format comes from its extension; refuse one that names none we write.
fn check_report_name(report: Option<&Path>) -> Result<()> {
    match report {
        Some(p) => check_extension(
            "--report",
            p,
            &REPORT_EXTENSIONS,
            "use .html for the page or .json for the same summary as data",
        ),
        None => Ok(()),
    }
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether two output names are one file, also before it exists (`a.json`, `./a.json`).
fn same_output(a: &Path, b: &Path) -> bool {
    let place = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = parent.unwrap_or(Path::new(".")).canonicalize().ok()?;
        Some(dir.join(p.file_name()?))
    };
    a == b || same_file(a, b) || place(a).is_some_and(|x| place(b) == Some(x))
}

/// `--flows` naming the `--alerts` file: one stream with both, in order.
fn flows_with_alerts(args: &AnalyzeArgs) -> bool {
    args.flows
        .as_ref()
        .is_some_and(|f| same_output(f, Path::new(&args.alerts)))
}

/// Every output checked before the first packet is read: none may be an input (it would
/// be overwritten) or another output, and the report and metrics must be writable
/// where they are named, so a long run does not fail at its very end.
fn check_outputs(args: &AnalyzeArgs, inputs: &[PathBuf]) -> Result<()> {
    let mut named: Vec<(&str, PathBuf)> = Vec::new();
    if args.alerts != "-" {
        named.push(("--alerts", PathBuf::from(&args.alerts)));
    }
    if let Some(flows) = args.flows.as_ref().filter(|f| f.as_os_str() != "-") {
        // Alerts and flows into one file is one combined stream, not a clash.
        if !flows_with_alerts(args) {
            named.push(("--flows", flows.clone()));
        }
    }
    named.extend(args.report.iter().map(|p| ("--report", p.clone())));
    named.extend(args.metrics.iter().map(|p| ("--metrics", p.clone())));
    for (i, (flag, path)) in named.iter().enumerate() {
        if let Some(input) = inputs.iter().find(|input| same_file(path, input)) {
            return Err(Usage(format!(
                "{flag} {} is the input capture {}: refusing to overwrite it",
                path.display(),
                input.display()
            ))
            .into());
        }
        if let Some((other, _)) = named[..i]
            .iter()
            .find(|(_, earlier)| same_output(earlier, path))
        {
            return Err(Usage(format!(
                "{flag} {} is also named by {other}: give each output its own file",
                path.display()
            ))
            .into());
        }
    }
    for path in args.report.iter().chain(&args.metrics) {
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        if !existed {
            let _ = std::fs::remove_file(path);
        }
    }
    if (args.alerts == "-" || args.flows.as_ref().is_some_and(|f| f.as_os_str() == "-"))
        && stdout_was_closed()
    {
        bail!("standard output is closed: the alerts would be lost; name a file with --alerts");
    }
    Ok(())
}

/// Writes `path` whole or not at all: into a hidden file beside it, then renamed over
/// it, so a full disk never leaves half a report or a metrics file cut mid-line (and a
/// textfile collector never reads one being written). The hidden name keeps the
/// extension, which picks the format.
fn write_whole(path: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{}.{name}", std::process::id()));
    let result = write(&partial).and_then(|()| std::fs::rename(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
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

/// The process's peak resident memory in bytes (Linux), for the summary: the memory
/// bound a flow-table limit implies is checked against it.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Worker queue depth in batches when reading files: enough to ride out a slow flow
/// end, small enough to keep memory flat.
const FILE_QUEUE_BATCHES: usize = 64;

/// What `--bpf` left out of a run.
struct FilterOutcome {
    skipped: u64,
    errors: BTreeSet<String>,
}

/// Reads every file into `path`, through the `--bpf` filter when there is one.
fn read_all(
    files: &[PathBuf],
    path: &mut dyn PacketPath,
    filter: Option<PacketFilter>,
    show: impl FnMut(Progress),
) -> (ReadOutcome, Option<FilterOutcome>) {
    match filter {
        None => (read_files(files, path, show), None),
        Some(filter) => {
            let mut filtered = Filtered {
                inner: path,
                filter,
                skipped: 0,
                errors: BTreeSet::new(),
            };
            let read = read_files(files, &mut filtered, show);
            let outcome = FilterOutcome {
                skipped: filtered.skipped,
                errors: filtered.errors,
            };
            (read, Some(outcome))
        }
    }
}

fn analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    check_report_name(args.report.as_deref())?;
    let filter = args
        .bpf
        .as_deref()
        .map(PacketFilter::new)
        .transpose()
        .map_err(Usage)?;
    if let Some(p) = &args.metrics {
        check_extension(
            "--metrics",
            p,
            &METRICS_EXTENSIONS,
            "use .prom (what node_exporter's textfile collector reads) or .txt",
        )?;
    }
    let mut setup = Setup::load(args.config.as_deref(), args.signatures.as_deref())?;
    name_sensor(&mut setup, args.sensor_name.clone());
    warn_expired(&setup);
    let baseline = match &args.baseline {
        Some(path) => Some(report::read(path)?),
        None => None,
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
    check_outputs(&args, &files)?;
    let host = setup.config.sensor_name.as_deref();
    let shipping = Arc::new(SyslogStats::default());
    let eve = if flows_with_alerts(&args) {
        EveWriter::combined(open_output(&args.alerts, host, &shipping)?)
    } else {
        let flows = match &args.flows {
            Some(p) => Some(open_output(&p.display().to_string(), host, &shipping)?),
            None => None,
        };
        EveWriter::new(Some(open_output(&args.alerts, host, &shipping)?), flows)
    }
    .host(setup.config.sensor_name.clone());
    let mut outputs = Outputs {
        eve,
        summary: Summary::default(),
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
    let started = Instant::now();
    let (read, filtered, ran) = if args.workers == 1 {
        let mut engine = setup.engines(1).remove(0);
        let (read, filtered) = read_all(
            &files,
            &mut Inline {
                engine: &mut engine,
                sink: &mut outputs,
            },
            filter,
            show,
        );
        engine.finish(&mut outputs);
        let ran = WorkerReport {
            stats: engine.stats(),
            active_flows: engine.active_flows(),
        };
        (read, filtered, ran)
    } else {
        let shared = Arc::new(Mutex::new(outputs));
        let mut workers = Workers::spawn(
            setup.engines(usize::from(args.workers)),
            SharedSink(Arc::clone(&shared)),
            FILE_QUEUE_BATCHES,
            WhenFull::Wait,
        )
        .context("starting the workers")?;
        let (read, filtered) = read_all(&files, &mut workers, filter, show);
        let ran = workers.finish();
        outputs = Arc::try_unwrap(shared)
            .map_err(|_| anyhow::anyhow!("a worker still holds the outputs"))?
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (read, filtered, ran)
    };
    let throughput = Throughput {
        packets: read.packets,
        bytes: read.bytes,
        file_bytes: Some(read.file_bytes),
        seconds: started.elapsed().as_secs_f64(),
        peak_memory: peak_memory(),
        budget_peak: Some(ran.stats.shed.peak_bytes),
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let Outputs { mut eve, summary } = outputs;
    // A failed output does not stop the others: the report may be on another disk.
    let mut failures: Vec<anyhow::Error> = Vec::new();
    if let Err(e) = eve.finish() {
        failures.push(e.into());
    }
    // Closing a syslog output waits (briefly) for its queue to drain.
    drop(eve);
    if let Some(filtered) = &filtered {
        failures.extend(filtered.errors.iter().map(|e| anyhow::anyhow!("{e}")));
    }
    let dropped = shipping.dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        failures.push(anyhow::anyhow!(
            "syslog: {dropped} EVE lines could not be delivered ({} sent)",
            shipping.sent.load(Ordering::Relaxed)
        ));
    }
    if let Some(path) = &args.metrics {
        let text = cleartrace::output::metrics::exposition(
            &summary,
            &ran.stats,
            ran.active_flows,
            &Drops::default(),
            setup.policy.rules(),
            setup.config.sensor_name.as_deref(),
        )
        .map_err(|_| anyhow::anyhow!("encoding metrics"))?;
        let text = cleartrace::output::metrics::text_format(&text);
        if let Err(e) = write_whole(path, |partial| std::fs::write(partial, &text)) {
            failures.push(anyhow::anyhow!(
                "{}: cannot write the metrics: {e}",
                path.display()
            ));
        }
    }
    let policy = &setup.policy;
    let mut comparison = None;
    if args.report.is_some() || baseline.is_some() {
        let inputs = read
            .files
            .iter()
            .map(report::InputRecord::of_file)
            .collect();
        let limits = report::Limits::from_run(&ran.stats, &Drops::default());
        let mut run = setup.run_info(inputs, read.packets, read.bytes, limits);
        for (field, flag) in [
            (&mut run.config.site, &args.site),
            (&mut run.config.scope, &args.scope),
            (&mut run.config.assessor, &args.assessor),
        ] {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
        let mut built = report::Report::build(&summary, run);
        if let Some(before) = &baseline {
            built.comparison = Some(report::diff::compare(before, &built));
        }
        if let Some(path) = &args.report {
            if let Err(e) = write_whole(path, |partial| built.write(partial)) {
                failures.push(anyhow::anyhow!(
                    "{}: cannot write the report: {e}",
                    path.display()
                ));
            }
        }
        comparison = built.comparison;
    }
    if !args.quiet {
        let s = &ran.stats;
        let mut tables = vec![
            ("flow evictions", s.flow_evictions),
            ("tcp gaps", s.tcp_gaps),
            ("tcp retransmitted bytes", s.tcp_retransmitted_bytes),
            ("ip fragments reassembled", s.fragments_reassembled),
            ("ip fragment evictions", s.fragment_evictions),
            ("media expectation evictions", s.expectation_evictions),
        ];
        if args.verbose > 0 {
            tables.push(("non-IP frames", s.non_ip));
            tables.push(("other transports", s.other_transport));
        }
        let extra = [
            Section {
                title: "capture filter",
                counts: vec![(
                    "frames not selected by --bpf",
                    filtered.as_ref().map_or(0, |f| f.skipped),
                )],
            },
            Section {
                title: "flow table and reassembly",
                counts: tables,
            },
            Section {
                title: "memory budget",
                counts: ShedReason::ALL
                    .iter()
                    .map(|r| (r.shed_label(), s.shed.get(*r)))
                    .collect(),
            },
            Section {
                title: "frames not decoded",
                counts: s.decode_errors.iter().map(|(r, n)| (*r, *n)).collect(),
            },
            Section {
                title: "protocol anomalies",
                counts: s.anomalies.iter().map(|(a, n)| (*a, *n)).collect(),
            },
        ];
        let _ = write!(io::stderr(), "{}", summary.render(&throughput, &extra));
        for (suppression, held) in policy.suppressions().applied() {
            note!("suppressed: {held} alert(s) by {}", suppression.describe());
        }
    }
    if !read.errors.is_empty() || !failures.is_empty() {
        for e in &read.errors {
            note!("error: {e}");
        }
        for e in &failures {
            note!("error: {}", causes_once(e));
        }
        return Ok(ExitCode::FAILURE);
    }
    let failed = match (&comparison, args.fail_on) {
        (Some(comparison), Some(threshold)) => comparison.new_at_least(threshold),
        (None, Some(threshold)) => summary.worst.is_some_and(|w| w.at_least(threshold)),
        (_, None) => false,
    };
    if failed {
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
            if reports.iter().any(|r| r == &out) {
                bail!(
                    "{}: the merged report would overwrite an input",
                    out.display()
                );
            }
            let read: Vec<report::Report> = reports
                .iter()
                .map(|p| report::read(p))
                .collect::<Result<_, _>>()?;
            let merged = report::Report::merge(read, &setup.profiles, &setup.config.report);
            write_whole(&out, |partial| merged.write(partial))
                .with_context(|| format!("{}: cannot write the report", out.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn signatures(command: SignaturesCommand) -> Result<ExitCode> {
    match command {
        SignaturesCommand::Check { dir } => {
            let mut sigs = Signatures::builtin();
            // The built-in files were checked when they were loaded (a build with broken
            // ones does not start), so there is only a directory's to check.
            let loaded = match &dir {
                Some(dir) => sigs.load_dir(dir).map_err(|e| e.problems),
                None => Ok(()),
            };
            let name = dir.map_or_else(
                || "built-in signatures".to_string(),
                |d| d.display().to_string(),
            );
            match loaded {
                Ok(()) => {
                    writeln!(
                        io::stdout(),
                        "{name}: ok ({} rules, {} patterns in force), {} system profiles",
                        sigs.rules.iter().count(),
                        sigs.patterns.len(),
                        sigs.profiles.len()
                    )
                    .context("standard output: cannot write")?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    for p in &problems {
                        note!("{p}");
                    }
                    note!("{name}: {} problem(s)", problems.len());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        SignaturesCommand::List { signatures, config } => {
            let config = match config {
                Some(p) => Config::load(&p)?,
                None => Config::default(),
            };
            let sigs = load_signatures(signatures.as_deref(), &config)?;
            let mut out = io::stdout().lock();
            let mut list = || -> io::Result<()> {
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
                out.flush()
            };
            list().context("standard output: cannot write")?;
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
fn causes_once(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain().map(ToString::to_string) {
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
            for line in causes_once(&e).lines() {
                note!("error: {line}");
            }
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
