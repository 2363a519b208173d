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
    # SIP / SDP (tshark finds SIP by content, also on 5080)
    sip=$(ts "$f" -Y sip -T fields -e sip.Method -e sip.Status-Code | tr -d '\t' | paste -sd' ' -)
    if [ -n "$sip" ]; then
        echo "  SIP:       $sip"
        for h in From To P-Asserted-Identity Contact WWW-Authenticate Authorization; do
            v=$(ts "$f" -Y "sip.$h" -T fields -e "sip.$h" | sed 's/;tag=[^,;]*//' | sort -u | paste -sd'|' -)
            [ -z "$v" ] || echo "    $h: $v"
        done
        ts "$f" -Y 'sip.Method==INFO' -T fields -e sip.Content-Type | sort -u | sed 's/^/    INFO Content-Type: /'
        info=$(ts "$f" -Y 'sip.Method==INFO' -V | sed -n 's/^ *Signal=\(.\)\\r\\n$/\1/p' | paste -sd '' -)
        [ -z "$info" ] || echo "    INFO digits (Signal=): $info (${#info})"
        ts "$f" -Y sdp -T fields -e sdp.owner -e sdp.media -e sdp.media_attr |
            awk -F'\t' '{print "    SDP o=" $1 " | m=" $2 " | a=" $3}'
    fi
    # RTP / RTCP: SDP-announced ports, plus the RTP heuristic for media without signalling
    rtp=$(ts "$f" -o rtp.heuristic_rtp:TRUE -Y rtp -T fields -e _ws.col.Protocol \
        -e udp.srcport -e udp.dstport -e rtp.p_type -e rtp.ssrc -e udp.length | sort | uniq -c)
    if [ -n "$rtp" ]; then
        echo "  media (count, proto, src, dst, PT, SSRC, UDP length):"
        echo "$rtp" | tr '\t' ' ' | sed 's/^ */    /'
        ev=$(ts "$f" -o rtp.heuristic_rtp:TRUE -Y 'rtpevent && rtp.marker==1' -T fields -e rtpevent.event_id | paste -sd' ' -)
        [ -z "$ev" ] || echo "  RTP events (first packet of each, event ids): $ev"
        rtcp=$(ts "$f" -Y 'rtcp || srtcp' -T fields -e _ws.col.Protocol -e udp.srcport -e udp.dstport -e udp.length | sort | uniq -c)
        [ -z "$rtcp" ] || { echo "  RTCP (count, proto, src, dst, UDP length):"; echo "$rtcp" | tr '\t' ' ' | sed 's/^ */    /'; }
    fi
    # management / mail / industrial protocols (make-captures.sh mgmt): decode-as for the
    # non-standard ports used there; one line per message (tshark's Info column)
    D=(-d tcp.port==3389,ldap -d udp.port==1161,snmp -d tcp.port==1161,snmp -o mbtcp.tcp.port:5020
       -d tcp.port==2525,smtp -d tcp.port==1110,pop -d tcp.port==1143,imap -d tcp.port==2121,ftp
       -d tcp.port==2323,telnet)
    app=0
    for p in ldap snmp mqtt mbtcp smtp pop imap ftp; do
        x=$(ts "$f" "${D[@]}" -Y "$p && !tls" -T fields -e _ws.col.Info | tr -s ' ' | sed 's/^ //; s/ $//' | cut -c1-110 | paste -sd'|' -)
        [ -z "$x" ] || { echo "  $p: $x"; app=1; }
    done
    x=$(ts "$f" "${D[@]}" -Y snmp -T fields -e snmp.version -e snmp.community -e snmp.msgUserName -e snmp.msgFlags | sort -u | tr '\t' ' ' | paste -sd'|' -)
    [ -z "$x" ] || echo "    SNMP (version community v3-user v3-flags, unique): $x"
    x=$(ts "$f" -Y 'mqtt.msgtype==1' -T fields -e mqtt.ver -e mqtt.clientid -e mqtt.username -e mqtt.passwd | tr '\t' ' ' | paste -sd'|' -)
    [ -z "$x" ] || echo "    MQTT CONNECT (version client-id user password): $x"
    x=$(ts "$f" -Y 'mqtt.msgtype==3' -T fields -e tcp.srcport -e tcp.dstport -e mqtt.topic -e mqtt.msg |
        while IFS=$'\t' read -r sp dp t m; do printf '%s -> %s %s %s\n' "$sp" "$dp" "$t" "$(printf '%s' "$m" | tr -d ':' | python3 -c 'import sys; print(bytes.fromhex(sys.stdin.read().strip()).decode())')"; done | paste -sd'|' -)
    [ -z "$x" ] || echo "    MQTT PUBLISH (src -> dst topic payload): $x"
    x=$(ts "$f" "${D[@]}" -Y 'telnet.data' -T fields -e tcp.dstport -e telnet.data | tr '\t' ' ' | paste -sd'|' -)
    [ -z "$x" ] || { echo "  telnet data (dst port, text): $x"; app=1; }
    # other cleartext TCP (ESPA 4.4.4, AXI, syslog, CDR): the payloads, as Python byte strings
    if [ $app = 0 ] && [ -z "$ht" ] && [ -z "$sip" ] && [ -z "$ch" ]; then
        ts "$f" -Y 'tcp.len > 0' -T fields -e tcp.stream -e tcp.srcport -e tcp.dstport -e tcp.payload |
            python3 -c '
import sys
for l in sys.stdin:
    st, sp, dp, pl = l.rstrip("\n").split("\t")
    print(f"    tcp stream {st} {sp} -> {dp}: {bytes.fromhex(pl.replace(chr(58), str()))!r}"[:220])'
    fi
done
