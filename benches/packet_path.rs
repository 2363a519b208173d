//! Throughput of the packet path (decode → flow → dissectors → policy) over captures
//! held in memory, so disk speed does not count. Uses the corpus benchmark capture when
//! `../shared/corpus` is present, else the bundled `pcaps/`.

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

fn load() -> Vec<Frame> {
    let corpus = Path::new("../shared/corpus/pcaps/bench__ndpi_all_sequential.pcap");
    let inputs = if corpus.exists() {
        vec![corpus.to_path_buf()]
    } else {
        vec![PathBuf::from("pcaps")]
    };
    let mut frames = Vec::new();
    for file in capture_files(&inputs).unwrap_or_default() {
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
    let frames = load();
    let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
    let mut group = c.benchmark_group("packet_path");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function(format!("{} packets", frames.len()), |b| {
        b.iter(|| {
            let config = Config::default();
            let mut engine = Engine::with_builtin_signatures(&config);
            let mut sink = CountingSink::default();
            for f in &frames {
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
    group.finish();
}

criterion_group!(benches, packet_path);
criterion_main!(benches);
