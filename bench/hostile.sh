#!/usr/bin/env bash
# The sensor under attack (issue "Hostile traffic", DESIGN §8): builds each attack
# capture at scale with examples/hostile.rs (the same builders tests/hostile.rs runs at
# small scale), runs `cleartrace analyze` on it and prints, per attack, wall time,
# packets/s, MB/s, peak RSS next to the memory budget, and what was shed. A synthetic
# telephony capture of the same order of size gives the normal rate to compare with.
#
#   bench/hostile.sh                      # full scale (about 3 GB of captures in $DIR)
#   bench/hostile.sh --scale small        # a quick look (a few MB)
#   bench/hostile.sh --before /path/to/old/cleartrace   # adds the old binary's figures
#
# Captures go to $DIR (default /tmp/cleartrace-hostile) and are made again each run.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=full
before=""
dir=${DIR:-/tmp/cleartrace-hostile}
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: $0 [--scale small|full] [--before BINARY] [--dir DIR]" >&2; exit 2 ;;
  esac
done
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }

cargo build --release --quiet --example hostile --example synth
cargo build --release --quiet
now=target/release/cleartrace
gen=target/release/examples/hostile
mkdir -p "$dir"

# name, attack, scale (full), scale (small), extra configuration
attacks=(
  "fragment duplicates|fragment-duplicates|100000|5000|"
  "fragment flood (IPv4+IPv6)|fragment-flood|200000|5000|"
  "gap-blocked TCP flows|gap-flows|2000|40|"
  "unfinished HTTP heads|open-http-heads|10000|200|"
  "unfinished PostgreSQL / MySQL messages|open-database-messages|10000|200|"
  "Basic among many headers|many-headers|5000|127|"
  "Basic before a huge head|huge-head|1000000|100000|"
  "HTTP header, 1 byte/segment|slow-header|65536|8192|"
  "SIP message, 1 byte/segment|slow-sip|60000|8192|"
  "eviction churn (max_flows 64)|eviction-churn|1000|20|[flow]\nmax_flows = 64"
)

cfg_default="$dir/default.toml"
: > "$cfg_default"
budget_mib=$(awk -F'= *' '/^budget_mib/ {print $2}' cleartrace.example.toml 2>/dev/null | head -1)
budget_mib=${budget_mib:-256}

# One run: wall seconds, peak RSS KiB, alert lines, and the summary's shed lines.
run() {
  local bin=$1 file=$2 config=$3 out="$dir/run.out" alerts="$dir/run.alerts"
  /usr/bin/time -f "%e %M" -o "$dir/time" "$bin" analyze "$file" --config "$config" \
    --alerts "$alerts" 2> "$out" || true
  read -r wall rss < "$dir/time"
  local shed
  shed=$(grep -oE 'shed: [a-z ]+: [0-9,]+' "$out" | sed 's/shed: //' | paste -sd';' - || true)
  echo "$wall $rss $(wc -l < "$alerts") ${shed:--}"
}

row() {
  local label=$1 file=$2 config=$3 packets=$4 bytes=$5
  local cells="| $label | $(printf "%'d" "$packets") |"
  for bin in $before $now; do
    read -r wall rss alerts shed <<< "$(run "$bin" "$file" "$config")"
    local pps mbs
    pps=$(awk -v p="$packets" -v w="$wall" 'BEGIN { printf "%\047d", (w > 0 ? p / w : p / 0.01) }')
    mbs=$(awk -v b="$bytes" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? b / w : b / 0.01) / 1e6 }')
    cells="$cells $wall | $pps | $mbs | $((rss / 1024)) | $alerts | ${shed//;/, } |"
  done
  echo "$cells"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); budget ${budget_mib} MiB per engine; scale $scale"
header="| attack | packets |"
sep="|---|---:|"
for bin in $before $now; do
  tag=$([ "$bin" = "$now" ] && echo now || echo before)
  header="$header $tag s | $tag packets/s | $tag MB/s | $tag peak RSS MiB | $tag alerts | $tag shed |"
  sep="$sep---:|---:|---:|---:|---:|---|"
done
echo "$header"
echo "$sep"

normal="$dir/normal.pcap"
[ "$scale" = small ] && size=20M || size=300M
target/release/examples/synth --size "$size" -o "$normal" 2>/dev/null
packets=$("$now" analyze "$normal" --alerts /dev/null 2>&1 | grep -oE '[0-9,]+ packets' | head -1 | tr -d ', packets')
row "normal: synthetic telephony mix" "$normal" "$cfg_default" "$packets" "$(stat -c %s "$normal")"

for entry in "${attacks[@]}"; do
  IFS='|' read -r label attack full small config <<< "$entry"
  n=$([ "$scale" = small ] && echo "$small" || echo "$full")
  file="$dir/$attack.pcap"
  frames=$("$gen" "$attack" "$n" "$file" 2>&1 | grep -oE '[0-9]+ frames' | grep -oE '[0-9]+')
  cfg="$dir/$attack.toml"
  printf '%b\n' "$config" > "$cfg"
  row "$label × $(printf "%'d" "$n")" "$file" "$cfg" "$frames" "$(stat -c %s "$file")"
done
