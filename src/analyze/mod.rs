//! Offline analysis (`cleartrace analyze`): capture files and folders through one
//! engine or several workers, into the sinks, then the report, the metrics and the
//! verdict for `--fail-on`. The binary only maps its flags to [`AnalyzeOptions`],
//! prints what [`run`] returns and turns it into an exit status, as for `live`.

mod outputs;
mod read;
pub(crate) mod relay;

pub use outputs::{check_metrics_name, check_report_name, Usage};
pub use read::{
    capture_files, read_files, FileRead, Filtered, Inline, PacketFilter, PacketPath, Progress,
    ReadOutcome, WorkerShare,
};

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use thiserror::Error;

use crate::capture::{CaptureError, STDIN};
use crate::engine::{Engine, EngineStats};
use crate::memory::{peak_memory, ShedReason};
use crate::output::eve::EveWriter;
use crate::output::metrics::{self, Drops};
use crate::output::report::{self, ReportError};
use crate::output::summary::{Section, Summary, Throughput};
use crate::output::syslog::{SyslogError, SyslogStats};
use crate::output::{write_whole, Outputs};
use crate::setup::Setup;
use crate::severity::Severity;
use crate::threads;
use crate::workers::{Sharder, SharedSink, WhenFull, WorkerReport, Workers};
use outputs::{check_outputs, flows_with_alerts, open_output};
use relay::Relay;

/// Worker queue depth in batches when reading files: enough to ride out a slow flow
/// end, small enough to keep memory flat.
const FILE_QUEUE_BATCHES: usize = 64;

