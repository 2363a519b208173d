#!/usr/bin/env bash
# Do two cleartrace binaries give the same output? For refactors that must not change
# behaviour: runs OLD and NEW over every capture in pcaps/ and in ../shared/corpus
# (one run per capture), and over each of the two folders as one batch, and compares
# alerts (EVE lines), flow records, the JSON report and the metrics text, plus the exit
# status. Prints PASS or FAIL (with the first lines of each difference); exit 0 on PASS.
#
#   bench/same-output.sh OLD_BIN NEW_BIN [CAPTURE_OR_FOLDER...]
#
# With SAME_OUTPUT_WORKERS=N both binaries run with `--workers N`. Worker threads
# write in the order they finish, so the alert and flow lines are then compared
# sorted, and the report is left out: its evidence samples follow that order too.
#
# Default inputs: pcaps/ and ../shared/corpus/pcaps (relative to the repository root).
# Two things differ between runs of the same binary and are normalised away: the
# report's `generated_at` line, and the order of the metrics lines (sorted before the
# comparison; the exposition order follows a hash map).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 OLD_BIN NEW_BIN [CAPTURE_OR_FOLDER...]" >&2
    exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -gt 0 ]]; then
    inputs=("$@")
else
    inputs=("$root/pcaps" "$root/../shared/corpus/pcaps")
fi
for bin in "$old" "$new"; do
    [[ -x $bin ]] || { echo "not an executable: $bin" >&2; exit 2; }
done

workers=()
if [[ -n ${SAME_OUTPUT_WORKERS:-} ]]; then
    workers=(--workers "$SAME_OUTPUT_WORKERS")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run BIN OUTDIR PATH...: one analyze run; its four outputs and exit status into OUTDIR.
run() {
    local bin=$1 out=$2
    shift 2
    mkdir -p "$out"
    local rc=0
    "$bin" analyze -q --alerts "$out/alerts.jsonl" --flows "$out/flows.jsonl" \
        --metrics "$out/metrics.raw.prom" --report "$out/report.raw.json" "${workers[@]}" "$@" \
        2>"$out/stderr" || rc=$?
    echo "$rc" >"$out/status"
    if [[ ${#workers[@]} -gt 0 ]]; then
        local f
        for f in alerts.jsonl flows.jsonl; do
            if [[ -f $out/$f ]]; then sort -o "$out/$f" "$out/$f"; fi
        done
        if [[ -f $out/report.raw.json ]]; then echo "left out" >"$out/report.raw.json"; fi
    fi
    if [[ -f $out/metrics.raw.prom ]]; then sort "$out/metrics.raw.prom" >"$out/metrics.prom"; fi
    if [[ -f $out/report.raw.json ]]; then
        grep -v '^  "generated_at": ' "$out/report.raw.json" >"$out/report.json"
    fi
    rm -f "$out/metrics.raw.prom" "$out/report.raw.json"
}

runs=0
failed=0
# compare NAME PATH...: run both binaries on PATH... and diff what they wrote.
compare() {
    local name=$1
    shift
    local dir="$work/$runs"
    runs=$((runs + 1))
    run "$old" "$dir/old" "$@"
    run "$new" "$dir/new" "$@"
    # A run that did not get to write its outputs compares nothing: a failure.
    local side
    for side in old new; do
        if [[ ! -f $dir/$side/alerts.jsonl || ! -f $dir/$side/metrics.prom || ! -f $dir/$side/report.json ]]; then
            failed=$((failed + 1))
            echo "DID NOT RUN: $name ($side binary, exit status $(cat "$dir/$side/status")):"
            head -n 3 "$dir/$side/stderr" | sed 's/^/    /'
        fi
    done
    local f
    for f in status alerts.jsonl flows.jsonl report.json metrics.prom; do
        if [[ ! -e $dir/old/$f && ! -e $dir/new/$f ]]; then continue; fi
        if ! diff -q "$dir/old/$f" "$dir/new/$f" >/dev/null 2>&1; then
            failed=$((failed + 1))
            echo "DIFFERS: $name: $f"
            diff "$dir/old/$f" "$dir/new/$f" 2>&1 | head -n 8 | sed 's/^/    /'
        fi
    done
    rm -rf "$dir"
}

captures=0
for input in "${inputs[@]}"; do
    if [[ -d $input ]]; then
        while IFS= read -r -d '' capture; do
            compare "$capture" "$capture"
            captures=$((captures + 1))
        done < <(find "$input" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 | sort -z)
        compare "batch $input" "$input"
    else
        compare "$input" "$input"
        captures=$((captures + 1))
    fi
done

if [[ $failed -eq 0 ]]; then
    echo "PASS: $captures captures and ${#inputs[@]} batches, $runs runs per binary: alerts, flows, report JSON, metrics and exit status identical"
else
    echo "FAIL: $failed differing outputs over $runs runs ($captures captures)"
    exit 1
fi
