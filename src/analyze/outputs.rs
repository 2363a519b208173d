//! The outputs of `analyze`, checked before the first packet is read and opened: a
//! long run must not fail at its very end, nor overwrite its own input.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::{AnalyzeError, AnalyzeOptions};
use crate::output::eve::Stream;
use crate::output::lines::{stdout_was_closed, LineOutput};
use crate::output::syslog::{self, SyslogStats, SyslogStream};

/// A mistake in the command line found after parsing (an output that is an input, an
/// unknown report format): the binary exits 2 for it, like for the mistakes clap finds.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Report formats, by the extension that picks them.
const REPORT_EXTENSIONS: [&str; 3] = ["html", "htm", "json"];
/// Metrics files: node_exporter's textfile collector reads only `*.prom`.
const METRICS_EXTENSIONS: [&str; 2] = ["prom", "txt"];

/// Refuses a name whose extension does not say a format we write.
fn check_extension(flag: &str, path: &Path, known: &[&str], hint: &str) -> Result<(), Usage> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if known.iter().any(|k| k.eq_ignore_ascii_case(ext)) {
        return Ok(());
    }
    let found = if ext.is_empty() {
        "no extension".to_string()
    } else {
        format!("unknown extension `.{ext}`")
    };
    Err(Usage(format!("{flag} {}: {found}; {hint}", path.display())))
}

/// The report's format comes from its extension (`analyze` and `live`); refuse one
/// that names none we write.
pub fn check_report_name(report: Option<&Path>) -> Result<(), Usage> {
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

/// `--metrics` must name a file a textfile collector reads.
pub fn check_metrics_name(metrics: Option<&Path>) -> Result<(), Usage> {
    match metrics {
        Some(p) => check_extension(
            "--metrics",
            p,
            &METRICS_EXTENSIONS,
            "use .prom (what node_exporter's textfile collector reads) or .txt",
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
pub(super) fn flows_with_alerts(options: &AnalyzeOptions) -> bool {
    options
        .flows
        .as_ref()
        .is_some_and(|f| same_output(f, Path::new(&options.alerts)))
}

/// Every output checked before the first packet is read: none may be an input (it would
/// be overwritten) or another output, and the report and metrics must be writable
/// where they are named, so a long run does not fail at its very end.
pub(super) fn check_outputs(
    options: &AnalyzeOptions,
    inputs: &[PathBuf],
) -> Result<(), AnalyzeError> {
    let mut named: Vec<(&str, PathBuf)> = Vec::new();
    if options.alerts != "-" {
        named.push(("--alerts", PathBuf::from(&options.alerts)));
    }
    if let Some(flows) = options.flows.as_ref().filter(|f| f.as_os_str() != "-") {
        // Alerts and flows into one file is one combined stream, not a clash.
        if !flows_with_alerts(options) {
            named.push(("--flows", flows.clone()));
        }
    }
    named.extend(options.report.iter().map(|p| ("--report", p.clone())));
    named.extend(options.metrics.iter().map(|p| ("--metrics", p.clone())));
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
    for path in options.report.iter().chain(&options.metrics) {
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| AnalyzeError::Unwritable {
                path: path.clone(),
                source,
            })?;
        if !existed {
            let _ = std::fs::remove_file(path);
        }
    }
    if (options.alerts == "-" || options.flows.as_ref().is_some_and(|f| f.as_os_str() == "-"))
        && stdout_was_closed()
    {
        return Err(AnalyzeError::StdoutClosed);
    }
    Ok(())
}

/// A file, stdout (`-`), or a syslog collector (`syslog://HOST:PORT`), whose
/// sender counts into `shipping`.
pub(super) fn open_output(
    name: &str,
    host: Option<&str>,
    shipping: &Arc<SyslogStats>,
) -> Result<Stream, AnalyzeError> {
    if let Some(target) = name.strip_prefix(syslog::SCHEME) {
        let stream = SyslogStream::connect(target, host, Arc::clone(shipping))?;
        return Ok(Box::new(stream));
    }
    Ok(Box::new(
        LineOutput::create(name).map_err(AnalyzeError::Output)?,
    ))
}
