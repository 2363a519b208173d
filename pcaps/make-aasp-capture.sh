#!/usr/bin/env bash
# AASP bodies (message/x-aasp-signalling) in cleartext SIP over UDP.
#
#   sudo pcaps/make-aasp-capture.sh
#
# Writes pcaps/sip-aasp.pcap. GENERATED: no real tool on Debian speaks AASP (Aastra /
# MiVoice-5000-class phones do), so tools/aasp_sip.py builds the bodies after the layout
# Wireshark's AASP dissector reads and sends them over real loopback sockets, captured
# on lo. The name and numbers are planted fake values.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (tcpdump on lo)"
command -v tcpdump >/dev/null || { apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y tcpdump; }

TMP=$(mktemp -d /tmp/cleartrace-aasp.XXXXXX)
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
tcpdump -Z root -U -i lo -s 0 -w "$TMP/sip-aasp.pcap" 'udp port 5060 and udp port 5066' 2>"$TMP/tcpdump.log" &
cap=$!
for i in $(seq 50); do grep -qs 'listening on' "$TMP/tcpdump.log" && break; sleep 0.1; done
python3 "$HERE/tools/aasp_sip.py"
sleep 1
kill -TERM "$cap"; wait "$cap" || true
cp "$TMP/sip-aasp.pcap" "$HERE/sip-aasp.pcap"
echo "wrote $HERE/sip-aasp.pcap ($(stat -c %s "$HERE/sip-aasp.pcap") bytes)"
