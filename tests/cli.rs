//! The command line as a newcomer meets it: each error once, at the true file and line,
//! with exit codes that scripts can rely on. Every test runs the binary as a process.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cleartrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args(args)
        .output()
        .expect("run cleartrace")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn pcap(name: &str) -> String {
    common::repo()
        .join("pcaps")
        .join(name)
        .display()
        .to_string()
}

/// Writes `text` to `dir/name`, giving the path as a string.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// Runs `analyze` on a small capture with `--config FILE` and gives exit code and stderr.
fn analyze_with_config(config: &str) -> (Option<i32>, String) {
    let out = cleartrace(&["analyze", "-q", "--config", config, &pcap("ftp.pcap")]);
    (out.status.code(), stderr(&out))
}

#[test]
fn configuration_errors_are_printed_once_at_their_line() {
    let dir = common::tempdir();
    let cases = [
        (
            "tls.toml",
            "# sensor\n\nmin_tls_version = \"1.5\"\n",
            ":3: min_tls_version \"1.5\": use 1.0, 1.1, 1.2 or 1.3\n",
        ),
        (
            "rules.toml",
            "[rules.1001]\nseverity = \"low\"\n\n[rules.4242]\nenabled = false\n",
            ":4: [rules.4242]: no rule with this id\n",
        ),
        (
            "suppress.toml",
            "[[suppress]]\nrule = 1001\nreason = \"lab\"\n\n[[suppress]]\nrule = 4242\nreason = \"x\"\n",
            ":6: [[suppress]] for rule 4242: no rule with this id\n",
        ),
        (
            "unknown.toml",
            "[flow]\nmax_flowz = 1\n",
            ":2: unknown field `max_flowz`",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(&dir, name, text);
        let (code, err) = analyze_with_config(&path);
        assert_eq!(code, Some(1), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: printed once: {err}");
        assert!(err.starts_with(&format!("error: {path}:")), "{err}");
        assert!(err.contains(expected), "{name}: {err}");
    }
    let missing = dir.join("missing.toml").display().to_string();
    let (code, err) = analyze_with_config(&missing);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!("error: {missing}: cannot read: No such file or directory (os error 2)\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_nonsense_is_refused() {
    let dir = common::tempdir();
    let cases = [
        (
            "[flow]\nmax_flows = 0\n",
            ":2: flow.max_flows = 0: must be between 1 and 16777216",
        ),
        (
            "[flow]\n\nmax_flows = -3\n",
            ":3: invalid value: integer `-3`, expected usize",
        ),
        (
            "[flow]\nmax_flows = 100000000000\n",
            ":2: flow.max_flows = 100000000000: must be between 1 and 16777216",
        ),
        (
            "max_ip_fragments = 0\n",
            ":1: max_ip_fragments = 0: must be between",
        ),
        (
            "[flow]\nudp_idle_timeout = 0\n",
            ":2: flow.udp_idle_timeout = 0: must be between 1 and",
        ),
        (
            "[reassembly]\nmax_buffered_bytes = 99999999999\n",
            ":2: reassembly.max_buffered_bytes = 99999999999: must be between",
        ),
        (
            "[scan]\nmax_bytes_per_flow = 0\n",
            ":2: scan.max_bytes_per_flow = 0: must be between",
        ),
        (
            "[media]\nexpectation_ttl = 0\n",
            ":2: media.expectation_ttl = 0: must be between",
        ),
    ];
    for (i, (text, expected)) in cases.into_iter().enumerate() {
        let path = write(&dir, &format!("c{i}.toml"), text);
        let (code, err) = analyze_with_config(&path);
        assert_eq!(code, Some(1), "{text}: {err}");
        assert_eq!(err.lines().count(), 1, "printed once: {err}");
        assert!(
            err.starts_with(&format!("error: {path}{expected}")),
            "{text}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn signatures_check_reports_every_error_in_every_file() {
    let dir = common::tempdir();
    let a = write(
        &dir,
        "a.toml",
        "[[rule]]\nid = 50\nsignature = \"x\"\ncategory = \"x\"\nseverity = \"high\"\n\n\
         [[rule]]\nid = 9001\nsignature = \"y\"\ncategory = \"custom\"\nseverity = \"loud\"\n",
    );
    let b = write(
        &dir,
        "b.toml",
        "[[pattern]]\nid = 100\nname = \"n\"\nkind = \"custom\"\n\nregex = 'a(b'\nseverity = \"low\"\n\n\
         [[pattern]]\nid = 101\nname = \"m\"\nkind = \"custom\"\nregex = 'cd'\nseverity = \"low\"\nrule = 12345\n\n\
         [[rule]]\nid = 1500\nsignature = \"z\"\ncategory = \"weak-encryption\"\nseverity = \"low\"\n",
    );
    let out = cleartrace(&["signatures", "check", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 6, "{err}");
    assert!(
        lines[0].starts_with(&format!("{a}:2: rule id 50 is in no range")),
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!("{a}:4: category \"x\" is not one of")),
        "{err}"
    );
    assert!(
        lines[2].starts_with(&format!("{a}:11: severity: unknown variant `loud`")),
        "{err}"
    );
    assert_eq!(
        lines[3],
        format!("{b}:6: pattern 100: bad regex: unclosed group")
    );
    assert!(
        lines[4].starts_with(&format!("{b}:18: rule id 1500 is in 1000–1999")),
        "{err}"
    );
    assert_eq!(lines[5], format!("{}: 5 problem(s)", dir.display()));

    // A pattern naming a rule no file defines: at its `rule =` line.
    let dir2 = common::tempdir();
    let c = write(
        &dir2,
        "c.toml",
        "[[pattern]]\nid = 101\nname = \"m\"\nkind = \"custom\"\nregex = 'cd'\nseverity = \"low\"\nrule = 12345\n",
    );
    let out = cleartrace(&["signatures", "check", &c]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!(
            "{c}:7: pattern 101 raises rule 12345, which no file defines\n"
        )),
        "{}",
        stderr(&out)
    );
    let out = cleartrace(&["analyze", "-q", "--signatures", &c, &pcap("ftp.pcap")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("error: {c}:7: pattern 101 raises rule 12345, which no file defines\n")
    );

    let out = cleartrace(&["signatures", "check", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(
            "/nonexistent: cannot read the signature directory: No such file or directory"
        ),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

/// `analyze` on ftp.pcap (one 6001 alert) with its stdio set by the caller.
fn analyze_cmd(extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cleartrace"));
    cmd.arg("analyze").arg(pcap("ftp.pcap")).args(extra);
    cmd
}

#[test]
fn a_full_stderr_is_no_panic() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let dir = common::tempdir();
    let alerts = dir.join("a.json").display().to_string();
    let out = analyze_cmd(&["--alerts", &alerts])
        .stderr(full)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the summary is lost, nothing else"
    );
    let text = std::fs::read_to_string(&alerts).expect("alerts");
    assert_eq!(text.lines().count(), 1, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_disk_is_exit_1_naming_the_file() {
    for flag in ["--alerts", "--flows"] {
        let out = analyze_cmd(&["-q", flag, "/dev/full"])
            .stdout(std::process::Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{flag}");
        assert_eq!(
            stderr(&out),
            "error: /dev/full: cannot write: No space left on device (os error 28)\n",
            "{flag}"
        );
    }
}

#[test]
fn a_closed_stdout_is_exit_1() {
    // Closed from the start (`>&-`): the alerts would go nowhere.
    let out = Command::new("sh")
        .args(["-c", "exec \"$0\" analyze -q \"$1\" >&-"])
        .arg(env!("CARGO_BIN_EXE_cleartrace"))
        .arg(pcap("ftp.pcap"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: standard output is closed: the alerts would be lost; name a file with --alerts\n"
    );
    // `>/dev/null` is a choice, not a mistake.
    let out = analyze_cmd(&["-q"])
        .stdout(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Closed by the reader going away (a pipe into `head` that ended).
    let mut child = analyze_cmd(&["-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: standard output: cannot write: Broken pipe (os error 32)\n"
    );
}

#[test]
fn an_output_that_is_an_input_is_refused_before_reading() {
    let dir = common::tempdir();
    let input = dir.join("in.pcap");
    std::fs::copy(pcap("ftp.pcap"), &input).expect("copy");
    let before = std::fs::read(&input).expect("read");
    let input = input.display().to_string();
    let alerts = dir.join("a.json").display().to_string();
    let report = dir.join("in.pcap.json").display().to_string();
    std::fs::hard_link(&input, &report).expect("link");
    for (flag, target, extra) in [
        ("--alerts", input.as_str(), vec![]),
        ("--flows", input.as_str(), vec!["--alerts", alerts.as_str()]),
        (
            "--report",
            report.as_str(),
            vec!["--alerts", alerts.as_str()],
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
            .args(["analyze", "-q", &input, flag, target])
            .args(&extra)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "error: {flag} {target} is the input capture {input}: refusing to overwrite it\n"
            )
        );
        assert_eq!(std::fs::read(&input).expect("read"), before, "{flag}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args(["analyze", "-q", &input, "--alerts", &alerts])
        .args([
            "--report",
            &format!("{alerts}.json"),
            "--metrics",
            &format!("{alerts}.json.prom"),
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_names_are_checked_before_the_analysis() {
    let dir = common::tempdir();
    let alerts = dir.join("a.json");
    let alerts_arg = alerts.display().to_string();
    let cases = [
        (
            "--report",
            "r.txt",
            2,
            "error: --report r.txt: unknown extension `.txt`; use .html for the page or .json for the same summary as data\n",
        ),
        (
            "--report",
            "report",
            2,
            "error: --report report: no extension; use .html for the page or .json for the same summary as data\n",
        ),
        (
            "--metrics",
            "m.json",
            2,
            "error: --metrics m.json: unknown extension `.json`; use .prom (what node_exporter's textfile collector reads) or .txt\n",
        ),
        (
            "--report",
            "/nonexistent/r.html",
            1,
            "error: /nonexistent/r.html: cannot write: No such file or directory (os error 2)\n",
        ),
        (
            "--metrics",
            "/nonexistent/m.prom",
            1,
            "error: /nonexistent/m.prom: cannot write: No such file or directory (os error 2)\n",
        ),
    ];
    for (flag, name, code, expected) in cases {
        // Without -q: a summary on stderr would mean the analysis ran.
        let out = analyze_cmd(&["--alerts", &alerts_arg, flag, name])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(code), "{flag} {name}");
        assert_eq!(stderr(&out), expected);
        assert!(
            !alerts.exists(),
            "{flag} {name}: nothing opened, nothing read"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn version_names_revision_and_features() {
    let out = cleartrace(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0],
        format!("cleartrace {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(lines[1].starts_with("revision: "), "{text}");
    assert_ne!(lines[1], "revision: ", "{text}");
    if cfg!(feature = "live") {
        assert_eq!(lines[2], "features: live");
    } else {
        assert_eq!(
            lines[2],
            "features: none; live capture is not built in (rebuild with `cargo build --release --features live`, which needs libpcap-dev)"
        );
        let out = cleartrace(&["live", "-i", "eth0"]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            stderr(&out),
            "error: `live` is not in this build: rebuild with `cargo build --release --features live`, which needs libpcap-dev\n"
        );
    }
}

#[test]
fn verbose_has_a_long_form() {
    let dir = common::tempdir();
    let alerts = dir.join("a.json").display().to_string();
    let out = analyze_cmd(&["--alerts", &alerts, "--verbose"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_summary_uses_one_unit_convention() {
    let out = analyze_cmd(&["--alerts", "/dev/null"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    let size = std::fs::metadata(pcap("ftp.pcap")).expect("size").len();
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("cleartrace: 19 packets, ")
            && first.contains(&format!(
                " of packet data (from {} of capture files) in ",
                cleartrace::output::summary::binary_bytes(size)
            )),
        "{err}"
    );
    assert!(
        err.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("peak memory: ") && l.ends_with(" B)")),
        "{err}"
    );
    for decimal in [" kB", " KB", " MB", " GB", "RSS KiB"] {
        assert!(!err.contains(decimal), "{decimal} in {err}");
    }
}

#[test]
fn man_pages_and_completions_come_from_the_definitions() {
    let dir = common::tempdir();
    let man = dir.join("man1");
    let out = cleartrace(&["generate", "man", &man.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for page in [
        "cleartrace.1",
        "cleartrace-analyze.1",
        "cleartrace-live.1",
        "cleartrace-signatures-check.1",
    ] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_default();
        assert!(
            text.starts_with(".ie ") || text.contains(".TH "),
            "{page}: {text}"
        );
    }
    let analyze = std::fs::read_to_string(man.join("cleartrace-analyze.1")).unwrap_or_default();
    for flag in ["alerts", "bpf", "verbose", "fail\\-on"] {
        assert!(
            analyze.contains(&format!("\\-\\-{flag}")),
            "{flag} not in the page"
        );
    }
    for (shell, needle) in [
        ("bash", "--bpf"),
        ("zsh", "--bpf"),
        ("fish", "-l bpf"),
        ("elvish", "--bpf"),
        ("powershell", "--bpf"),
    ] {
        let out = cleartrace(&["generate", "completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains(needle) && script.contains("analyze"),
            "{shell}: {script}"
        );
    }
    let out = cleartrace(&["generate", "completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(not(feature = "live"))]
#[test]
fn bpf_in_a_default_build_says_how_to_get_it() {
    let out = analyze_cmd(&["--bpf", "tcp port 21"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: --bpf uses libpcap's filter compiler, which this build leaves out: rebuild \
         with `cargo build --release --features live` (needs libpcap-dev)\n"
    );
}

/// Frames analysed with `--bpf EXPR`: the summary's packets less those not selected.
#[cfg(feature = "live")]
fn selected(capture: &str, expression: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args([
            "analyze",
            "--alerts",
            "/dev/null",
            "--bpf",
            expression,
            capture,
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let number = |prefix: &str, after: &str| -> u64 {
        err.split(prefix)
            .nth(1)
            .and_then(|rest| rest.split(after).next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    number("cleartrace: ", " packets") - number("frames not selected by --bpf: ", "\n")
}

#[cfg(feature = "live")]
#[test]
fn bpf_selects_what_tcpdump_selects() {
    let cases = [
        ("ftp.pcap", "tcp port 21"),
        ("ftp.pcap", "tcp[tcpflags] & tcp-syn != 0"),
        ("sip-udp-g711-dtmf.pcap", "udp and not port 5060"),
        (
            "sip-udp-g711-dtmf.pcap",
            "host 127.0.0.1 and portrange 10000-20000",
        ),
    ];
    let tcpdump = Command::new("tcpdump").arg("--version").output().is_ok();
    for (capture, expression) in cases {
        let path = pcap(capture);
        let ours = selected(&path, expression);
        if tcpdump {
            let out = Command::new("tcpdump")
                .args(["-nn", "-r", &path, expression])
                .output()
                .expect("tcpdump");
            let theirs = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
            assert_eq!(ours, theirs, "{capture}: {expression}");
        }
    }
    assert!(selected(&pcap("ftp.pcap"), "udp") == 0);
    // One program per link type: Ethernet and Linux cooked frames in one pcapng (which
    // tcpdump refuses to read; tshark counts 20 TCP frames of each).
    assert_eq!(selected(&pcap("mixed-linktypes.pcapng"), "tcp"), 40);
    assert_eq!(selected(&pcap("mixed-linktypes.pcapng"), "tcp port 9"), 0);
    let out = analyze_cmd(&["--bpf", "tcp prot 21"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: --bpf \"tcp prot 21\": "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_input_is_an_error_before_anything_runs() {
    let dir = common::tempdir();
    let alerts = dir.join("a.json");
    let missing = dir.join("nothere.pcap").display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args(["analyze", &pcap("ftp.pcap"), &missing, "--alerts"])
        .arg(&alerts)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("error: {missing}: cannot open: No such file or directory (os error 2)\n"),
        "once, and no summary: nothing was analysed"
    );
    assert!(!alerts.exists(), "no output opened");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn signatures_check_without_a_directory_checks_the_built_in_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_cleartrace"))
        .args(["signatures", "check"])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("built-in signatures: ok (") && text.contains(" patterns in force)"),
        "{text}"
    );
}

#[test]
fn one_file_named_two_ways_is_one_output() {
    let dir = common::tempdir();
    let plain = dir.join("eve.json").display().to_string();
    let dotted = dir.join(".").join("eve.json").display().to_string();
    let out = analyze_cmd(&["-q", "--alerts", &plain, "--flows", &dotted])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&plain).expect("eve");
    let kinds: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.contains("\"event_type\":\"alert\"") {
                "alert"
            } else {
                "flow"
            }
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["alert", "flow"],
        "one stream, both kinds: {text}"
    );

    let report = dir.join("r.json").display().to_string();
    let report_too = dir.join(".").join("r.json").display().to_string();
    let out = analyze_cmd(&["-q", "--alerts", &report, "--report", &report_too])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: --report {report_too} is also named by --alerts: give each output its own file\n"
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}
