#!/usr/bin/env bash
# The live sensor on AF_PACKET rings with fanout and two workers (needs root), fed
# traffic whose two directions the kernel's fanout hash can put on two rings.
# Replayed over a veth pair between network namespaces; live must raise exactly the
# alerts and write exactly the flow records `analyze` does on the same files.
#
# - IPv4 fragments: the SIP call of pcaps/sip-udp-g711-dtmf.pcap cut into 256-byte
#   fragments (tcprewrite --fragroute). The kernel hashes a fragment by its addresses
#   only and a whole datagram by its ports too; without reassembly before the fanout
#   (PACKET_FANOUT_FLAG_DEFRAG, Suricata's af-packet `defrag: yes`) a flow's fragments
#   and its whole datagrams reach two workers, which each keep half a flow.
# - VXLAN with a source port per direction: pcaps/vxlan-two-tenants-sip.pcap in eight
#   tenants, each frame's outer UDP source port derived from its inner addresses,
#   ports and VNI in their order, as senders that hash the inner 5-tuple without
#   sorting it do. The kernel hashes the outer headers, so an inner flow's two
#   directions reach two rings; the workers hand such frames to the worker their inner
#   addresses pick (`Resteer`).
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "tests/live-fanout.sh: must run as root" >&2; exit 1; }
for tool in tcpreplay tcprewrite curl python3; do
    command -v "$tool" >/dev/null || { echo "tests/live-fanout.sh: $tool not installed" >&2; exit 1; }
done

work=$(mktemp -d)
live_pid=
cleanup() {
    [ -z "$live_pid" ] || kill "$live_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
    ip link del ctfan0 2>/dev/null || true
    ip netns del ctfan 2>/dev/null || true
}
trap cleanup EXIT
# shellcheck source=tests/live-common.sh
. tests/live-common.sh

ip link del ctfan0 2>/dev/null || true
ip netns del ctfan 2>/dev/null || true
ip netns add ctfan
ip link add ctfan0 type veth peer name ctfan1 netns ctfan
ip link set ctfan0 up
ip -n ctfan link set ctfan1 up

# Off the loopback addresses (the kernel would answer them), then fragmented.
tcprewrite --pnat='127.0.0.0/8:10.128.0.0/16' --fixcsum \
    -i pcaps/sip-udp-g711-dtmf.pcap -o "$work/moved.pcap"
echo 'ip_frag 256' >"$work/fragroute.conf"
tcprewrite --fragroute="$work/fragroute.conf" -i "$work/moved.pcap" -o "$work/fragments.pcap"

python3 - pcaps/vxlan-two-tenants-sip.pcap "$work/vxlan.pcap" <<'PY'
import struct, sys, zlib
src, dst = sys.argv[1:3]
data = open(src, "rb").read()
out = [data[:24]]  # legacy pcap, microseconds, Ethernet
at = 24
while at + 16 <= len(data):
    header = data[at:at + 16]
    length = struct.unpack("<I", header[8:12])[0]
    frame = data[at + 16:at + 16 + length]
    at += 16 + length
    # Ethernet, IPv4 (20 bytes), UDP to 4789, VXLAN, inner Ethernet, inner IPv4.
    assert frame[12:14] == b"\x08\x00" and frame[36:38] == struct.pack(">H", 4789)
    for tenant in range(4):
        f = bytearray(frame)
        vni = int.from_bytes(f[46:49], "big") + 100 * tenant
        f[46:49] = vni.to_bytes(3, "big")
        port = 49152 + zlib.crc32(bytes(f[76:88]) + bytes(f[46:49])) % 16384
        f[34:36] = struct.pack(">H", port)
        f[40:42] = b"\0\0"  # UDP checksum: none, as VXLAN senders mostly send
        out.append(header + bytes(f))
open(dst, "wb").write(b"".join(out))
PY

cat >"$work/config.toml" <<'EOF'
[flow]
udp_idle_timeout = 3
EOF

cargo build --release --features live --quiet
bin=target/release/cleartrace
cases="fragments vxlan"
for case in $cases; do
    "$bin" analyze -q --config "$work/config.toml" --alerts "$work/expected-$case.json" \
        --flows "$work/expected-flows-$case.json" "$work/$case.pcap"
done

chmod 711 "$work"
mkdir -m 1777 "$work/out"
port=$(free_port)
"$bin" live -i ctfan0 --capture afpacket --workers 2 \
    --bpf 'net 10.128.0.0/16 or net 10.99.0.0/16' \
    --listen "127.0.0.1:$port" --config "$work/config.toml" --alerts "$work/out/alerts.json" \
    --flows "$work/out/flows.json" --user nobody -q 2>"$work/live.err" &
live_pid=$!
wait_healthy "$port" "$work/live.err"

for case in $cases; do
    ip netns exec ctfan tcpreplay -q -i ctfan1 --multiplier 4 "$work/$case.pcap" >/dev/null 2>&1
done
wait_idle "$port"
kill -TERM "$live_pid"
status=0
wait "$live_pid" || status=$?
live_pid=
[ "$status" = 0 ] || { cat "$work/live.err" >&2; fail "live exited with $status"; }

python3 - "$work" $cases <<'PY' || fail "live and analyze disagree"
import collections, json, sys
work, cases = sys.argv[1], sys.argv[2:]

def lines(paths, what):
    seen = collections.Counter()
    for path in paths:
        for line in open(path):
            e = json.loads(line)
            seen[(what(e), e.get("tunnel", {}).get("vni"), e.get("app_proto"), e["proto"],
                  e["src_ip"], e.get("src_port"), e["dest_ip"], e.get("dest_port"))] += 1
    return seen

def same(kind, expected, live):
    for k in sorted(set(expected) | set(live), key=str):
        if expected[k] != live[k]:
            print(f"  {kind} {k}: analyze {expected[k]}, live {live[k]}")
    return expected == live

# A flow split over two workers is two flow records (each with part of the packets);
# packet counts differ anyway, the kernel handing over reassembled datagrams.
signature = lambda e: e["alert"]["signature_id"]
alerts = [lines([f"{work}/expected-{c}.json" for c in cases], signature),
          lines([f"{work}/out/alerts.json"], signature)]
flows = [lines([f"{work}/expected-flows-{c}.json" for c in cases], lambda e: "flow"),
         lines([f"{work}/out/flows.json"], lambda e: "flow")]
ok = same("alert", *alerts) & same("flow", *flows)
tunnelled = sum(n for k, n in flows[0].items() if k[1] is not None)
assert ok and sum(alerts[0].values()) >= 4 + 8 * 4 and tunnelled >= 16, (alerts[0], flows[0])
print(f"live == analyze on fragments and VXLAN, 2 AF_PACKET workers: "
      f"{sum(alerts[1].values())} alerts, {sum(flows[1].values())} flows ({tunnelled} in VXLAN)")
PY