#[derive(Debug, Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Usage(#[from] Usage),
    #[error(transparent)]
    Baseline(#[from] ReportError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("no capture files found in {0}")]
    NoCaptures(String),
    #[error("{path}: cannot write")]
    Unwritable { path: PathBuf, source: io::Error },
    #[error("standard output is closed: the alerts would be lost; name a file with --alerts")]
    StdoutClosed,
    #[error(transparent)]
    Syslog(#[from] SyslogError),
    /// Opening, writing or closing the alerts or flows.
    #[error(transparent)]
    Output(io::Error),
    #[error("starting the workers")]
    Workers(#[source] io::Error),
    #[error("a worker still holds the outputs")]
    WorkerStuck,
    #[error("a worker stopped on a bug: its share of the flows was not analysed to the end")]
    WorkerPanicked,
    /// Frames of a link type the `--bpf` expression means nothing for.
    #[error("{0}")]
    Filter(String),
    #[error("syslog: {dropped} EVE lines could not be delivered ({sent} sent)")]
    SyslogDropped { dropped: u64, sent: u64 },
    #[error("encoding metrics")]
    EncodingMetrics,
    #[error("{path}: cannot write the metrics: {source}")]
    Metrics { path: PathBuf, source: io::Error },
    #[error("{path}: cannot write the report: {source}")]
    Report { path: PathBuf, source: io::Error },
}

impl AnalyzeError {
    /// A mistake in the command line rather than in the run.
    pub fn is_usage(&self) -> bool {
        matches!(self, AnalyzeError::Usage(_))
    }
}

pub struct AnalyzeOptions {
    /// Capture files, or folders whose captures are all read.
    pub paths: Vec<PathBuf>,
    /// Alert lines: a file, `-` for stdout, or `syslog://HOST:PORT`.
    pub alerts: String,
    /// Flow records; the `--alerts` name makes one stream of both.
    pub flows: Option<PathBuf>,
    pub metrics: Option<PathBuf>,
    /// The auditor's report (`.html` or `.json`).
    pub report: Option<PathBuf>,
    /// `--bpf`: only the frames it selects are analysed.
    pub filter: Option<PacketFilter>,
    /// An earlier run's JSON report: the report compares against it, and `fail_on`
    /// looks at new findings only.
    pub baseline: Option<PathBuf>,
    pub fail_on: Option<Severity>,
    /// Override the configuration's `[report]` site, scope and assessor.
    pub site: Option<String>,
    pub scope: Option<String>,
    pub assessor: Option<String>,
    /// 1 reads and analyses in the calling thread.
    pub workers: usize,
}

/// What a run leaves for the summary and the exit status.
pub struct AnalyzeOutcome {
    pub summary: Summary,
    pub stats: EngineStats,
    pub throughput: Throughput,
    /// Frames `--bpf` did not select.
    pub filtered_out: u64,
    /// Alerts each suppression held back, with the suppression described.
    pub suppressed: Vec<(u64, String)>,
    /// Files not read to their end, then outputs that failed (each failure leaves the
    /// others written: the report may be on another disk). Not empty: the run failed.
    pub errors: Vec<AnalyzeError>,
    /// Alerts (new ones, with a baseline) reached `fail_on`.
    pub reached_fail_on: bool,
}

impl AnalyzeOutcome {
    /// The summary for stderr, with the tables `verbose` adds and the suppressions
    /// applied.
    pub fn render(&self, verbose: bool) -> String {
        let s = &self.stats;
        let mut tables = vec![
            ("flow evictions", s.flow_evictions),
            ("tcp gaps", s.tcp_gaps),
            ("tcp retransmitted bytes", s.tcp_retransmitted_bytes),
            ("ip fragments reassembled", s.fragments_reassembled),
            ("ip fragment evictions", s.fragment_evictions),
            ("media expectation evictions", s.expectation_evictions),
        ];
        if verbose {
            tables.push(("non-IP frames", s.non_ip));
            tables.push(("other transports", s.other_transport));
        }
        let extra = [
            Section {
                title: "capture filter",
                counts: vec![("frames not selected by --bpf", self.filtered_out)],
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
        let mut text = self.summary.render(&self.throughput, &extra);
        for (held, suppression) in &self.suppressed {
            text.push_str(&format!("suppressed: {held} alert(s) by {suppression}\n"));
        }
        text
    }
}

/// What `--bpf` left out of a run.
struct FilterOutcome {
    skipped: u64,
    errors: BTreeSet<String>,
}

/// `--workers N` over files: N threads, this one among them, each going through every
/// file and analysing the frames whose worker it is (`WorkerShare`); legacy pcap
/// blocks are read once for all through the `Relay`. What this thread read stands
/// for all of them: they read the same files.
fn read_in_shares(
    files: &[PathBuf],
    mut engines: Vec<Engine>,
    sink: SharedSink<Outputs>,
    bpf: Option<&str>,
    progress: impl FnMut(Progress),
) -> Result<SharesRead, AnalyzeError> {
    let order = Arc::new(threads::Progress::new(engines.len()));
    let sharder = Sharder::for_engines(&engines);
    // A `--bpf` filter sees every frame in each worker: the files are read whole.
    let relay = bpf
        .is_none()
        .then(|| Arc::new(Relay::new(files.len(), engines.len(), sharder.clone())));
    for (me, engine) in engines.iter_mut().enumerate() {
        engine.order_by(Arc::clone(&order), me);
    }
    let Some((first, others)) = engines.split_first_mut() else {
        return Err(AnalyzeError::WorkerStuck);
    };
    std::thread::scope(|scope| {
        // Nobody starts before every worker is there: a worker missing would leave
        // its share of the flows unread.
        let mut starts = Vec::new();
        let mut handles = Vec::new();
        for (i, engine) in others.iter_mut().enumerate() {
            let me = i + 1;
            let (start, started) = std::sync::mpsc::channel::<()>();
            let (mut sink, sharder, order) = (sink.clone(), sharder.clone(), &order);
            let relay = relay.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cleartrace-worker-{me}"))
                .spawn_scoped(scope, move || {
                    let share = (engine, &mut sink, sharder, me);
                    // Nothing read: no other worker waits for this one.
                    let Ok(()) = started.recv() else {
                        drop(Done(order, relay, me));
                        return Ok(());
                    };
                    read_share(files, share, (order, relay), bpf, |_| {}).map(|_| ())
                });
            // On an error, dropping the starts sends the others home without reading.
            handles.push(spawned.map_err(AnalyzeError::Workers)?);
            starts.push(start);
        }
        for start in &starts {
            let _ = start.send(());
        }
        let mut own_sink = sink.clone();
        let share = (&mut *first, &mut own_sink, sharder, 0);
        let (read, filtered) = read_share(files, share, (&order, relay), bpf, progress)
            .map_err(AnalyzeError::Filter)?;
        let mut failed = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed.push(AnalyzeError::Filter(e)),
                Err(_) => failed.push(AnalyzeError::WorkerPanicked),
            }
        }
        Ok::<_, AnalyzeError>((read, filtered, failed))
    })
    .map(|(read, filtered, failed)| {
        let mut ran = WorkerReport::default();
        for engine in &engines {
            ran.merge(&WorkerReport::of(engine));
        }
        SharesRead {
            read,
            filtered,
            ran,
            failed,
        }
    })
}

/// One worker of `read_in_shares`: reads every file through its own `--bpf` filter
/// (compiled in its thread: a compiled program cannot move to another),
/// analysing its share, then ends its flows. The others stop waiting for it when it
/// has read all, however it ends.
fn read_share(
    files: &[PathBuf],
    (engine, sink, sharder, me): (&mut Engine, &mut SharedSink<Outputs>, Sharder, usize),
    (order, relay): (&threads::Progress, Option<Arc<Relay>>),
    bpf: Option<&str>,
    progress: impl FnMut(Progress),
) -> Result<(ReadOutcome, Option<FilterOutcome>), String> {
    let read = {
        let _done = Done(order, relay.clone(), me);
        let filter = bpf.map(PacketFilter::new).transpose()?;
        let mut share = WorkerShare {
            engine: &mut *engine,
            sink: &mut *sink,
            sharder,
            me,
            position: 0,
            relay,
        };
        read_all(files, &mut share, filter, progress)
    };
    engine.finish(sink);
    Ok(read)
}

/// Whether `workers` workers each read every file themselves (`read_in_shares`) rather
/// than take their frames from one reading thread. Standard input can be read only
/// once. And with more workers than cores every extra reader is a whole extra copy of
/// the input on a core already busy: on 2 cores and 1 GB, 8 workers reading took
/// 1.69 s, 8 workers fed by one reader 0.88 s; at 2 workers it is 0.59–0.64 s against
/// 0.89–0.93 s the other way.
fn reads_in_shares(files: &[PathBuf], workers: usize) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    workers <= cores && !files.iter().any(|file| file.as_os_str() == STDIN)
}

/// What `read_in_shares` did.
struct SharesRead {
    /// What the workers read, as the first of them saw it.
    read: ReadOutcome,
    /// What `--bpf` left out.
    filtered: Option<FilterOutcome>,
    /// The workers' counters, merged.
    ran: WorkerReport,
    /// Why a worker analysed nothing, or not to the end.
    failed: Vec<AnalyzeError>,
}

/// Runs `work` with the outputs shared between worker threads, then takes them back.
fn with_shared_outputs<T>(
    outputs: Outputs,
    work: impl FnOnce(SharedSink<Outputs>) -> Result<T, AnalyzeError>,
) -> Result<(Outputs, T), AnalyzeError> {
    let shared = Arc::new(Mutex::new(outputs));
    let done = work(SharedSink(Arc::clone(&shared)))?;
    let outputs = Arc::try_unwrap(shared)
        .map_err(|_| AnalyzeError::WorkerStuck)?
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((outputs, done))
}

/// Tells the other workers this one reads no more, however it ends.
struct Done<'a>(&'a threads::Progress, Option<Arc<Relay>>, usize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.done(self.2);
        if let Some(relay) = &self.1 {
            relay.leave(self.2);
        }
    }
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

