//! The long-running sensor (feature `live`): with libpcap a capture thread reads the
//! interface and shards packets to worker engines; with AF_PACKET each worker reads
//! its own ring of the kernel's fanout group and runs its engine on the frames in
//! place (the SDP expectations are shared by the engines either way); a tokio runtime in the main thread serves the
//! metrics endpoint and turns signals into actions (SIGHUP reopens the output files
//! for logrotate, SIGTERM and SIGINT end every open flow and exit). The engines, sinks
//! and sharding are the ones `analyze` uses.

pub mod http;
mod privileges;

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::capture::afpacket::Ring;
use crate::capture::live::{CaptureMethod, CaptureOptions, LiveCapture, LiveCaptureError};
use crate::engine::Engine;
use crate::memory::peak_memory;
use crate::output::eve::{EveWriter, Stream};
use crate::output::metrics::{exposition, Drops};
use crate::output::report;
use crate::output::summary::{Section, Summary, Throughput};
use crate::output::syslog::{self, SyslogError, SyslogStats, SyslogStream};
use crate::output::Outputs;
use crate::setup::Setup;
use crate::threads::lock;
use crate::timestamp::Timestamp;
use crate::workers::{Resteer, SharedSink, WhenFull, WorkerReport, Workers, PUBLISH_INTERVAL};

/// How often buffered alert lines reach the files, and drops are read from libpcap.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

