//! Build-time facts for `cleartrace --version`: the git revision the binary was built
//! from. A build from a tarball (no `.git`, no git) says so instead of failing; a
//! packager may set CLEARTRACE_GIT_REV to the revision the tarball was cut from.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=CLEARTRACE_GIT_REV");
    let revision = std::env::var("CLEARTRACE_GIT_REV")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| {
            // Only this source tree's own repository: a tarball unpacked inside some
            // other checkout must not take that checkout's revision.
            let top = git(&["rev-parse", "--show-toplevel"])?;
            let manifest = std::env::var("CARGO_MANIFEST_DIR").ok()?;
            let same = |a: &str, b: &str| {
                std::fs::canonicalize(a)
                    .ok()
                    .zip(std::fs::canonicalize(b).ok())
                    .is_some_and(|(a, b)| a == b)
            };
            if !same(&top, &manifest) {
                return None;
            }
            // Rebuild when HEAD moves: HEAD itself, and the branch file it points at.
            for path in [
                git(&["rev-parse", "--git-path", "HEAD"]),
                git(&["rev-parse", "--symbolic-full-name", "HEAD"])
                    .and_then(|r| git(&["rev-parse", "--git-path", &r])),
            ]
            .into_iter()
            .flatten()
            {
                println!("cargo:rerun-if-changed={path}");
            }
            git(&["rev-parse", "--short=12", "HEAD"])
        })
        .unwrap_or_else(|| "unknown (built without git)".to_string());
    println!("cargo:rustc-env=CLEARTRACE_GIT_REV={revision}");
}
