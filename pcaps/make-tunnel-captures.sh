#!/usr/bin/env bash
# Tunnel captures for cleartrace's tests, made with the Linux kernel's own tunnel devices.
#
#   sudo pcaps/make-tunnel-captures.sh
#
# Two network namespaces joined by a veth pair (underlay 10.99.0.1 <-> 10.99.0.2). In the
# first, two VXLAN devices (VNI 42 and VNI 43, UDP 4789) point at the second, which has the
# matching devices to receive them. The bundled SIP call `sip-udp-g711-dtmf.pcap` is
# replayed with tcpreplay into both VXLAN devices, so the kernel encapsulates every frame
# and the capture on the underlay holds the same call twice, in two tenants whose inner
# addresses overlap exactly: the sensor must keep them apart by VNI.
#
# Only VXLAN: the kernels this was made on (and CI) have no GRE, ERSPAN or GENEVE
# modules; those are covered by the real captures in ../shared/corpus.
#
# Writes pcaps/vxlan-two-tenants-sip.pcap (pcap, Ethernet). Needs root, iproute2,
# tcpreplay and dumpcap (wireshark-common); nothing leaves the two namespaces.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/vxlan-two-tenants-sip.pcap
CALL=$HERE/sip-udp-g711-dtmf.pcap
A=ct-tun-a
B=ct-tun-b

for tool in ip tcpreplay dumpcap; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

cleanup() {
    [[ -n "${DUMPCAP_PID:-}" ]] && kill "$DUMPCAP_PID" 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add "$A"
ip netns add "$B"
ip link add ct-under-a netns "$A" type veth peer name ct-under-b netns "$B"
ip -n "$A" addr add 10.99.0.1/24 dev ct-under-a
ip -n "$B" addr add 10.99.0.2/24 dev ct-under-b
for ns in "$A" "$B"; do
    ip -n "$ns" link set lo up
    # No IPv6 autoconfiguration chatter (router solicitations, MLD) inside the tunnels.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$A" link set ct-under-a mtu 9000 up
ip -n "$B" link set ct-under-b mtu 9000 up
for vni in 42 43; do
    ip -n "$A" link add "vx$vni" type vxlan id "$vni" local 10.99.0.1 remote 10.99.0.2 dstport 4789
    ip -n "$B" link add "vx$vni" type vxlan id "$vni" local 10.99.0.2 remote 10.99.0.1 dstport 4789
    ip -n "$A" link set "vx$vni" mtu 8900 up
    ip -n "$B" link set "vx$vni" mtu 8900 up
done

rm -f "$OUT"
ip netns exec "$A" dumpcap -q -P -i ct-under-a -f 'udp port 4789' -w "$OUT" &
DUMPCAP_PID=$!
sleep 2
# One tenant after the other, each at the call's own pace.
ip netns exec "$A" tcpreplay -q -i vx42 "$CALL"
ip netns exec "$A" tcpreplay -q -i vx43 "$CALL"
sleep 1
kill -INT "$DUMPCAP_PID"
wait "$DUMPCAP_PID" || true
DUMPCAP_PID=
chmod 644 "$OUT"
echo "wrote $OUT"