#[derive(Debug, Error)]
pub enum LiveError {
    #[error(transparent)]
    Capture(#[from] LiveCaptureError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("{path}: cannot open for appending: {source}")]
    Output { path: PathBuf, source: io::Error },
    #[error("syslog output: {0}")]
    Syslog(#[from] SyslogError),
    #[error("--user: {0}")]
    User(String),
    #[error("starting the sensor: {0}")]
    Start(io::Error),
    #[error("writing output: {0}")]
    Write(io::Error),
    #[error("{path}: cannot write the report: {source}")]
    Report { path: PathBuf, source: io::Error },
    #[error("a sensor thread stopped unexpectedly; its packets and flows are lost")]
    ThreadStopped,
}

pub struct LiveOptions {
    pub capture: CaptureOptions,
    pub workers: usize,
    /// Batches each worker's queue holds before the capture drops (and counts).
    pub queue_batches: usize,
    pub listen: SocketAddr,
    /// Alert lines: a file (appended, reopened on SIGHUP) or `None` for stdout.
    pub alerts: Option<PathBuf>,
    pub flows: Option<PathBuf>,
    /// Drop root to this user once the capture and socket are open.
    pub user: Option<String>,
    /// The auditor's report: written on SIGUSR1 (flows ended so far) and at exit.
    pub report: Option<PathBuf>,
}

/// What a run leaves for the exit summary.
pub struct LiveOutcome {
    pub summary: Summary,
    pub report: WorkerReport,
    pub drops: Drops,
    pub seconds: f64,
    /// The capture failed (the interface went away …) or a worker died; what the
    /// other workers held was still written.
    pub failure: Option<LiveError>,
}

impl LiveOutcome {
    /// The exit summary for stderr.
    pub fn render(&self) -> String {
        let s = &self.report.stats;
        let throughput = Throughput {
            packets: s.packets,
            bytes: s.bytes,
            file_bytes: None,
            seconds: self.seconds,
            peak_memory: peak_memory(),
            budget_peak: Some(s.shed.peak_bytes),
        };
        let extra = [
            Section {
                title: "packets lost before analysis",
                counts: vec![
                    ("dropped in the kernel", self.drops.kernel),
                    ("dropped by the interface", self.drops.interface),
                    ("dropped at worker queues", self.drops.queue),
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
        self.summary.render(&throughput, &extra)
    }
}

/// What the endpoint reads while the sensor runs.
struct Sensor {
    setup: Setup,
    /// `interface NAME`, the report's input.
    inputs: [String; 1],
    outputs: Arc<Mutex<Outputs>>,
    reports: Vec<Arc<Mutex<WorkerReport>>>,
    kernel_drops: AtomicU64,
    interface_drops: AtomicU64,
    /// AF_PACKET: each ring's kernel drops (empty with libpcap).
    ring_drops: Vec<AtomicU64>,
    queue_drops: Arc<AtomicU64>,
    /// What the syslog outputs' senders did, across SIGHUP reopenings.
    eve_shipping: Arc<SyslogStats>,
    capturing: AtomicBool,
}

impl Sensor {
    /// The report of what has ended so far (everything, once the workers finished).
    fn write_report(&self, path: &Path) -> Result<(), LiveError> {
        let running = Workers::snapshot(&self.reports);
        let outputs = lock(&self.outputs);
        let input = report::InputRecord {
            name: self.inputs[0].clone(),
            packets: running.stats.packets,
            bytes: running.stats.bytes,
            ..report::InputRecord::default()
        };
        let limits = report::Limits::from_run(&running.stats, &self.drops());
        let run = self.setup.run_info(
            vec![input],
            running.stats.packets,
            running.stats.bytes,
            limits,
        );
        report::Report::build(&outputs.summary, run)
            .write(path)
            .map_err(|source| LiveError::Report {
                path: path.to_owned(),
                source,
            })
    }

    fn drops(&self) -> Drops {
        let rings: Vec<u64> = self
            .ring_drops
            .iter()
            .map(|ring| ring.load(Ordering::Relaxed))
            .collect();
        Drops {
            kernel: self.kernel_drops.load(Ordering::Relaxed) + rings.iter().sum::<u64>(),
            interface: self.interface_drops.load(Ordering::Relaxed),
            queue: self.queue_drops.load(Ordering::Relaxed),
            eve_lines: self.eve_shipping.dropped.load(Ordering::Relaxed),
            rings,
        }
    }
}

impl http::Status for Sensor {
    fn metrics(&self) -> Option<String> {
        let running = Workers::snapshot(&self.reports);
        // A copy, so the writers' lock is held for the copy only, not the encoding.
        let summary = lock(&self.outputs).summary.clone();
        exposition(
            &summary,
            &running.stats,
            running.active_flows,
            &self.drops(),
            self.setup.policy.rules(),
            self.setup.config.sensor_name.as_deref(),
        )
        .ok()
    }

    fn healthy(&self) -> bool {
        self.capturing.load(Ordering::Relaxed)
    }
}

/// A file to append to, or a syslog collector (`syslog://HOST:PORT`).
fn append(
    path: &PathBuf,
    host: Option<&str>,
    shipping: &Arc<SyslogStats>,
) -> Result<Stream, LiveError> {
    if let Some(target) = path.to_str().and_then(|p| p.strip_prefix(syslog::SCHEME)) {
        let stream = SyslogStream::connect(target, host, Arc::clone(shipping))?;
        return Ok(Box::new(stream));
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|f| Box::new(BufWriter::new(f)) as Stream)
        .map_err(|source| LiveError::Output {
            path: path.clone(),
            source,
        })
}

fn open_streams(
    options: &LiveOptions,
    host: Option<&str>,
    shipping: &Arc<SyslogStats>,
) -> Result<(Option<Stream>, Option<Stream>), LiveError> {
    let alerts = match &options.alerts {
        Some(path) => append(path, host, shipping)?,
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let flows = options
        .flows
        .as_ref()
        .map(|path| append(path, host, shipping))
        .transpose()?;
    Ok((Some(alerts), flows))
}

/// Where frames come from: opened before privileges are dropped.
enum Source {
    Pcap(LiveCapture),
    Rings(Vec<Ring>),
}

pub fn run(setup: Setup, options: LiveOptions) -> Result<LiveOutcome, LiveError> {
    let started = Instant::now();
    let source = match options.capture.method {
        CaptureMethod::Pcap => Source::Pcap(LiveCapture::open(&options.capture)?),
        CaptureMethod::Afpacket => {
            Source::Rings(Ring::open_group(&options.capture, options.workers)?)
        }
    };
    let listener =
        std::net::TcpListener::bind(options.listen).map_err(|source| LiveError::Listen {
            addr: options.listen,
            source,
        })?;
    listener.set_nonblocking(true).map_err(LiveError::Start)?;
    if let Some(user) = &options.user {
        privileges::drop_to(user).map_err(LiveError::User)?;
    }
    let eve_shipping = Arc::new(SyslogStats::default());
    let (alerts, flows) =
        open_streams(&options, setup.config.sensor_name.as_deref(), &eve_shipping)?;
    let outputs = Arc::new(Mutex::new(Outputs {
        eve: EveWriter::new(alerts, flows)
            .live()
            .host(setup.config.sensor_name.clone()),
        summary: Summary::default(),
    }));
    let engines = setup.engines(options.workers);
    let sink = SharedSink(Arc::clone(&outputs));
    let stop = Arc::new(AtomicBool::new(false));
    let iface = options.capture.iface.clone();
    let (sensor, capture_threads) = match source {
        Source::Pcap(capture) => {
            let mut workers = Workers::spawn(engines, sink, options.queue_batches, WhenFull::Drop)
                .map_err(LiveError::Start)?;
            workers.set_source(&iface);
            let sensor = Arc::new(Sensor {
                inputs: [format!("interface {iface}")],
                setup,
                outputs: Arc::clone(&outputs),
                reports: workers.reports.clone(),
                kernel_drops: AtomicU64::new(0),
                interface_drops: AtomicU64::new(0),
                ring_drops: Vec::new(),
                queue_drops: Arc::clone(&workers.queue_drops),
                eve_shipping,
                capturing: AtomicBool::new(true),
            });
            let thread = std::thread::Builder::new()
                .name("cleartrace-capture".into())
                .spawn({
                    let stop = Arc::clone(&stop);
                    let sensor = Arc::clone(&sensor);
                    move || capture_loop(capture, workers, &stop, &sensor)
                })
                .map_err(LiveError::Start)?;
            (sensor, vec![thread])
        }
        Source::Rings(rings) => {
            let reports: Vec<_> = rings
                .iter()
                .map(|_| Arc::new(Mutex::new(WorkerReport::default())))
                .collect();
            let sensor = Arc::new(Sensor {
                inputs: [format!("interface {iface}")],
                setup,
                outputs: Arc::clone(&outputs),
                reports: reports.clone(),
                kernel_drops: AtomicU64::new(0),
                interface_drops: AtomicU64::new(0),
                ring_drops: rings.iter().map(|_| AtomicU64::new(0)).collect(),
                queue_drops: Arc::new(AtomicU64::new(0)),
                eve_shipping,
                capturing: AtomicBool::new(true),
            });
            let tunnels = engines
                .first()
                .map(|engine| engine.tunnels().clone())
                .unwrap_or_default();
            let resteers = Resteer::group(rings.len(), &tunnels, &sensor.queue_drops);
            let mut threads = Vec::with_capacity(rings.len());
            for (i, ((ring, mut engine), resteer)) in
                rings.into_iter().zip(engines).zip(resteers).enumerate()
            {
                engine.set_source(&iface);
                let thread = std::thread::Builder::new()
                    .name(format!("cleartrace-ring-{i}"))
                    .spawn({
                        let stop = Arc::clone(&stop);
                        let sensor = Arc::clone(&sensor);
                        let sink = sink.clone();
                        move || ring_loop(ring, engine, resteer, sink, i, &stop, &sensor)
                    })
                    .map_err(LiveError::Start)?;
                threads.push(thread);
            }
            (sensor, threads)
        }
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LiveError::Start)?;
    let served = runtime.block_on(watch(listener, Arc::clone(&sensor), &options));
    stop.store(true, Ordering::Relaxed);
    let mut failure = None;
    let mut report = WorkerReport::default();
    for thread in capture_threads {
        let (ended, error) = thread
            .join()
            .unwrap_or_else(|_| (WorkerReport::default(), Some(LiveError::ThreadStopped)));
        report.stats.merge(&ended.stats);
        report.active_flows += ended.active_flows;
        failure = failure.or(error);
    }
    served?;
    if let Some(path) = &options.report {
        sensor.write_report(path)?;
    }
    let mut outputs = lock(&outputs);
    outputs.eve.finish().map_err(LiveError::Write)?;
    Ok(LiveOutcome {
        summary: std::mem::take(&mut outputs.summary),
        report,
        drops: sensor.drops(),
        seconds: started.elapsed().as_secs_f64(),
        failure,
    })
}

/// Serves the endpoint and waits for a signal (or the capture to stop by itself).
async fn watch(
    listener: std::net::TcpListener,
    sensor: Arc<Sensor>,
    options: &LiveOptions,
) -> Result<(), LiveError> {
    use tokio::signal::unix::{signal, SignalKind};
    let listener = tokio::net::TcpListener::from_std(listener).map_err(LiveError::Start)?;
    let endpoint = tokio::spawn(http::serve(listener, Arc::clone(&sensor) as _));
    let mut hangup = signal(SignalKind::hangup()).map_err(LiveError::Start)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(LiveError::Start)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(LiveError::Start)?;
    let mut snapshot = signal(SignalKind::user_defined1()).map_err(LiveError::Start)?;
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    let result = loop {
        tokio::select! {
            _ = hangup.recv() => {
                let reopened = open_streams(
                    options,
                    sensor.setup.config.sensor_name.as_deref(),
                    &sensor.eve_shipping,
                );
                let mut outputs = lock(&sensor.outputs);
                match reopened {
                    Ok((alerts, flows)) => {
                        if let Err(e) = outputs.eve.reopen(alerts, flows) {
                            break Err(LiveError::Write(e));
                        }
                    }
                    // Keep writing to the old files rather than lose alerts.
                    // Ignored if stderr itself fails: there is nowhere else to say it.
                    Err(e) => {
                        let _ = writeln!(
                            std::io::stderr(),
                            "warning: SIGHUP: {e}; still writing to the old files"
                        );
                    }
                }
            }
            _ = snapshot.recv() => {
                if let Some(path) = &options.report {
                    if let Err(e) = sensor.write_report(path) {
                        let _ = writeln!(std::io::stderr(), "warning: SIGUSR1: {e}");
                    }
                }
            }
            _ = terminate.recv() => break Ok(()),
            _ = interrupt.recv() => break Ok(()),
            _ = housekeeping.tick() => {
                if let Err(e) = lock(&sensor.outputs).eve.flush() {
                    break Err(LiveError::Write(e));
                }
                if !sensor.capturing.load(Ordering::Relaxed) {
                    break Ok(());
                }
            }
        }
    };
    endpoint.abort();
    result
}

/// Reads frames until told to stop, then lets the workers end every flow.
fn capture_loop(
    mut capture: LiveCapture,
    mut workers: Workers,
    stop: &AtomicBool,
    sensor: &Sensor,
) -> (WorkerReport, Option<LiveError>) {
    let mut housekeeping = Instant::now();
    let mut error = None;
    let mut since_check = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match capture.next_packet() {
            Ok(Some(packet)) => {
                workers.push(&packet);
                since_check += 1;
                // The clock is read once every few hundred frames on a busy link.
                if since_check < 256 {
                    continue;
                }
            }
            Ok(None) => {
                if !capture.wait() {
                    workers.tick(Timestamp::now());
                }
            }
            Err(e) => {
                error = Some(LiveError::Capture(e));
                break;
            }
        }
        since_check = 0;
        if housekeeping.elapsed() >= HOUSEKEEPING {
            housekeeping = Instant::now();
            record_drops(&mut capture, sensor);
            if workers.stopped() {
                error = Some(LiveError::ThreadStopped);
                break;
            }
        }
    }
    record_drops(&mut capture, sensor);
    sensor.capturing.store(false, Ordering::Relaxed);
    (workers.finish(), error)
}

/// One AF_PACKET worker: reads its ring's blocks and runs its engine on the frames
/// in place (a tunnelled frame of another worker's inner flow goes to that worker,
/// see `Resteer`), and on what the others handed here, until told to stop; then
/// ends its flows. A ring that fails, or a
/// worker that panics, stops the whole sensor (its share of the traffic would be
/// lost).
fn ring_loop(
    mut ring: Ring,
    mut engine: Engine,
    mut resteer: Resteer,
    mut sink: SharedSink<Outputs>,
    me: usize,
    stop: &AtomicBool,
    sensor: &Sensor,
) -> (WorkerReport, Option<LiveError>) {
    struct StopsSensor<'a>(&'a AtomicBool);
    impl Drop for StopsSensor<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
    let _stops = StopsSensor(&sensor.capturing);
    let publish = |ring: &Ring, engine: &Engine| {
        if let (Some(report), Some(drops)) = (sensor.reports.get(me), sensor.ring_drops.get(me)) {
            *lock(report) = WorkerReport::of(engine);
            if let Some(n) = ring.drops() {
                drops.store(n, Ordering::Relaxed);
            }
        }
    };
    let mut published = Instant::now();
    let mut error = None;
    while !stop.load(Ordering::Relaxed) {
        let mut last = None;
        let read = ring.read_block(|packet| {
            last = Some(packet.ts);
            if !resteer.take(packet) {
                engine.process(packet, &mut sink);
            }
        });
        match read {
            Ok(true) => resteer.read_up_to(last.unwrap_or_default()),
            // A quiet link: the clock still moves, so idle flows time out.
            Ok(false) => {
                resteer.read_up_to(ring.read_everything_before());
                engine.advance(Timestamp::now(), &mut sink);
            }
            Err(e) => {
                error = Some(LiveError::Capture(e));
                break;
            }
        }
        resteer.release(|packet| engine.process(packet, &mut sink));
        if published.elapsed() >= PUBLISH_INTERVAL {
            published = Instant::now();
            publish(&ring, &engine);
        }
    }
    resteer.finish(|packet| engine.process(packet, &mut sink));
    engine.finish(&mut sink);
    publish(&ring, &engine);
    (WorkerReport::of(&engine), error)
}

fn record_drops(capture: &mut LiveCapture, sensor: &Sensor) {
    let drops = capture.drops();
    sensor.kernel_drops.store(drops.buffer, Ordering::Relaxed);
    sensor
        .interface_drops
        .store(drops.interface, Ordering::Relaxed);
}
