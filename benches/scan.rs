//! Personal-data scanner throughput on cleartext without personal data (the common
//! case the prefilter must make cheap) and with some.

use cleartrace::personal_data::{Field, Scanner};
use cleartrace::signatures::Signatures;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// About 1 MiB of protocol-like text: HTTP heads, HTML, log lines, SIP-like headers,
/// with the digits such traffic has (dates, versions, lengths) but no personal data.
fn clean_text() -> Vec<u8> {
    let pieces = [
        "GET /static/app.js?v=20261122 HTTP/1.1\r\nHost: portal.example.test\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5120\r\nCache-Control: max-age=3600\r\n\r\n",
        "<div class=\"panel\"><h2>Extension status</h2><p>All 24 lines registered; last sync at 12:30:05.</p><ul><li>Trunk 3: up</li><li>Gateway 7: up</li></ul></div>\n",
        "Nov 22 20:51:48 pbx01 asterisk[2210]: NOTICE chan_sip.c:2451 Peer 'trunk-a' is now Reachable. (14ms / 2000ms)\n",
        "Via: SIP/2.0/UDP 10.0.0.12:5060;branch=z9hG4bK776asdhds;rport\r\nCSeq: 314159 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n",
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < 1 << 20 {
        out.extend_from_slice(pieces[i % pieces.len()].as_bytes());
        i += 1;
    }
    out
}

/// About 1 MiB of prose-like HTML, the body of a typical portal page.
fn prose() -> Vec<u8> {
    let piece = "<p class=\"help\">The provisioning server hands each handset its configuration \
        when it starts. Changes made here take effect after the next restart of the phone; \
        select the devices in the list below and choose <em>Restart</em> to apply them now. \
        Directory look-ups use the settings of the directory tab.</p>\n";
    piece
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect()
}

fn scan(c: &mut Criterion) {
    let scanner = Scanner::new(Signatures::builtin().patterns);
    let clean = clean_text();
    let mut dirty = clean.clone();
    for (at, pd) in [
        (1000usize, &b" card 4111 1111 1111 1111 "[..]),
        (500_000, b" mail alice@example.com "),
        (900_000, b" password=hunter2 "),
    ] {
        dirty.splice(at..at, pd.iter().copied());
    }
    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Bytes(clean.len() as u64));
    group.bench_function("clean_text_1MiB", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            scanner.scan(&clean, Field::Text, "http", &mut out);
            out.len()
        })
    });
    let page = prose();
    group.bench_function("clean_prose_1MiB", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            scanner.scan(&page, Field::Text, "http", &mut out);
            out.len()
        })
    });
    group.bench_function("text_with_3_findings_1MiB", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            scanner.scan(&dirty, Field::Text, "http", &mut out);
            assert_eq!(out.len(), 3);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
