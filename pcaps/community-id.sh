#!/usr/bin/env bash
# Writes pcaps/expected/community-id.tsv: for every bundled capture, the Community ID
# v1 of each TCP/UDP flow as Wireshark computes it (tshark 4.0, its `communityid`
# post-dissector, seed 0), and of a few corpus captures with IPv6 and busier traffic
# (`corpus/<name>`, read from ../shared/corpus). tests/eve.rs checks cleartrace's
# `community_id` against it.
# Run from the repository root after adding a capture: pcaps/community-id.sh
set -euo pipefail
cd "$(dirname "$0")"
out=expected/community-id.tsv
{
  printf 'capture\tcommunity_id\n'
  for f in *.pcap *.pcapng; do
    tshark --enable-protocol communityid -r "$f" -Y 'tcp or udp' -T fields -e communityid 2>/dev/null \
      | sort -u | sed "s|^|$f\t|"
  done
  for f in heplify__sip_ipv6_udp.pcap ndpi__sip.pcap ndpi__smtp-starttls.pcap ndpi__syslog.pcap; do
    tshark --enable-protocol communityid -r "../../shared/corpus/pcaps/$f" -Y 'tcp or udp' \
      -T fields -e communityid 2>/dev/null | sort -u | sed "s|^|corpus/$f\t|"
  done
} >"$out"
echo "wrote pcaps/$out ($(($(wc -l <"$out") - 1)) flows, $(tshark --version | head -1))"
