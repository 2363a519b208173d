//! Writes the captures that attack the sensor, at scale, for `bench/hostile.sh`:
//!
//! ```sh
//! cargo run --release --example hostile -- fragment-duplicates 100000 /tmp/a.pcap
//! ```
//!
//! The attacks are the ones `tests/hostile.rs` runs at small scale (one source:
//! `tests/common/attacks.rs`). SCALE is the attack's count: duplicates, datagrams,
//! flows, headers, bytes or rounds, as listed by `--help`.

#[path = "../tests/common/attacks.rs"]
mod attacks;

use std::io::BufWriter;
use std::process::ExitCode;

const ATTACKS: &[(&str, &str)] = &[
    (
        "fragment-duplicates",
        "duplicates of one first fragment, the middle never sent",
    ),
    ("fragment-flood", "incomplete IPv4/IPv6 datagrams"),
    (
        "gap-flows",
        "TCP flows with a lost first segment, 250 KiB waiting behind each",
    ),
    (
        "open-http-heads",
        "HTTP requests whose 60 KB header block never ends",
    ),
    (
        "many-headers",
        "short headers around one Authorization: Basic",
    ),
    (
        "huge-head",
        "bytes of header block after an Authorization: Basic",
    ),
    (
        "slow-header",
        "bytes of one HTTP header sent a byte per segment",
    ),
    (
        "slow-sip",
        "bytes of one SIP header sent a byte per segment",
    ),
    (
        "eviction-churn",
        "rounds of a Basic-auth request pushed out by 100 new flows",
    ),
];

fn write(attack: &str, scale: u32, path: &str) -> std::io::Result<Option<u64>> {
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut pcap = attacks::Pcap::new(file)?;
    match attack {
        "fragment-duplicates" => attacks::fragment_duplicates(&mut pcap, scale)?,
        "fragment-flood" => attacks::fragment_flood(&mut pcap, scale)?,
        "gap-flows" => attacks::gap_flows(&mut pcap, scale, 250 * 1024)?,
        "open-http-heads" => attacks::open_http_heads(&mut pcap, scale, 60_000)?,
        "open-database-messages" => attacks::open_database_messages(&mut pcap, scale, 30_000)?,
        "many-headers" => attacks::many_headers(&mut pcap, scale)?,
        "huge-head" => attacks::huge_head(&mut pcap, scale as usize)?,
        "slow-header" => attacks::slow_header(&mut pcap, scale as usize)?,
        "slow-sip" => attacks::slow_sip(&mut pcap, scale as usize)?,
        "eviction-churn" => attacks::eviction_churn(&mut pcap, scale, 100)?,
        _ => return Ok(None),
    }
    let frames = pcap.frames;
    std::io::Write::flush(&mut pcap.into_inner())?;
    Ok(Some(frames))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: hostile ATTACK SCALE OUT.pcap\n\nattacks (SCALE is the count of):");
        for (name, what) in ATTACKS {
            eprintln!("  {name:<20} {what}");
        }
        ExitCode::from(2)
    };
    let [attack, scale, path] = args.as_slice() else {
        return usage();
    };
    let Ok(scale) = scale.parse::<u32>() else {
        return usage();
    };
    match write(attack, scale, path) {
        Ok(Some(frames)) => {
            eprintln!("{path}: {attack} × {scale}, {frames} frames");
            ExitCode::SUCCESS
        }
        Ok(None) => usage(),
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
