#!/usr/bin/env bash
# What packet rate the live sensor sustains without drops, per capture method and
# worker count, and what each packet costs it: a capture is replayed with tcpreplay at
# rising rates while `cleartrace live` runs, and after each replay the sensor's own
# counters say what it saw and what it lost (kernel buffer or rings, interface, worker
# queues), and /proc says how much CPU time its threads spent per packet seen. Needs
# root.
#
#   bench/live.sh [-n] [-c "pcap afpacket"] [-w "1 2"] [-r "50000 100000 200000 400000 topspeed"] CAPTURE
#
# By default the replay goes onto lo. With -n it goes over a veth pair between network
# namespaces, as from a mirror port: tcpreplay sends on ct-gen inside namespace
# ct-bench, the sensor captures its peer ct-sensor in this one (both removed at exit).
#
# CPU time per packet, by thread: with libpcap the capture thread (reads libpcap,
# copies frames into batches) and the workers (decode and judge); with AF_PACKET
# each worker reads its own ring and judges in place, so its threads' time is both,
# and its capture path is estimated as that total less the libpcap workers' time at
# the same rate. The kernel's own work (softirq, the copy into the ring or buffer) is
# charged to whatever thread the CPU was running, often tcpreplay's, and is not in
# these figures.
#
# The capture should use addresses that are not local (the synthetic generator's are
# not): the kernel then drops the replayed frames instead of answering them. The
# generator shares the machine's cores with the sensor, so on a small machine the
# CPU time per packet is the figure that carries to bigger ones.
#
# Env: CLEARTRACE, a binary built with --features live (default: built here).
set -euo pipefail
cd "$(dirname "$0")/.."

captures="pcap afpacket"
workers_list="1 2"
rates="50000 100000 200000 400000 topspeed"
veth=0
while getopts "nc:w:r:" opt; do
    case $opt in
        n) veth=1 ;;
        c) captures=$OPTARG ;;
        w) workers_list=$OPTARG ;;
        r) rates=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
capture=${1:?usage: bench/live.sh [-n] [-c captures] [-w workers] [-r rates] CAPTURE}
[ "$(id -u)" = 0 ] || { echo "bench/live.sh: must run as root" >&2; exit 1; }

if [ -z "${CLEARTRACE:-}" ]; then
    cargo build --release --features live --quiet
    CLEARTRACE=target/release/cleartrace
fi
bin=$CLEARTRACE
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
    ip link add ct-sensor mtu 65535 type veth peer name ct-gen netns ct-bench mtu 65535
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
echo "| capture | workers | replay rate asked | replayed packets/s | packets seen | dropped kernel | dropped queue | capture thread µs/packet | workers µs/packet | all threads µs/packet |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A best
for method in $captures; do
    for workers in $workers_list; do
        for rate in $rates; do
            "$bin" live -i "$iface" --capture "$method" "${bpf[@]}" --listen "127.0.0.1:$port" \
                --workers "$workers" --alerts /dev/null -q &
            pid=$!
            for _ in $(seq 50); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
            capture0=$(ticks "$pid" '^cleartrace-capt')
            workers0=$(ticks "$pid" '^cleartrace-(work|ring)')
            if [ "$rate" = topspeed ]; then speed=(--topspeed); else speed=(--pps "$rate"); fi
            out=$("${replay[@]}" "${speed[@]}" "$capture" 2>/dev/null)
            replayed=$(awk '/Rated:/{for(i=1;i<=NF;i++) if($i ~ /pps/) print $(i-1)}' <<<"$out" | tr -d ',' | head -1)
            sent=$(awk '/Successful packets:/{print $3}' <<<"$out" | head -1)
            sleep 2
            capture1=$(ticks "$pid" '^cleartrace-capt')
            workers1=$(ticks "$pid" '^cleartrace-(work|ring)')
            seen=$(metric cleartrace_packets_total)
            kernel=$(stage kernel)
            queue=$(stage queue)
            kill -TERM "$pid"
            wait "$pid" || true
            row=$(awk -v m="$method" -v w="$workers" -v r="$rate" -v p="${replayed:-0}" -v s="${seen:-0}" -v k="$kernel" \
                -v q="$queue" -v c=$((capture1 - capture0)) -v t=$((workers1 - workers0)) -v hz="$hz" 'BEGIN {
                per = (s > 0) ? 1e6 / hz / s : 0
                if (m == "pcap") printf "| %s | %s | %s | %.0f | %s | %s | %s | %.2f | %.2f | %.2f |\n", m, w, r, p, s, k, q, c * per, t * per, (c + t) * per
                else printf "| %s | %s | %s | %.0f | %s | %s | %s | – | – | %.2f |\n", m, w, r, p, s, k, q, t * per }')
            echo "$row"
            # Loss-free: every frame sent was seen (on a veth pair the kernel's own
            # IPv6 neighbour discovery adds a few) and no drop was counted.
            if [ "${seen:-0}" -ge "${sent:-1}" ] && [ "${kernel:-1}" = 0 ] && [ "${queue:-1}" = 0 ] &&
                awk -v a="${replayed:-0}" -v b="${best[$method/$workers]:-0}" 'BEGIN { exit !(a + 0 > b + 0) }'; then
                best[$method/$workers]=${replayed:-0}
            fi
        done
    done
done
echo
for key in "${!best[@]}"; do
    printf -- '- highest loss-free replay rate, %s with %s worker(s): %.0f packets/s\n' "${key%/*}" "${key#*/}" "${best[$key]}"
done | sort
echo
echo "CPU time from /proc/PID/task/*/stat (utime + stime, 1/$hz s ticks) over the replay and 2 s after, divided by the packets seen. With afpacket each worker thread reads its ring and judges, so only the total is given. Loss-free: every packet tcpreplay sent was seen, no drop counted; the highest such rate is only the sensor's limit where tcpreplay could offer more."
