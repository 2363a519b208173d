#!/usr/bin/env bash
# compare.sh: cleartrace vs ndpiReader vs tshark on the same captures, side by side.
#
# Usage: bench/compare.sh [-r RUNS] [-w "1 2"] CAPTURE...
#
# For each capture: packets and captured bytes (from the pcap/pcapng record headers),
# then RUNS timed runs of each tool (wall seconds and peak RSS via GNU time), reporting
# the median, as a Markdown table on stdout. Progress goes to stderr. See bench/README.md
# for what each column means.
#
# Environment:
#   CLEARTRACE   sensor binary (default: <repo>/target/release/cleartrace, built with
#                `cargo build --release` if missing)
#   NDPI         ndpiReader binary (default: ndpiReader)
#   TSHARK       tshark binary (default: tshark)
#   TSHARK_RUNS  runs for tshark (default: RUNS, or 1 for captures over 500 MB)
#   GNU_TIME     GNU time (default: /usr/bin/time)
set -euo pipefail
export LC_ALL=C

usage() {
    cat <<'EOF'
Usage: bench/compare.sh [-r RUNS] [-w "1 2"] CAPTURE...

  -r RUNS   timed runs per tool and capture; the median is reported (default 3)
  -w LIST   worker counts for extra `cleartrace analyze --workers N` rows, if the
            binary has --workers (default "1 2"; "" for none)

Env: CLEARTRACE, NDPI, TSHARK, TSHARK_RUNS, GNU_TIME (see the head of this script).
EOF
}

die() {
    echo "compare.sh: $*" >&2
    exit 2
}

RUNS=3
WORKERS="1 2"
while getopts ":r:w:h" opt; do
    case $opt in
    r) RUNS=$OPTARG ;;
    w) WORKERS=$OPTARG ;;
    h)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || {
    usage >&2
    exit 2
}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "-r wants a positive integer, not '$RUNS'"
for w in $WORKERS; do
    [[ $w =~ ^[1-9][0-9]*$ ]] || die "-w wants positive integers, not '$w'"
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
default_ct="$repo/target/release/cleartrace"
CLEARTRACE=${CLEARTRACE:-$default_ct}
NDPI=${NDPI:-ndpiReader}
TSHARK=${TSHARK:-tshark}
GNU_TIME=${GNU_TIME:-/usr/bin/time}

[[ -x $GNU_TIME ]] || die "GNU time not found at $GNU_TIME (apt-get install time)"
if [[ ! -x $CLEARTRACE ]]; then
    [[ $CLEARTRACE == "$default_ct" ]] || die "CLEARTRACE=$CLEARTRACE is not executable"
    echo "compare.sh: building cleartrace (cargo build --release) ..." >&2
    (cd "$repo" && cargo build --release >&2)
fi
have_ndpi=1
command -v "$NDPI" >/dev/null 2>&1 || {
    have_ndpi=0
    echo "compare.sh: $NDPI not found, skipping it" >&2
}
have_tshark=1
command -v "$TSHARK" >/dev/null 2>&1 || {
    have_tshark=0
    echo "compare.sh: $TSHARK not found, skipping it" >&2
}
ct_workers=0
if "$CLEARTRACE" analyze --help 2>/dev/null | grep -q -- '--workers'; then
    ct_workers=1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# packets, captured bytes (sum of record caplen) and traffic span in seconds.
