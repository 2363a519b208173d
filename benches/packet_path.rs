//! Throughput of the packet path (decode → flow → dissectors → policy) over captures
//! held in memory, so disk speed does not count. Uses the corpus benchmark capture when
//! `../shared/corpus` is present, else the bundled `pcaps/`; `CLEARTRACE_BENCH_CAPTURES`
//! (paths separated by `:`) benches each of those instead, one case per file — for an
//! RTP-heavy synthetic capture (`examples/synth.rs`), whose per-packet path nDPI's
//! mixed capture hardly exercises.

use std::path::{Path, PathBuf};

use cleartrace::analyze::capture_files;
use cleartrace::capture::{CaptureFile, Packet};
use cleartrace::config::Config;
use cleartrace::engine::Engine;
use cleartrace::output::{FlowEvent, Sink};
use cleartrace::timestamp::Timestamp;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

struct Frame {
    ts: Timestamp,
    linktype: i32,
    data: Vec<u8>,
}

/// Counts alerts so the work cannot be optimised away.
#[derive(Default)]
struct CountingSink(u64);

impl Sink for CountingSink {
    fn flow_ended(&mut self, event: &FlowEvent<'_>) {
        self.0 += 1 + event.alerts.len() as u64;
    }
}

/// (case name, inputs) for each case to bench.
fn cases() -> Vec<(String, Vec<PathBuf>)> {
    if let Ok(list) = std::env::var("CLEARTRACE_BENCH_CAPTURES") {
        return list
            .split(':')
            .filter(|path| !path.is_empty())
            .map(|path| {
                let name = Path::new(path)
                    .file_name()
                    .map_or(path.to_string(), |n| n.to_string_lossy().into_owned());
                (name, vec![PathBuf::from(path)])
            })
            .collect();
    }
    let corpus = Path::new("../shared/corpus/pcaps/bench__ndpi_all_sequential.pcap");
    if corpus.exists() {
        vec![(String::new(), vec![corpus.to_path_buf()])]
    } else {
        vec![(String::new(), vec![PathBuf::from("pcaps")])]
    }
}

fn load(inputs: &[PathBuf]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for file in capture_files(inputs).unwrap_or_default() {
        let Ok(mut capture) = CaptureFile::open(&file) else {
            continue;
        };
        // A corrupt tail only ends this file early; the frames before it are benched.
        let _ = capture.read_packets(|p| {
            frames.push(Frame {
                ts: p.ts,
                linktype: p.linktype,
                data: p.data.to_vec(),
            })
        });
    }
    frames
}

fn packet_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("packet_path");
    group.sample_size(10);
    for (name, inputs) in cases() {
        bench_case(&mut group, &name, &load(&inputs));
    }
    group.finish();
}

fn bench_case(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    frames: &[Frame],
) {
    let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
    group.throughput(Throughput::Bytes(bytes));
    // The default case keeps the name its saved baselines have.
    let id = match name {
        "" => format!("{} packets", frames.len()),
        name => format!("{name} ({} packets)", frames.len()),
    };
    group.bench_function(id, |b| {
        b.iter(|| {
            let config = Config::default();
            let mut engine = Engine::with_builtin_signatures(&config);
            let mut sink = CountingSink::default();
            for f in frames {
                let packet = Packet {
                    ts: f.ts,
                    linktype: f.linktype,
                    data: &f.data,
                    wire_len: f.data.len() as u32,
                };
                engine.process(&packet, &mut sink);
            }
            engine.finish(&mut sink);
            sink.0
        })
    });
}

criterion_group!(benches, packet_path);
criterion_main!(benches);
