//! Offline analysis: capture files and folders through one engine.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::capture::{CaptureError, CaptureFile};
use crate::engine::{Engine, EngineStats};
use crate::output::summary::Throughput;
use crate::output::Sink;

/// Leading bytes of pcap (µs, ns; both byte orders) and pcapng files.
const CAPTURE_MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

fn is_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && CAPTURE_MAGICS.contains(&magic)
}

/// The files to read: plain arguments as given, folders walked in name order keeping
/// only files that start like a capture (a README beside the captures is skipped).
pub fn capture_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), CaptureError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CaptureError::Open {
        path: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, files)?;
        } else if is_capture(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// Where a run is, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub packets_per_sec: f64,
}

pub struct AnalyzeOutcome {
    pub throughput: Throughput,
    pub stats: EngineStats,
    /// Files that could not be read to the end; what came before the error was analysed.
    pub errors: Vec<CaptureError>,
}

/// Reads every file through `engine`, then ends all flows. A bad file is reported and
/// the run goes on with the next one; nothing found so far is lost.
pub fn analyze_files(
    files: &[PathBuf],
    engine: &mut Engine,
    sink: &mut dyn Sink,
    mut progress: impl FnMut(Progress),
) -> AnalyzeOutcome {
    let started = Instant::now();
    let mut errors = Vec::new();
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut done = 0u64;
    let mut packets = 0u64;
    for path in files {
        let mut capture = match CaptureFile::open(path) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        engine.set_source(&path.display().to_string());
        let mut in_file = 0u64;
        let result = capture.read_packets(|packet| {
            engine.process(&packet, sink);
            packets += 1;
            // Record header plus data: close enough to the file offset for a progress bar.
            in_file += 16 + packet.data.len() as u64;
            if packets % 16_384 == 0 {
                let elapsed = started.elapsed().as_secs_f64().max(1e-9);
                progress(Progress {
                    bytes_done: done + in_file,
                    bytes_total: total,
                    packets_per_sec: packets as f64 / elapsed,
                });
            }
        });
        done += capture.size();
        progress(Progress {
            bytes_done: done,
            bytes_total: total,
            packets_per_sec: packets as f64 / started.elapsed().as_secs_f64().max(1e-9),
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    engine.finish(sink);
    let stats = engine.stats();
    AnalyzeOutcome {
        throughput: Throughput {
            packets: stats.packets,
            bytes: stats.bytes,
            seconds: started.elapsed().as_secs_f64(),
        },
        stats,
        errors,
    }
}
