#!/usr/bin/env bash
# The live sensor on AF_PACKET rings with fanout and two workers, fed IPv4 fragments
# (needs root). The SIP call of pcaps/sip-udp-g711-dtmf.pcap is cut into 256-byte
# fragments (tcprewrite --fragroute) and replayed over a veth pair between network
# namespaces. The kernel hashes a fragment by its addresses only and a whole datagram
# by its ports too, so without reassembly before the fanout
# (PACKET_FANOUT_FLAG_DEFRAG, as Suricata's af-packet `defrag: yes`) a flow's
# fragmented datagrams and its whole ones can reach two workers, which then each keep
# half a flow. Live must raise exactly the alerts `analyze` raises on the same file.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "tests/live-fragments.sh: must run as root" >&2; exit 1; }
for tool in tcpreplay tcprewrite curl python3; do
    command -v "$tool" >/dev/null || { echo "tests/live-fragments.sh: $tool not installed" >&2; exit 1; }
done

work=$(mktemp -d)
live_pid=
cleanup() {
    [ -z "$live_pid" ] || kill "$live_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
    ip link del ctfrag0 2>/dev/null || true
    ip netns del ctfrag 2>/dev/null || true
}
trap cleanup EXIT
# shellcheck source=tests/live-common.sh
. tests/live-common.sh

ip link del ctfrag0 2>/dev/null || true
ip netns del ctfrag 2>/dev/null || true
ip netns add ctfrag
ip link add ctfrag0 type veth peer name ctfrag1 netns ctfrag
ip link set ctfrag0 up
ip -n ctfrag link set ctfrag1 up

# Off the loopback addresses (the kernel would answer them), then fragmented.
tcprewrite --pnat='127.0.0.0/8:10.128.0.0/16' --fixcsum \
    -i pcaps/sip-udp-g711-dtmf.pcap -o "$work/moved.pcap"
echo 'ip_frag 256' >"$work/fragroute.conf"
tcprewrite --fragroute="$work/fragroute.conf" -i "$work/moved.pcap" -o "$work/fragments.pcap"
cat >"$work/config.toml" <<'EOF'
[flow]
udp_idle_timeout = 3
EOF

cargo build --release --features live --quiet
bin=target/release/cleartrace
"$bin" analyze -q --config "$work/config.toml" --alerts "$work/expected.json" \
    --flows "$work/expected-flows.json" "$work/fragments.pcap"

chmod 711 "$work"
mkdir -m 1777 "$work/out"
port=$(free_port)
"$bin" live -i ctfrag0 --capture afpacket --workers 2 --bpf 'net 10.128.0.0/16' \
    --listen "127.0.0.1:$port" --config "$work/config.toml" --alerts "$work/out/alerts.json" \
    --flows "$work/out/flows.json" --user nobody -q 2>"$work/live.err" &
live_pid=$!
wait_healthy "$port" "$work/live.err"

ip netns exec ctfrag tcpreplay -q -i ctfrag1 --multiplier 4 "$work/fragments.pcap" >/dev/null 2>&1
wait_idle "$port"
kill -TERM "$live_pid"
status=0
wait "$live_pid" || status=$?
live_pid=
[ "$status" = 0 ] || { cat "$work/live.err" >&2; fail "live exited with $status"; }

python3 - "$work/expected.json" "$work/out/alerts.json" "$work/expected-flows.json" \
    "$work/out/flows.json" <<'PY' || fail "live and analyze disagree"
import collections, json, sys

def lines(path, what):
    seen = collections.Counter()
    for line in open(path):
        e = json.loads(line)
        seen[(what(e), e.get("app_proto"), e["proto"],
              e["src_ip"], e.get("src_port"), e["dest_ip"], e.get("dest_port"))] += 1
    return seen

def same(kind, expected, live):
    for k in sorted(set(expected) | set(live), key=str):
        if expected[k] != live[k]:
            print(f"  {kind} {k}: analyze {expected[k]}, live {live[k]}")
    return expected == live

# A flow split over two workers is two flow records (each with part of the packets);
# packet counts differ anyway, the kernel handing over reassembled datagrams.
alerts = [lines(p, lambda e: e["alert"]["signature_id"]) for p in sys.argv[1:3]]
flows = [lines(p, lambda e: "flow") for p in sys.argv[3:5]]
assert same("alert", *alerts) & same("flow", *flows)
assert sum(alerts[0].values()) >= 4 and sum(flows[0].values()) >= 2, (alerts[0], flows[0])
print(f"live == analyze on fragments, 2 AF_PACKET workers: {sum(alerts[1].values())} alerts, "
      f"{sum(flows[1].values())} flows")
PY
