#!/usr/bin/env bash
# Writes pcaps/expected/community-id.tsv: the Community ID v1 of every TCP/UDP flow as
# Wireshark computes it (tshark 4.0, its `communityid` post-dissector, seed 0), with the
# flow's addresses and ports, for every bundled capture and every corpus capture but
# the bench ones (`corpus/<name>`, read from ../shared/corpus). Frames inside a tunnel
# (more than one IP header) are left out: which layer Wireshark hashes there is its own
# choice. tests/eve.rs checks cleartrace's `community_id` against the file, so CI needs
# no tshark. Run from anywhere after adding or remaking a capture.
set -euo pipefail
cd "$(dirname "$0")"
out=expected/community-id.tsv

flows() { # FILE LABEL
  # Some corpus files end in a cut-off packet: tshark says so and exits 2.
  { tshark --enable-protocol communityid -r "$1" \
      -Y '(tcp or udp) and ((count(ip) == 1 and not ipv6) or (count(ipv6) == 1 and not ip))' \
      -T fields -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e tcp.srcport -e udp.srcport \
      -e tcp.dstport -e udp.dstport -e communityid 2>/dev/null || true; } |
    awk -F'\t' -v OFS='\t' -v label="$2" \
      '$9 != "" { print label, ($5 != "" ? "TCP" : "UDP"), $1 $2, $5 $6, $3 $4, $7 $8, $9 }' |
    sort -u
}

{
  printf 'capture\tproto\tsrc_ip\tsrc_port\tdest_ip\tdest_port\tcommunity_id\n'
  for f in *.pcap *.pcapng; do
    flows "$f" "$f"
  done
  for path in ../../shared/corpus/pcaps/*; do
    f=$(basename "$path")
    case "$f" in bench__*) continue ;; esac
    flows "$path" "corpus/$f"
  done
} >"$out"
echo "wrote pcaps/$out ($(($(wc -l <"$out") - 1)) flow directions, $(tshark --version 2>/dev/null | head -1))"
