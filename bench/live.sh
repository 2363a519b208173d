#!/usr/bin/env bash
# What packet rate the live sensor sustains without drops, per worker count, and what
# each packet costs it: a capture is replayed with tcpreplay at rising rates while
# `cleartrace live` runs, and after each replay the sensor's own counters say what it
# saw and what it lost (kernel buffer, interface, worker queues), and /proc says how
# much CPU time its capture thread and its workers spent per packet seen. Needs root.
#
#   bench/live.sh [-n] [-w "1 2"] [-r "50000 100000 200000 400000 topspeed"] CAPTURE
#
# By default the replay goes onto lo. With -n it goes over a veth pair between network
# namespaces, as from a mirror port: tcpreplay sends on ct-gen inside namespace
# ct-bench, the sensor captures its peer ct-sensor in this one (both removed at exit).
#
# The capture should use addresses that are not local (the synthetic generator's are
# not): the kernel then drops the replayed frames instead of answering them. The
# generator shares the machine's cores with the sensor, so on a small machine the
# CPU time per packet is the figure that carries to bigger ones.
set -euo pipefail
cd "$(dirname "$0")/.."

workers_list="1 2"
rates="50000 100000 200000 400000 topspeed"
veth=0
while getopts "nw:r:" opt; do
    case $opt in
        n) veth=1 ;;
        w) workers_list=$OPTARG ;;
        r) rates=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
capture=${1:?usage: bench/live.sh [-n] [-w workers] [-r rates] CAPTURE}
[ "$(id -u)" = 0 ] || { echo "bench/live.sh: must run as root" >&2; exit 1; }

cargo build --release --features live --quiet
bin=target/release/cleartrace
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metric() { curl -sf "127.0.0.1:$port/metrics" | awk -v m="$1" '$1==m{print $2}'; }
stage() { curl -sf "127.0.0.1:$port/metrics" | awk -v s="stage=\"$1\"" 'index($0, "cleartrace_capture_dropped_packets_total{" s "}")==1{print $2}'; }
# CPU clock ticks (user + system) of the sensor's threads whose name matches $2.
ticks() {
    local total=0 task name
    for task in /proc/"$1"/task/*; do
        name=$(cat "$task/comm" 2>/dev/null) || continue
        [[ $name =~ $2 ]] || continue
        total=$((total + $(awk '{ print $14 + $15 }' "$task/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

if ((veth)); then
    ip netns add ct-bench
    trap 'ip link del ct-sensor 2>/dev/null; ip netns del ct-bench 2>/dev/null' EXIT
    ip link add ct-sensor type veth peer name ct-gen netns ct-bench
    ip link set ct-sensor up
    ip -n ct-bench link set ct-gen up
    iface=ct-sensor
    replay=(ip netns exec ct-bench tcpreplay -i ct-gen)
    bpf=()
else
    iface=lo
    replay=(tcpreplay -i lo)
    bpf=(--bpf "not tcp port $port")
fi

echo "capture: $capture ($(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')); replayed onto $iface; load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| workers | replay rate asked | replayed packets/s | packets seen | dropped kernel | dropped queue | capture thread µs/packet | workers µs/packet |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for workers in $workers_list; do
    for rate in $rates; do
        "$bin" live -i "$iface" "${bpf[@]}" --listen "127.0.0.1:$port" \
            --workers "$workers" --alerts /dev/null -q &
        pid=$!
        for _ in $(seq 50); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
        capture0=$(ticks "$pid" '^cleartrace-capt')
        workers0=$(ticks "$pid" '^cleartrace-work')
        if [ "$rate" = topspeed ]; then speed=(--topspeed); else speed=(--pps "$rate"); fi
        replayed=$("${replay[@]}" "${speed[@]}" "$capture" 2>/dev/null |
            awk '/Rated:/{for(i=1;i<=NF;i++) if($i ~ /pps/) print $(i-1)}' | tr -d ',' | head -1)
        sleep 2
        capture1=$(ticks "$pid" '^cleartrace-capt')
        workers1=$(ticks "$pid" '^cleartrace-work')
        seen=$(metric cleartrace_packets_total)
        kernel=$(stage kernel)
        queue=$(stage queue)
        kill -TERM "$pid"
        wait "$pid" || true
        awk -v w="$workers" -v r="$rate" -v p="${replayed:-0}" -v s="${seen:-0}" -v k="$kernel" \
            -v q="$queue" -v c=$((capture1 - capture0)) -v t=$((workers1 - workers0)) -v hz="$hz" 'BEGIN {
            per = (s > 0) ? 1e6 / hz / s : 0
            printf "| %s | %s | %.0f | %s | %s | %s | %.2f | %.2f |\n", w, r, p, s, k, q, c * per, t * per }'
    done
done
echo
echo "CPU time from /proc/PID/task/*/stat (utime + stime, 1/$hz s ticks) over the replay and 2 s after, divided by the packets seen."
