#!/usr/bin/env bash
# What packet rate the live sensor sustains without drops, per worker count: a capture
# is replayed onto lo with tcpreplay at rising rates while `cleartrace live -i lo` runs,
# and after each replay the sensor's own counters say what it saw and what it lost
# (kernel buffer, interface, worker queues). Needs root.
#
#   bench/live.sh [-w "1 2"] [-r "50000 100000 200000 400000 topspeed"] CAPTURE
#
# The capture should use addresses that are not local (the synthetic generator's are
# not): the kernel then drops the replayed frames instead of answering them.
set -euo pipefail
cd "$(dirname "$0")/.."

workers_list="1 2"
rates="50000 100000 200000 400000 topspeed"
while getopts "w:r:" opt; do
    case $opt in
        w) workers_list=$OPTARG ;;
        r) rates=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
capture=${1:?usage: bench/live.sh [-w workers] [-r rates] CAPTURE}
[ "$(id -u)" = 0 ] || { echo "bench/live.sh: must run as root" >&2; exit 1; }

cargo build --release --features live --quiet
bin=target/release/cleartrace
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metric() { curl -sf "127.0.0.1:$port/metrics" | awk -v m="$1" '$1==m{print $2}'; }
stage() { curl -sf "127.0.0.1:$port/metrics" | awk -v s="stage=\"$1\"" 'index($0, "cleartrace_capture_dropped_packets_total{" s "}")==1{print $2}'; }

echo "capture: $capture ($(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo
echo "| workers | replay rate asked | replayed packets/s | packets seen | dropped kernel | dropped queue |"
echo "|---:|---:|---:|---:|---:|---:|"
for workers in $workers_list; do
    for rate in $rates; do
        "$bin" live -i lo --bpf "not tcp port $port" --listen "127.0.0.1:$port" \
            --workers "$workers" --alerts /dev/null -q &
        pid=$!
        for _ in $(seq 50); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
        if [ "$rate" = topspeed ]; then speed=(--topspeed); else speed=(--pps "$rate"); fi
        replayed=$(tcpreplay -i lo "${speed[@]}" "$capture" 2>/dev/null |
            awk '/Rated:/{for(i=1;i<=NF;i++) if($i ~ /pps/) print $(i-1)}' | tr -d ',' | head -1)
        sleep 2
        seen=$(metric cleartrace_packets_total)
        kernel=$(stage kernel)
        queue=$(stage queue)
        kill -TERM "$pid"
        wait "$pid" || true
        printf '| %s | %s | %.0f | %s | %s | %s |\n' "$workers" "$rate" "${replayed:-0}" "$seen" "$kernel" "$queue"
    done
done
