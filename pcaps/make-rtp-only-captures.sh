#!/usr/bin/env bash
# Media without its signalling, cut from the bundled SIP call.
#
#   pcaps/make-rtp-only-captures.sh
#
# Writes pcaps/rtp-dtmf-no-signalling.pcap: the RTP of sip-udp-g711-dtmf.pcap (sipp,
# PCMA on 127.0.0.1:6000 -> 6010, with RFC 2833 digits on PT 101) and nothing else, as
# a sensor sees a call whose SIP runs elsewhere. No SDP names PT 101, so the digits
# must be recognised by their structure. Needs tshark, editcap (wireshark) and tcprewrite (tcpreplay).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v tshark >/dev/null || { echo "missing tshark" >&2; exit 1; }
# Moved to ports 9000 -> 9010 and a day later than the call, so a run over all of
# pcaps/ never pairs this media with the call's SDP or the call's own RTP flow.
tmp=$(mktemp)
moved=$(mktemp)
trap 'rm -f "$tmp" "$moved"' EXIT
tshark -r "$HERE/sip-udp-g711-dtmf.pcap" -Y 'udp.port == 6000 && udp.port == 6010' \
    -F pcap -w "$tmp"
tcprewrite --portmap=6000:9000,6010:9010 --fixcsum -i "$tmp" -o "$moved"
editcap -t 86400 "$moved" "$HERE/rtp-dtmf-no-signalling.pcap"
echo "wrote $HERE/rtp-dtmf-no-signalling.pcap"