/// One analysis: every capture through the engines into the outputs, then the metrics
/// and the report. `progress` hears how far the reading is.
///
/// An error returned stopped the run before its first packet (a missing input, an
/// output that cannot be opened); an error after that is in the outcome's `errors`,
/// with everything else still written.
pub fn run(
    setup: Setup,
    options: AnalyzeOptions,
    progress: impl FnMut(Progress),
) -> Result<AnalyzeOutcome, AnalyzeError> {
    let baseline = match &options.baseline {
        Some(path) => Some(report::read(path)?),
        None => None,
    };
    let files = capture_files(&options.paths)?;
    if files.is_empty() {
        return Err(AnalyzeError::NoCaptures(
            options
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    check_outputs(&options, &files)?;
    let host = setup.config.sensor_name.as_deref();
    let shipping = Arc::new(SyslogStats::default());
    let eve = if flows_with_alerts(&options) {
        EveWriter::combined(open_output(&options.alerts, host, &shipping)?)
    } else {
        let flows = match &options.flows {
            Some(p) => Some(open_output(&p.display().to_string(), host, &shipping)?),
            None => None,
        };
        EveWriter::new(Some(open_output(&options.alerts, host, &shipping)?), flows)
    }
    .host(setup.config.sensor_name.clone());
    let mut outputs = Outputs {
        eve,
        summary: Summary::default(),
    };
    let started = Instant::now();
    let mut worker_errors = Vec::new();
    let (read, filtered, ran) = if options.workers == 1 {
        let mut engine = setup.engines(1).remove(0);
        let (read, filtered) = read_all(
            &files,
            &mut Inline {
                engine: &mut engine,
                sink: &mut outputs,
            },
            options.filter,
            progress,
        );
        engine.finish(&mut outputs);
        (read, filtered, WorkerReport::of(&engine))
    } else if reads_in_shares(&files, options.workers) {
        let engines = setup.engines(options.workers);
        let (shared, done) = with_shared_outputs(outputs, |sink| {
            // A compiled filter stays in its thread: each worker compiles its own.
            let bpf = options.filter.as_ref().map(PacketFilter::expression);
            read_in_shares(&files, engines, sink, bpf, progress)
        })?;
        outputs = shared;
        worker_errors = done.failed;
        (done.read, done.filtered, done.ran)
    } else {
        // One thread reads, the workers analyse.
        let engines = setup.engines(options.workers);
        let (shared, (read, filtered, ran)) = with_shared_outputs(outputs, |sink| {
            let mut workers = Workers::spawn(engines, sink, FILE_QUEUE_BATCHES, WhenFull::Wait)
                .map_err(AnalyzeError::Workers)?;
            let (read, filtered) = read_all(&files, &mut workers, options.filter, progress);
            Ok((read, filtered, workers.finish()))
        })?;
        outputs = shared;
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
    let Outputs { mut eve, summary } = outputs;
    let mut errors: Vec<AnalyzeError> = read.errors.into_iter().map(Into::into).collect();
    errors.extend(worker_errors);
    // A failed output does not stop the others: the report may be on another disk.
    if let Err(e) = eve.finish() {
        errors.push(AnalyzeError::Output(e));
    }
    // Closing a syslog output waits (briefly) for its queue to drain.
    drop(eve);
    if let Some(filtered) = &filtered {
        errors.extend(filtered.errors.iter().cloned().map(AnalyzeError::Filter));
    }
    let dropped = shipping.dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        errors.push(AnalyzeError::SyslogDropped {
            dropped,
            sent: shipping.sent.load(Ordering::Relaxed),
        });
    }
    if let Some(path) = &options.metrics {
        let text = metrics::exposition(
            &summary,
            &ran.stats,
            ran.active_flows,
            &Drops::default(),
            setup.policy.rules(),
            setup.config.sensor_name.as_deref(),
        )
        .map_err(|_| AnalyzeError::EncodingMetrics)?;
        let text = metrics::text_format(&text);
        if let Err(source) = write_whole(path, |partial| std::fs::write(partial, &text)) {
            errors.push(AnalyzeError::Metrics {
                path: path.clone(),
                source,
            });
        }
    }
    let mut comparison = None;
    if options.report.is_some() || baseline.is_some() {
        let inputs = read
            .files
            .iter()
            .map(report::InputRecord::of_file)
            .collect();
        let limits = report::Limits::from_run(&ran.stats, &Drops::default());
        let mut run = setup.run_info(inputs, read.packets, read.bytes, limits);
        for (field, flag) in [
            (&mut run.config.site, &options.site),
            (&mut run.config.scope, &options.scope),
            (&mut run.config.assessor, &options.assessor),
        ] {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
        let mut built = report::Report::build(&summary, run);
        if let Some(before) = &baseline {
            built.comparison = Some(report::diff::compare(before, &built));
        }
        if let Some(path) = &options.report {
            if let Err(source) = write_whole(path, |partial| built.write(partial)) {
                errors.push(AnalyzeError::Report {
                    path: path.clone(),
                    source,
                });
            }
        }
        comparison = built.comparison;
    }
    let reached_fail_on = match (&comparison, options.fail_on) {
        (Some(comparison), Some(threshold)) => comparison.new_at_least(threshold),
        (None, Some(threshold)) => summary.worst.is_some_and(|w| w.at_least(threshold)),
        (_, None) => false,
    };
    let suppressed = setup
        .policy
        .suppressions()
        .applied()
        .map(|(suppression, held)| (held, suppression.describe()))
        .collect();
    Ok(AnalyzeOutcome {
        summary,
        stats: ran.stats,
        throughput,
        filtered_out: filtered.map_or(0, |f| f.skipped),
        suppressed,
        errors,
        reached_fail_on,
    })
}