capture_stats() {
    local f=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$f" <<'PY'
import mmap, struct, sys
path = sys.argv[1]
with open(path, "rb") as fh:
    m = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    size = len(m)
    magic = m[:4]
    n = cap = 0
    first = last = None
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        div = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
        rec = struct.Struct(e + "IIII")
        off = 24
        while off + 16 <= size:
            s, frac, incl, _ = rec.unpack_from(m, off)
            t = s + frac / div
            if first is None:
                first = t
            last = t
            n += 1
            cap += incl
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        off = 0
        e = "<"
        res = []  # per-interface timestamp units per second
        while off + 12 <= size:
            btype = struct.unpack_from(e + "I", m, off)[0]
            if btype == 0x0A0D0D0A:
                e = "<" if m[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                res = []
            blen = struct.unpack_from(e + "I", m, off + 4)[0]
            if blen < 12:
                break
            if btype == 1:  # IDB: look for if_tsresol
                units, o = 1e6, off + 16
                while o + 4 <= off + blen - 4:
                    code, ln = struct.unpack_from(e + "HH", m, o)
                    if code == 0:
                        break
                    if code == 9 and ln >= 1:
                        v = m[o + 4]
                        units = 2.0 ** (v & 0x7F) if v & 0x80 else 10.0 ** v
                    o += 4 + (ln + 3) // 4 * 4
                res.append(units)
            elif btype == 6:  # EPB
                ifid, hi, lo, incl = struct.unpack_from(e + "IIII", m, off + 8)
                t = ((hi << 32) | lo) / (res[ifid] if ifid < len(res) else 1e6)
                if first is None:
                    first = t
                last = t
                n += 1
                cap += incl
            elif btype == 3:  # SPB
                orig = struct.unpack_from(e + "I", m, off + 8)[0]
                n += 1
                cap += min(orig, blen - 16)
            off += blen
    else:
        sys.exit("not a pcap or pcapng file: " + path)
    span = (last - first) if first is not None else 0.0
    print(n, cap, "%.3f" % span)
PY
    else
        # Classic pcap only: captured bytes from the file size.
        local n size
        n=$(capinfos -c -M "$f" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
        size=$(stat -c %s "$f")
        echo "$n $((size - 24 - 16 * n)) 0"
    fi
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.6f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# One timed run: sets WALL (s), CPU (user + system s, all threads) and RSS (KiB); the
# tool's stdout+stderr go to $LOG.
LOG="$tmp/log"
timed() {
    local t0 t1
    t0=$EPOCHREALTIME
    if ! "$GNU_TIME" -f '%M %U %S' -o "$tmp/time" "$@" >"$LOG" 2>&1; then
        echo "compare.sh: failed: $*" >&2
        tail -n 5 "$LOG" >&2
        return 1
    fi
    t1=$EPOCHREALTIME
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    read -r RSS CPU < <(tail -n 1 "$tmp/time" | awk '{ print $1, $2 + $3 }')
}

# Checks the packet count a tool reported in $LOG (warns on mismatch).
check_count() {
    local tool=$1 got=$2 want=$3
    if [[ -z $got ]]; then
        echo "compare.sh: warning: $tool reported no packet count" >&2
    elif [[ $got != "$want" ]]; then
        local w
        w="$tool saw $got of $want packets in $(basename "$cap")"
        echo "compare.sh: WARNING: $w" >&2
        [[ " ${WARNINGS[*]-} " == *" $w "* ]] || WARNINGS+=("$w")
    fi
}

# measure NAME RUNS CMD... : appends "NAME|runs|median wall|median rss KiB|median cpu"
# to ROWS.
measure() {
    local name=$1 runs=$2
    shift 2
    local walls=() rsss=() cpus=() i got
    for ((i = 1; i <= runs; i++)); do
        echo "compare.sh: $(basename "$cap"): $name run $i/$runs" >&2
        timed "$@" || {
            ROWS+=("$name|$runs|FAILED|0|0")
            return 0
        }
        walls+=("$WALL")
        rsss+=("$RSS")
        cpus+=("$CPU")
        case $name in
        ndpiReader)
            got=$(awk '/packets total/ { print $(NF - 2) }' "$LOG")
            check_count "$name" "$got" "$packets"
            ;;
        tshark)
            got=$(awk '/^[^ =]/ && NF > 1 { for (i = 2; i <= NF; i++) if ($i ~ /^frames:/) { sub(/frames:/, "", $i); n += $i } } END { print n }' "$LOG")
            check_count "$name" "$got" "$packets"
            ;;
        esac
    done
    ROWS+=("$name|$runs|$(median "${walls[@]}")|$(median "${rsss[@]}")|$(median "${cpus[@]}")")
}

# --- machine -------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
ct_ver=$("$CLEARTRACE" --version 2>/dev/null | head -n 1 || true)
ct_git=$(git -C "$repo" describe --always --dirty 2>/dev/null || true)
echo "## Machine"
echo
echo "- CPU: ${cpu:-unknown}, nproc $(nproc)"
echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "- kernel: $(uname -sr)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- cleartrace: ${ct_ver:-?} ($CLEARTRACE${ct_git:+, tree $ct_git})"
if ((have_ndpi)); then
    echo "- ndpiReader: $("$NDPI" -h 2>&1 | grep -o 'nDPI [0-9][0-9.]*' | head -n 1 || true)"
fi
if ((have_tshark)); then
    echo "- tshark: $("$TSHARK" --version 2>/dev/null | head -n 1 || true)"
fi
echo "- runs: $RUNS per tool (median reported)"
echo

WARNINGS=()
for cap in "$@"; do
    [[ -r $cap ]] || die "cannot read $cap"
    read -r packets capbytes span < <(capture_stats "$cap")
    [[ $packets -gt 0 ]] || die "$cap holds no packets"
    fsize=$(stat -c %s "$cap")
    echo "compare.sh: $(basename "$cap"): $packets packets; warming the page cache" >&2
    cat "$cap" >/dev/null
    # One untimed run with the summary on: the sensor must have read every packet.
    if "$CLEARTRACE" analyze --alerts /dev/null "$cap" >/dev/null 2>"$LOG"; then
        check_count cleartrace "$(awk '/^cleartrace: [0-9]+ packets/ { print $2; exit }' "$LOG")" "$packets"
    else
        echo "compare.sh: warning: cleartrace failed on $cap (see below)" >&2
        tail -n 5 "$LOG" >&2
    fi

    ROWS=()
    measure cleartrace "$RUNS" "$CLEARTRACE" analyze -q --alerts /dev/null "$cap"
    if ((ct_workers)); then
        for w in $WORKERS; do
            measure "cleartrace --workers $w" "$RUNS" \
                "$CLEARTRACE" analyze -q --alerts /dev/null --workers "$w" "$cap"
        done
    fi
    if ((ct_workers)) && [[ -n $WORKERS ]]; then
        # What the machine gives two threads: two independent engines at once on the
        # same file share nothing but the cores, caches and memory. `--workers 2`
        # cannot scale past this (on a 2-vCPU VM, often well below 2x).
        measure "2 × cleartrace at once" "$RUNS" bash -c \
            '"$0" analyze -q --alerts /dev/null "$1" & a=$!; "$0" analyze -q --alerts /dev/null "$1" & b=$!; wait $a && wait $b' \
            "$CLEARTRACE" "$cap"
    fi
    if ((have_ndpi)); then
        measure ndpiReader "$RUNS" "$NDPI" -i "$cap"
    fi
    if ((have_tshark)); then
        truns=${TSHARK_RUNS:-}
        if [[ -z $truns ]]; then
            truns=$RUNS
            ((fsize <= 500000000)) || truns=1
        fi
        measure tshark "$truns" "$TSHARK" -n -r "$cap" -q -z io,phs
    fi

    echo "### $(basename "$cap")"
    echo
    awk -v p="$packets" -v b="$capbytes" -v f="$fsize" -v s="$span" 'BEGIN {
        printf "%d packets, %.1f MB captured (file %.1f MB), %.1f s of traffic\n\n", p, b / 1e6, f / 1e6, s }'
    printf '%s\n' "${ROWS[@]}" | awk -F'|' -v p="$packets" -v b="$capbytes" '
        function human(x) {
            if (x >= 1e6) return sprintf("%.2f M", x / 1e6)
            if (x >= 1e3) return sprintf("%.1f k", x / 1e3)
            return sprintf("%.0f", x)
        }
        {
            name[NR] = $1; runs[NR] = $2; wall[NR] = $3; rss[NR] = $4; cpu[NR] = $5
            # Two processes at once read the capture twice.
            if ($3 != "FAILED" && $3 > 0) pps[NR] = ($1 ~ /^2 × / ? 2 : 1) * p / $3
            if ($1 == "cleartrace" && (NR in pps)) base = pps[NR]
        }
        END {
            print "| tool | runs | median wall s | median CPU s | packets/s | captured MB/s | Gbit/s | peak RSS MiB | ratio |"
            print "|---|---:|---:|---:|---:|---:|---:|---:|---|"
            for (i = 1; i <= NR; i++) {
                if (!(i in pps)) {
                    printf "| %s | %s | failed | | | | | | |\n", name[i], runs[i]
                    continue
                }
                if (name[i] == "cleartrace") ratio = "baseline"
                else if (!base) ratio = ""
                else if (name[i] ~ /^cleartrace/) ratio = sprintf("%.2f× the 1-worker speed", pps[i] / base)
                else if (name[i] ~ /^2 × cleartrace/) ratio = sprintf("%.2f× the 1-worker speed (ceiling for --workers 2)", pps[i] / base)
                else ratio = sprintf("cleartrace ×%.1f vs %s", base / pps[i], name[i])
                scale = pps[i] * wall[i] / p
                printf "| %s | %s | %.3f | %.2f | %s | %.1f | %.2f | %.1f | %s |\n", name[i], runs[i], wall[i],
                    cpu[i], human(pps[i]), scale * b / 1e6 / wall[i], scale * b * 8 / 1e9 / wall[i], rss[i] / 1024, ratio
            }
        }'
    echo
done

if ((${#WARNINGS[@]})); then
    echo "Warnings:"
    printf -- '- %s\n' "${WARNINGS[@]}"
fi
