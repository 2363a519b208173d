//! Where JSON lines go: a file or standard output, written in whole lines only.
//!
//! A write that fails (a full disk, a closed pipe) is reported once with the name of the
//! output, and a file is cut back to its last whole line, so a reader tailing it never
//! sees half a JSON object.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Bytes gathered before whole lines are handed to the system.
const CHUNK: usize = 64 * 1024;

enum Target {
    File(File),
    Stdout(io::Stdout),
}

/// A line-oriented output that never leaves a torn line behind.
pub struct LineOutput {
    /// The name the user gave (`-` is standard output), for error messages.
    name: String,
    target: Target,
    pending: Vec<u8>,
    /// Bytes of whole lines already in the file.
    committed: u64,
    /// Set at the first failure; nothing is written after it.
    failed: bool,
}

impl LineOutput {
    /// Standard output for `-`, otherwise the file, created or truncated.
    pub fn create(name: &str) -> io::Result<Self> {
        let target = if name == "-" {
            Target::Stdout(io::stdout())
        } else {
            Target::File(
                File::create(Path::new(name)).map_err(|e| named(name, "cannot create", e))?,
            )
        };
        Ok(LineOutput {
            name: name.to_string(),
            target,
            pending: Vec::with_capacity(CHUNK),
            committed: 0,
            failed: false,
        })
    }

    /// Writes every whole line gathered so far; a partial last line waits for its end.
    fn commit(&mut self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(format!(
                "{}: an earlier write failed",
                self.display()
            )));
        }
        let Some(end) = self
            .pending
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|i| i + 1)
        else {
            return Ok(());
        };
        let result = match &mut self.target {
            Target::File(f) => f.write_all(&self.pending[..end]),
            Target::Stdout(s) => {
                let mut s = s.lock();
                s.write_all(&self.pending[..end]).and_then(|()| s.flush())
            }
        };
        match result {
            Ok(()) => {
                self.committed += end as u64;
                self.pending.drain(..end);
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                if let Target::File(f) = &self.target {
                    // Cut back to the last whole line. A device (/dev/full) has no
                    // length to cut; a pipe never takes back what it took.
                    let _ = f.set_len(self.committed);
                }
                Err(named(&self.display(), "cannot write", e))
            }
        }
    }

    fn display(&self) -> String {
        if self.name == "-" {
            "standard output".to_string()
        } else {
            self.name.clone()
        }
    }
}

fn named(name: &str, what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{name}: {what}: {e}"))
}

impl Write for LineOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other(format!(
                "{}: an earlier write failed",
                self.display()
            )));
        }
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK {
            self.commit()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.commit()?;
        match &mut self.target {
            Target::File(f) => f.flush(),
            Target::Stdout(s) => s.flush(),
        }
        .map_err(|e| named(&self.display(), "cannot write", e))
    }
}

/// True when standard output was closed when the process started (`>&-`). The Rust
/// runtime then quietly opens /dev/null read-write in its place so that writes succeed
/// and vanish; a shell's `>/dev/null` opens it write-only. Linux only (it reads /proc);
/// elsewhere a closed standard output is not detected.
pub fn stdout_was_closed() -> bool {
    let Ok(target) = std::fs::read_link("/proc/self/fd/1") else {
        return false;
    };
    if target != Path::new("/dev/null") {
        return false;
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/fdinfo/1") else {
        return false;
    };
    // `flags:` is octal; the access mode is its low two bits, 2 = O_RDWR.
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 == 0o2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_whole_lines_only() {
        let dir = std::env::temp_dir().join(format!("cleartrace-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.json");
        let mut out = LineOutput::create(&path.display().to_string()).unwrap();
        out.write_all(b"{\"a\":1}\n{\"b\":").unwrap();
        out.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n");
        out.write_all(b"2}\n").unwrap();
        out.flush().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"b\":2}\n");
        let _ = std::fs::remove_dir_all(&dir);

        let mut full = LineOutput::create("/dev/full").unwrap();
        full.write_all(b"{}\n").unwrap();
        let err = full.flush().unwrap_err().to_string();
        assert!(
            err.starts_with("/dev/full: cannot write: No space left"),
            "{err}"
        );
        assert!(full.write_all(b"{}\n").is_err(), "nothing after a failure");
    }
}
