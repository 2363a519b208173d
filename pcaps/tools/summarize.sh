#!/usr/bin/env bash
# Print what tshark sees in each capture of pcaps/ (the facts in README.md's table).
#   pcaps/tools/summarize.sh [FILE...]
# Needs tshark and capinfos (Debian: apt-get install -y tshark).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v tshark >/dev/null || { echo "tshark not installed (apt-get install -y tshark)" >&2; exit 1; }
[ $# -gt 0 ] || set -- *.pcap *.pcapng

ts() { tshark -r "$@" 2>/dev/null; }
join() { sort -u | paste -sd' ' -; }

for f in "$@"; do
    echo "## $f"
    echo "  size:      $(stat -c %s "$f") bytes, $(capinfos -c -M "$f" | awk -F': *' '/Number of packets/{print $2}') packets"
    echo "  format:    $(capinfos -t "$f" | awk -F': *' '/File type/{print $2}')"
    enc=$(capinfos -E "$f" | awk -F': *' '/File encapsulation/{print $2}')
    [ "$enc" != "Per packet" ] || enc="per packet: $(capinfos -E "$f" | awk 'NR>3{$1=$1; print}' | paste -sd',' -)"
    echo "  link:      $enc"
    echo "  ports:     $(ts "$f" -T fields -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport | tr '\t' '\n' | grep . | join) ($(ts "$f" -T fields -e ip.proto | join | sed 's/\b6\b/tcp/; s/\b17\b/udp/'))"
    ch=$(ts "$f" -Y 'tls.handshake.type==1 || dtls.handshake.type==1' -T fields \
        -e tls.handshake.version -e dtls.handshake.version -e tls.handshake.extensions.supported_version \
        -e tls.handshake.extensions_server_name | sort -u)
    if [ -n "$ch" ]; then
        echo "  ClientHello (legacy_version, supported_versions, SNI): $(echo "$ch" | tr '\t' ' ' | paste -sd'|' -)"
        sh=$(ts "$f" -Y 'tls.handshake.type==2 || dtls.handshake.type==2' -T fields \
            -e tls.handshake.version -e dtls.handshake.version -e tls.handshake.extensions.supported_version | sort -u)
        if [ -n "$sh" ]; then
            cs=$(ts "$f" -Y 'tls.handshake.type==2 || dtls.handshake.type==2' -V | grep 'Cipher Suite:' | sed 's/.*Cipher Suite: //' | sort -u | paste -sd'|' -)
            echo "  ServerHello (legacy_version, supported_version): $(echo "$sh" | tr '\t' ' ' | paste -sd'|' -)"
            echo "  cipher:    $cs"
        else
            echo "  ServerHello: none"
        fi
        al=$(ts "$f" -Y 'tls.alert_message.desc || dtls.alert_message.desc' -T fields \
            -e tls.alert_message.desc -e dtls.alert_message.desc | tr '\t' ' ' | join)
        [ -z "$al" ] || echo "  cleartext alerts (desc): $al"
    fi
    ht=$(ts "$f" -Y 'http.request' -T fields -e http.request.method -e http.request.full_uri \
        -e http.authorization -e http.proxy_authorization | cut -c1-120)
    if [ -n "$ht" ]; then
        echo "  HTTP requests: $(echo "$ht" | tr '\t' ' ' | paste -sd'|' -)"
        echo "  HTTP responses: $(ts "$f" -Y 'http.response' -T fields -e http.response.code -e http.www_authenticate | tr '\t' ' ' | paste -sd'|' -)"
    fi
done
