#!/usr/bin/env bash
# Regenerate the cleartrace test captures in pcaps/ from real peers on loopback.
#
#   sudo pcaps/make-captures.sh            # all captures
#   sudo pcaps/make-captures.sh tls13 dtls12.pcap   # only those (name with or without extension)
#   sudo pcaps/make-captures.sh pd          # only the pd-* (planted personal data) captures
#   sudo pcaps/make-captures.sh voice       # only the SIP / RTP captures (sipp, baresip)
#   sudo pcaps/make-captures.sh mgmt        # only the LDAP / SNMP / MQTT / MODBUS / mail /
#                                           # FTP / Telnet / syslog / ESPA / AXI captures
#
# Runs as root on Debian 12.  Every server binds 127.0.0.1 only; every capture
# is taken on the loopback device (one on "any").  A throwaway self-signed
# RSA-2048 certificate is made in a temp dir and deleted at exit: no key is
# ever written into the repository.
#
# The credentials below are PLANTED LEAK-TEST SECRETS: they exist only so that
# tests can check that cleartrace never writes them out.  They are not real.
# The same holds for the personal data planted in the pd-* captures (test card
# numbers, example IBANs, example.com address, Ofcom drama-range phone number,
# specimen SSN / NINO): all fake, there to be found and never written unmasked.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
TOOLS=$HERE/tools

BASIC_USER='alice.martin';  BASIC_PASS='Tr0ub4dor-LEAKCHECK-1'
DIGEST_USER='bob.dupont';   DIGEST_PASS='Hunter2-LEAKCHECK-2'
PROXY_USER='carol.proxy';   PROXY_PASS='Proxy-LEAKCHECK-3'
NONSTD_USER='dave.nonstd';  NONSTD_PASS='Port-LEAKCHECK-4'

# planted personal data (pd-* captures); the JSON ones live in tools/pd_http_server.py,
# the CDR records in tools/cdr_feed.py
PD_CARD_VISA='4111 1111 1111 1111'; PD_CARD_MC='5500-0000-0000-0004'
PD_IBAN_DE='DE89 3704 0044 0532 0130 00'; PD_IBAN_GB='GB82WEST12345698765432'
PD_EMAIL='jane.doe@example.com'; PD_PHONE='+44 1632 960961'
PD_SSN='123-45-6789'; PD_NINO='AB 12 34 56 C'
PD_PASS='S3cr3t-LEAKCHECK-5'; PD_PIN='4096'

# voice captures (sip-*, rtp-*): SIP Digest password of extension 2001 (given to sipp on
# the command line; only its MD5 digest response goes on the wire), the digits sent by
# SIP INFO (a Luhn-valid test card number; they live in tools/sipp/uac-g711-dtmf.xml) and
# the RFC 2833 digits (sipp's dtmf_2833_N.pcap files, played in this order)
VOIP_USER='2001';           VOIP_PASS='VoipPass-LEAKCHECK-6'
VOIP_INFO_DIGITS='4111111111111111'; VOIP_RTP_DIGITS='1234'

# management / industrial / mail / DECT captures (make-captures.sh mgmt).  The name, e-mail
# and phone number are PD_* above; Jane's entry also carries an Ofcom drama-range mobile.
PD_NAME='Jane Doe'; PD_MOBILE='+44 7700 900123'
LDAP_BASE='dc=example,dc=test'
LDAP_ADMIN_DN="cn=admin,$LDAP_BASE";                LDAP_ADMIN_PASS='LdapAdmin-LEAKCHECK-14'
LDAP_USER_DN="cn=$PD_NAME,ou=people,$LDAP_BASE";   LDAP_USER_PASS='LdapPass-LEAKCHECK-7'
SNMP_V1_COMMUNITY='public'; SNMP_V2C_COMMUNITY='S3cretCommunity-LEAKCHECK'
SNMP_V3_USER='janedoe'; SNMP_V3_AUTH_PASS='AuthPass-LEAKCHECK-11'; SNMP_V3_PRIV_PASS='PrivPass-LEAKCHECK-12'
SNMP_V3_NOAUTH_USER='nobodyuser'
SNMP_CONTACT="$PD_NAME <$PD_EMAIL>"; SNMP_LOCATION="Room 101, $PD_PHONE"
MQTT_USER='jane.doe';       MQTT_PASS='MqttPass-LEAKCHECK-8'
MQTT_TOPIC='pbx/calls/jane'; MQTT_PAYLOAD="{\"caller\":\"$PD_PHONE\",\"mail\":\"$PD_EMAIL\"}"
MAIL_USER='jane.doe';       MAIL_PASS='MailPass-LEAKCHECK-9'     # SMTP AUTH, POP3, IMAP, FTP
MAIL_FROM=$PD_EMAIL; MAIL_TO='callcentre@example.test'
MAIL_BODY_LINE="Please call $PD_NAME back on $PD_PHONE, card $PD_CARD_VISA."
TELNET_USER='janedoe';      TELNET_PASS='TelnetPass-LEAKCHECK-10'
SYSLOG_LINE="user $PD_EMAIL dialled $PD_PHONE"
ESPA_PAGES=$'550\tCALL ME 101\n551\tJane Doe Room 12\n552\tZimmer 3 M\xc3\xbcller'   # ü as UTF-8; espa444.py sends it as Latin-1 0xFC
AXI_USER='omm';             AXI_PASS='AxiPass-LEAKCHECK-13'
AXI_PP_NUM='4711';          AXI_PP_SIPPW='SipPw-LEAKCHECK-15'

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (tcpdump on lo, port 443)"

# --- tools ------------------------------------------------------------------
need=()
command -v tcpdump  >/dev/null || need+=(tcpdump)
command -v openssl  >/dev/null || need+=(openssl)
command -v curl     >/dev/null || need+=(curl)
command -v python3  >/dev/null || need+=(python3)
command -v mergecap >/dev/null || need+=(wireshark-common)
command -v capinfos >/dev/null || need+=(wireshark-common)
command -v ss       >/dev/null || need+=(iproute2)
command -v logger   >/dev/null || need+=(bsdutils)
if [ ${#need[@]} -gt 0 ]; then
    log "installing: ${need[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

# --- temp dir, process bookkeeping -------------------------------------------
TMP=$(mktemp -d /tmp/cleartrace-pcaps.XXXXXX)
chmod 755 "$TMP"            # tcpdump may drop privileges; keep it able to write
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    exec 3>&- 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

forget_pid() {  # remove $1 from PIDS
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

stop_pid() {  # stop_pid PID [SIGNAL]: wait up to 5 s for it to exit by itself, then signal it
    local pid=$1 sig=${2:-TERM} i
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -"$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

# --- certificate ---------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7 \
    -subj '/CN=cleartrace-test.example.test' \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
WEBROOT=$TMP/www
mkdir -p "$WEBROOT"
printf '<html><body>PBX provisioning</body></html>\n' >"$WEBROOT/index.html"

# --- helpers ------------------------------------------------------------------
port_free() {  # port_free PROTO PORT
    local flag=-Hltn; [ "$1" = udp ] && flag=-Hlun
    [ -z "$(ss $flag "sport = :$2")" ]
}

wait_listen() {  # wait_listen PROTO PORT
    local flag=-Hltn i; [ "$1" = udp ] && flag=-Hlun
    for i in $(seq 100); do
        [ -n "$(ss $flag "sport = :$2")" ] && return 0
        sleep 0.1
    done
    die "nothing listening on $1/$2"
}

CAP_PID=
start_capture() {  # start_capture FILE FILTER TCPDUMP-ARGS...
    local file=$1 filter=$2 i; shift 2
    rm -f "$TMP/$file"
    tcpdump -Z root -U "$@" -w "$TMP/$file" "$filter" 2>"$TMP/$file.tcpdump.log" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    for i in $(seq 100); do
        grep -qs 'listening on' "$TMP/$file.tcpdump.log" && break
        sleep 0.1
    done
    grep -qs 'listening on' "$TMP/$file.tcpdump.log" || die "tcpdump did not start: $(cat "$TMP/$file.tcpdump.log")"
    sleep 1
}

stop_capture() {  # stop_capture FILE
    sleep 1
    # SIGINT is what you would press; a background job of a non-interactive
    # shell ignores SIGINT, so send SIGTERM, which tcpdump handles the same
    # way (flushes and closes the file).
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    forget_pid "$CAP_PID"
    [ -s "$TMP/$1" ] || die "$1: empty capture"
}

publish() {  # publish FILE: move a verified capture into pcaps/
    cp "$TMP/$1" "$OUT/$1.tmp"
    mv -f "$OUT/$1.tmp" "$OUT/$1"
    log "$1: $(capinfos -c -M "$OUT/$1" | awk -F': *' '/Number of packets/{print $2}') packets, $(stat -c %s "$OUT/$1") bytes"
}

count() {  # count FILE BPF-FILTER: packets matching in a capture
    tcpdump -nn -r "$1" "$2" 2>/dev/null | wc -l
}

# First TLS record of a TCP payload / DTLS record of a UDP payload.  On loopback
# every flight starts at a segment boundary, so this is enough for a sanity check.
TLS_SH='tcp[((tcp[12]&0xf0)>>2)] = 22 and tcp[((tcp[12]&0xf0)>>2)+5] = 2'
TLS_ALERT='tcp[((tcp[12]&0xf0)>>2)] = 21'
DTLS_SH='udp[8] = 22 and udp[8+13] = 2'

check_server_hello() {  # check_server_hello FILE tcp|udp
    local f=$TMP/$1 n
    if [ "$2" = udp ]; then n=$(count "$f" "$DTLS_SH"); else n=$(count "$f" "$TLS_SH"); fi
    [ "$n" -ge 1 ] || die "$1: no ServerHello in capture (see $TMP/$1.*.log)"
}

check_payload() {  # check_payload FILE FIXED-STRING: string present in some packet
    tcpdump -nn -A -r "$TMP/$1" 2>/dev/null | grep -qF -- "$2" || die "$1: '$2' not found in capture"
}

# Raw bytes of the capture file (any packet, any offset; a value split over two
# packets would not match, which on loopback with these small writes does not happen).
check_bytes() {  # check_bytes FILE FIXED-STRING...: every string present
    local f=$1 s; shift
    for s in "$@"; do grep -aqF -- "$s" "$TMP/$f" || die "$f: bytes '$s' not found in capture"; done
}
check_no_bytes() {  # check_no_bytes FILE FIXED-STRING...: none of the strings present
    local f=$1 s; shift
    for s in "$@"; do ! grep -aqF -- "$s" "$TMP/$f" || die "$f: bytes '$s' unexpectedly in capture"; done
}
check_syns() {  # check_syns FILE N: exactly N TCP connections (bare SYNs)
    local n; n=$(count "$TMP/$1" 'tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn')
    [ "$n" -eq "$2" ] || die "$1: $n TCP connections, expected $2"
}

# tls_capture FILE tcp|udp PORT "SERVER ARGS" "CLIENT ARGS" TCPDUMP-ARGS...
# Server: openssl s_server (one connection), stdin a FIFO the script writes a
# reply line into.  Client: openssl s_client fed one line ($TLS_CLIENT_LINE,
# default "hello from client"), then EOF (it sends close_notify and exits).
tls_capture() {
    local file=$1 proto=$2 port=$3 sargs=$4 cargs=$5 srv_pid i
    local line=${TLS_CLIENT_LINE:-hello from client}; shift 5
    local -a sa ca
    read -r -a sa <<<"$sargs"
    read -r -a ca <<<"$cargs"
    log "$file: s_server ${sargs} | s_client ${cargs} ($proto/$port)"
    port_free "$proto" "$port" || die "$proto port $port is in use"

    rm -f "$TMP/srv.in"; mkfifo "$TMP/srv.in"
    exec 3<>"$TMP/srv.in"
    openssl s_server -accept "127.0.0.1:$port" -cert "$TMP/cert.pem" -key "$TMP/key.pem" \
        -naccept 1 "${sa[@]}" <"$TMP/srv.in" >"$TMP/$file.server.log" 2>&1 &
    srv_pid=$!
    PIDS+=("$srv_pid")
    for i in $(seq 100); do grep -qs ACCEPT "$TMP/$file.server.log" && break; sleep 0.1; done
    grep -qs ACCEPT "$TMP/$file.server.log" || die "$file: s_server did not start: $(cat "$TMP/$file.server.log")"

    start_capture "$file" "$proto port $port" "$@"
    # the server answers one line 0.8 s into the connection
    ( sleep 0.8; echo "world from server" >&3 ) &
    PIDS+=("$!")
    # the client may legitimately fail (rejected handshake): don't abort on it
    ( echo "$line"; sleep 1.5 ) |
        timeout 20 openssl s_client -connect "127.0.0.1:$port" "${ca[@]}" \
        >"$TMP/$file.client.log" 2>&1 || true
    stop_pid "$srv_pid"
    stop_capture "$file"
    exec 3>&-
    rm -f "$TMP/srv.in"
}

# http_capture FILE PORT SERVER-KIND CURL-ARGS...   SERVER-KIND: static|digest|proxy|pd
http_capture() {
    local file=$1 port=$2 kind=$3 srv_pid; shift 3
    log "$file: $kind server on tcp/$port, curl $*"
    port_free tcp "$port" || die "tcp port $port is in use"
    case $kind in
        static) python3 -u -m http.server --bind 127.0.0.1 --directory "$WEBROOT" "$port" \
                    >"$TMP/$file.server.log" 2>&1 & ;;
        digest) python3 -u "$TOOLS/digest_server.py" "$port" >"$TMP/$file.server.log" 2>&1 & ;;
        proxy)  python3 -u "$TOOLS/proxy_server.py" "$port" >"$TMP/$file.server.log" 2>&1 & ;;
        pd)     python3 -u "$TOOLS/pd_http_server.py" "$port" >"$TMP/$file.server.log" 2>&1 & ;;
        *) die "unknown server kind $kind" ;;
    esac
    srv_pid=$!
    PIDS+=("$srv_pid")
    wait_listen tcp "$port"
    start_capture "$file" "tcp port $port" -i lo
    timeout 20 curl -s -o "$TMP/$file.body" "$@"
    stop_capture "$file"
    kill -TERM "$srv_pid" 2>/dev/null || true
    stop_pid "$srv_pid"
}

# --- which captures -------------------------------------------------------------
ALL=(tls10 tls11 tls12 tls13 tls12-null-cipher tls12-port-12622 tls12-port-4433 tls-server-picks-11
     tls-client-only-old-rejected dtls12 dtls10 tls12-any-sll2 tls13-nanosecond
     mixed-linktypes http-basic http-digest http-proxy-basic http-plain http-port-5080
     pd-http-form pd-http-json pd-http-gzip pd-cdr-tcp pd-syslog-udp pd-tls13-encrypted
     sip-udp-g711-dtmf sip-tcp sip-sdes-srtp sip-tls rtp-no-signalling
     ldap-simple-bind ldap-starttls snmp-v1-v2c snmp-tcp snmp-v3 snmp-v3-authpriv mqtt modbus
     smtp-plain-auth smtp-starttls smtp-starttls-ignored pop3 imap ftp telnet syslog-tcp
     espa444 axi)
VOICE=(sip-udp-g711-dtmf sip-tcp sip-sdes-srtp sip-tls rtp-no-signalling)
MGMT=(ldap-simple-bind ldap-starttls snmp-v1-v2c snmp-tcp snmp-v3 snmp-v3-authpriv mqtt modbus
      smtp-plain-auth smtp-starttls smtp-starttls-ignored pop3 imap ftp telnet syslog-tcp
      espa444 axi)
if [ $# -gt 0 ]; then
    WANT=()
    for a in "$@"; do
        a=${a%.pcap}; a=${a%.pcapng}
        if [ "$a" = pd ]; then      # group: every pd-* capture
            for w in "${ALL[@]}"; do [ "${w#pd-}" = "$w" ] || WANT+=("$w"); done
        elif [ "$a" = voice ]; then # group: the SIP / RTP captures
            WANT+=("${VOICE[@]}")
        elif [ "$a" = mgmt ]; then  # group: management / industrial / mail / DECT captures
            WANT+=("${MGMT[@]}")
        else
            WANT+=("$a")
        fi
    done
    for a in "${WANT[@]}"; do
        case " ${ALL[*]} " in *" $a "*) ;; *) die "unknown capture '$a' (known: pd voice mgmt ${ALL[*]})" ;; esac
    done
else
    WANT=("${ALL[@]}")
fi
wanted() { local w; for w in "${WANT[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }

LEGACY='DEFAULT@SECLEVEL=0'   # TLS/DTLS < 1.2 needs security level 0 in OpenSSL 3

# --- TLS over TCP ------------------------------------------------------------------
if wanted tls10; then
    tls_capture tls10.pcap tcp 4433 "-tls1 -cipher $LEGACY" "-tls1 -cipher $LEGACY" -i lo
    check_server_hello tls10.pcap tcp; publish tls10.pcap
fi
if wanted tls11; then
    tls_capture tls11.pcap tcp 4433 "-tls1_1 -cipher $LEGACY" "-tls1_1 -cipher $LEGACY" -i lo
    check_server_hello tls11.pcap tcp; publish tls11.pcap
fi
if wanted tls12; then
    tls_capture tls12.pcap tcp 443 "-tls1_2" "-tls1_2 -servername pbx.example.test" -i lo
    check_server_hello tls12.pcap tcp; check_payload tls12.pcap pbx.example.test; publish tls12.pcap
fi
if wanted tls12-port-4433; then
    # the "after" of a hardening pair: the service of tls10.pcap (port 4433) at TLS 1.2
    tls_capture tls12-port-4433.pcap tcp 4433 "-tls1_2" "-tls1_2" -i lo
    check_server_hello tls12-port-4433.pcap tcp; publish tls12-port-4433.pcap
fi
if wanted tls13; then
    tls_capture tls13.pcap tcp 443 "-tls1_3" "-tls1_3 -servername portal.example.test" -i lo
    check_server_hello tls13.pcap tcp; check_payload tls13.pcap portal.example.test; publish tls13.pcap
fi
if wanted tls12-null-cipher; then
    tls_capture tls12-null-cipher.pcap tcp 443 "-tls1_2 -cipher NULL-SHA256@SECLEVEL=0" \
        "-tls1_2 -cipher NULL-SHA256@SECLEVEL=0" -i lo
    check_server_hello tls12-null-cipher.pcap tcp
    # NULL cipher: the application data travels in clear inside the records
    check_payload tls12-null-cipher.pcap 'hello from client'
    publish tls12-null-cipher.pcap
fi
if wanted tls12-port-12622; then
    tls_capture tls12-port-12622.pcap tcp 12622 "-tls1_2" "-tls1_2 -servername omm.example.test" -i lo
    check_server_hello tls12-port-12622.pcap tcp; publish tls12-port-12622.pcap
fi
if wanted tls-server-picks-11; then
    # server capped at TLS 1.1, client offers up to TLS 1.3 (supported_versions)
    tls_capture tls-server-picks-11.pcap tcp 4433 "-tls1_1 -cipher $LEGACY" "-cipher $LEGACY" -i lo
    check_server_hello tls-server-picks-11.pcap tcp; publish tls-server-picks-11.pcap
fi
if wanted tls-client-only-old-rejected; then
    # server TLS 1.2+ only, client TLS 1.0 only: protocol_version alert, no ServerHello
    tls_capture tls-client-only-old-rejected.pcap tcp 4433 "-min_protocol TLSv1.2" \
        "-tls1 -cipher $LEGACY" -i lo
    f=$TMP/tls-client-only-old-rejected.pcap
    [ "$(count "$f" "$TLS_SH")" -eq 0 ] || die "tls-client-only-old-rejected: unexpected ServerHello"
    [ "$(count "$f" "$TLS_ALERT")" -ge 1 ] || die "tls-client-only-old-rejected: no TLS alert"
    publish tls-client-only-old-rejected.pcap
fi

# --- DTLS over UDP -------------------------------------------------------------------
if wanted dtls12; then
    tls_capture dtls12.pcap udp 4444 "-dtls1_2" "-dtls1_2" -i lo
    check_server_hello dtls12.pcap udp; publish dtls12.pcap
fi
if wanted dtls10; then
    tls_capture dtls10.pcap udp 4444 "-dtls1 -cipher $LEGACY" "-dtls1 -cipher $LEGACY" -i lo
    check_server_hello dtls10.pcap udp; publish dtls10.pcap
fi

# --- link types / timestamp formats ---------------------------------------------------
if wanted tls12-any-sll2; then
    tls_capture tls12-any-sll2.pcap tcp 8443 "-tls1_2" "-tls1_2 -servername manager.example.test" \
        -i any -y LINUX_SLL2
    check_server_hello tls12-any-sll2.pcap tcp
    tcpdump -r "$TMP/tls12-any-sll2.pcap" -c 1 2>&1 >/dev/null | grep -q 'LINUX_SLL2' \
        || die "tls12-any-sll2: link type is not LINUX_SLL2"
    publish tls12-any-sll2.pcap
fi
if wanted tls13-nanosecond; then
    tls_capture tls13-nanosecond.pcap tcp 443 "-tls1_3" "-tls1_3 -servername portal.example.test" \
        -i lo --time-stamp-precision nano
    check_server_hello tls13-nanosecond.pcap tcp
    magic=$(od -An -tx4 -N4 "$TMP/tls13-nanosecond.pcap" | tr -d ' ')
    [ "$magic" = a1b23c4d ] || die "tls13-nanosecond: magic is $magic, not a1b23c4d"
    publish tls13-nanosecond.pcap
fi
if wanted mixed-linktypes; then
    for f in tls12.pcap tls12-any-sll2.pcap; do
        [ -s "$OUT/$f" ] || die "mixed-linktypes needs $f (generate it first)"
    done
    log "mixed-linktypes.pcapng: mergecap tls12.pcap tls12-any-sll2.pcap"
    mergecap -F pcapng -w "$TMP/mixed-linktypes.pcapng" "$OUT/tls12.pcap" "$OUT/tls12-any-sll2.pcap"
    encs=$(capinfos -E "$TMP/mixed-linktypes.pcapng")
    grep -q 'Ethernet' <<<"$encs" && grep -qi 'SLL2\|cooked.*v2' <<<"$encs" \
        || die "mixed-linktypes: expected Ethernet + SLL2 interfaces, got: $encs"
    publish mixed-linktypes.pcapng
fi

# --- HTTP ------------------------------------------------------------------------------
if wanted http-basic; then
    http_capture http-basic.pcap 8080 static -u "$BASIC_USER:$BASIC_PASS" http://127.0.0.1:8080/
    check_payload http-basic.pcap 'Authorization: Basic '; publish http-basic.pcap
fi
if wanted http-digest; then
    http_capture http-digest.pcap 8081 digest --digest -u "$DIGEST_USER:$DIGEST_PASS" \
        http://127.0.0.1:8081/provisioning/
    check_payload http-digest.pcap 'WWW-Authenticate: Digest'
    check_payload http-digest.pcap 'Authorization: Digest username="bob.dupont"'
    check_payload http-digest.pcap 'HTTP/1.1 200'
    publish http-digest.pcap
fi
if wanted http-proxy-basic; then
    http_capture http-proxy-basic.pcap 3128 proxy -x http://127.0.0.1:3128 \
        --proxy-user "$PROXY_USER:$PROXY_PASS" http://intranet.example.test/
    check_payload http-proxy-basic.pcap 'Proxy-Authorization: Basic '
    check_payload http-proxy-basic.pcap 'GET http://intranet.example.test/'
    publish http-proxy-basic.pcap
fi
if wanted http-plain; then
    http_capture http-plain.pcap 8080 static http://127.0.0.1:8080/
    tcpdump -nn -A -r "$TMP/http-plain.pcap" 2>/dev/null | grep -qi 'authorization:' \
        && die "http-plain: unexpected Authorization header"
    check_payload http-plain.pcap 'GET / HTTP/1.1'; publish http-plain.pcap
fi
if wanted http-port-5080; then
    http_capture http-port-5080.pcap 5080 static -u "$NONSTD_USER:$NONSTD_PASS" http://127.0.0.1:5080/
    check_payload http-port-5080.pcap 'Authorization: Basic '; publish http-port-5080.pcap
fi

# --- planted personal data (pd-*) ---------------------------------------------------------
# Fake personal data in cleartext protocols (must be found, reported masked) and in
# compressed / encrypted payloads (must not be found).  Values: PD_* above.
PD_FORM_ENC=('name=Jane+Doe' 'email=jane.doe%40example.com' 'card=4111+1111+1111+1111'
             'iban=DE89+3704+0044+0532+0130+00' 'phone=%2B44+1632+960961'
             "password=$PD_PASS")
if wanted pd-http-form; then
    # application/x-www-form-urlencoded POST; curl (7.88) --data-urlencode encodes
    # like a browser form: space -> '+', '@' -> %40, '+' -> %2B, [A-Za-z0-9._~-] as is
    http_capture pd-http-form.pcap 8080 pd \
        --data-urlencode 'name=Jane Doe' --data-urlencode "email=$PD_EMAIL" \
        --data-urlencode "card=$PD_CARD_VISA" --data-urlencode "iban=$PD_IBAN_DE" \
        --data-urlencode "phone=$PD_PHONE" --data-urlencode "password=$PD_PASS" \
        http://127.0.0.1:8080/signup
    f=pd-http-form.pcap
    check_payload $f 'POST /signup HTTP/1.1'
    check_payload $f 'Content-Type: application/x-www-form-urlencoded'
    check_bytes $f "$(IFS='&'; echo "${PD_FORM_ENC[*]}")"
    check_no_bytes $f "$PD_EMAIL" "$PD_CARD_VISA" "$PD_IBAN_DE" "$PD_PHONE"
    check_payload $f 'HTTP/1.1 200'; check_bytes $f 'signup received'
    check_syns $f 1
    publish $f
fi
PD_JSON_VALUES=("$PD_EMAIL" "$PD_PHONE" "$PD_IBAN_GB" "$PD_SSN" "$PD_NINO" "$PD_CARD_MC")
if wanted pd-http-json; then
    # two GETs on one keep-alive connection: Content-Length framing, then chunked
    http_capture pd-http-json.pcap 8080 pd -o "$TMP/pd-http-json.pcap.body2" \
        http://127.0.0.1:8080/directory/jane 'http://127.0.0.1:8080/directory/jane?chunked=1'
    f=pd-http-json.pcap
    check_payload $f 'GET /directory/jane HTTP/1.1'
    check_payload $f 'GET /directory/jane?chunked=1 HTTP/1.1'
    check_payload $f 'Content-Type: application/json'
    check_payload $f 'Transfer-Encoding: chunked'
    check_bytes $f "${PD_JSON_VALUES[@]}"
    [ "$(grep -aoF "$PD_EMAIL" "$TMP/$f" | wc -l)" -eq 2 ] || die "$f: expected the JSON twice"
    check_syns $f 1
    cmp -s "$TMP/$f.body" "$TMP/$f.body2" || die "$f: the two bodies differ"
    publish $f
fi
if wanted pd-http-gzip; then
    http_capture pd-http-gzip.pcap 8080 pd --compressed http://127.0.0.1:8080/directory/jane
    f=pd-http-gzip.pcap
    check_payload $f 'Accept-Encoding: '
    check_payload $f 'Content-Encoding: gzip'
    check_no_bytes $f "${PD_JSON_VALUES[@]}" 'jane.doe' 'Jane Doe'
    grep -qF "$PD_EMAIL" "$TMP/$f.body" || die "$f: curl's decompressed body lacks the JSON"
    check_syns $f 1
    publish $f
fi
if wanted pd-cdr-tcp; then
    # unclassified cleartext TCP: SMDR-like call records to a collector that never answers
    f=pd-cdr-tcp.pcap; port=1752
    log "$f: tools/cdr_feed.py send -> listen on tcp/$port"
    port_free tcp $port || die "tcp port $port is in use"
    python3 -u "$TOOLS/cdr_feed.py" listen $port >"$TMP/$f.server.log" 2>&1 &
    srv_pid=$!; PIDS+=("$srv_pid")
    wait_listen tcp $port
    start_capture $f "tcp port $port" -i lo
    timeout 20 python3 -u "$TOOLS/cdr_feed.py" send $port
    stop_capture $f
    stop_pid "$srv_pid"
    check_bytes $f '+441632960961 EXT 2001 ACCT jane.doe@example.com' 'PIN: 4096'
    check_syns $f 1
    [ "$(count "$TMP/$f" "tcp src port $port and tcp[tcpflags] & tcp-push != 0")" -eq 0 ] \
        || die "$f: the collector sent data"
    publish $f
fi
if wanted pd-syslog-udp; then
    # RFC 5424 syslog over UDP (util-linux logger) to a collector that never answers
    f=pd-syslog-udp.pcap; port=5514
    log "$f: logger -d --rfc5424 -> udp_sink on udp/$port"
    port_free udp $port || die "udp port $port is in use"
    python3 -u "$TOOLS/udp_sink.py" $port 3 >"$TMP/$f.server.log" 2>&1 &
    srv_pid=$!; PIDS+=("$srv_pid")
    wait_listen udp $port
    start_capture $f "udp port $port" -i lo
    # one logger process reading stdin: one message per line, all from one socket,
    # so the three datagrams form one UDP flow (as from a forwarding syslog daemon)
    { echo 'trunk T001 registered'; sleep 0.3
      echo "user $PD_EMAIL dialled $PD_PHONE card $PD_CARD_VISA"; sleep 0.3
      echo 'cdr export finished, 5 records'
    } | logger -n 127.0.0.1 -P $port -d --rfc5424 -t pbx
    stop_capture $f
    stop_pid "$srv_pid"
    check_bytes $f "user $PD_EMAIL dialled $PD_PHONE card $PD_CARD_VISA"
    [ "$(count "$TMP/$f" "udp dst port $port")" -eq 3 ] || die "$f: expected 3 datagrams"
    [ "$(tcpdump -nn -r "$TMP/$f" 2>/dev/null | awk '{print $3}' | sort -u | wc -l)" -eq 1 ] \
        || die "$f: datagrams from more than one source port"
    [ "$(grep -c '^udp_sink: ' "$TMP/$f.server.log")" -eq 3 ] || die "$f: the sink did not get 3 messages"
    publish $f
fi
if wanted pd-tls13-encrypted; then
    # the same kind of data inside TLS 1.3 application data: not visible on the wire
    TLS_CLIENT_LINE="card $PD_CARD_VISA mail $PD_EMAIL password=$PD_PASS" \
        tls_capture pd-tls13-encrypted.pcap tcp 8443 "-tls1_3" "-tls1_3" -i lo
    f=pd-tls13-encrypted.pcap
    check_server_hello $f tcp
    grep -qF "password=$PD_PASS" "$TMP/$f.server.log" || die "$f: s_server did not receive the line"
    check_no_bytes $f "$PD_CARD_VISA" "$PD_EMAIL" "$PD_PASS" 'LEAKCHECK' 'jane.doe' '4111'
    publish $f
fi

# --- voice: SIP, SDP, RTP (sip-*, rtp-*) ----------------------------------------------------
# Real calls between real user agents on 127.0.0.1: sipp (Debian sip-tester, scenarios in
# tools/sipp/) for the cleartext UDP / TCP calls and the RTP (sipp's own g711a.pcap and
# dtmf_2833_N.pcap, replayed with play_pcap_audio), baresip for real SDES-SRTP media and
# for SIP over TLS (Debian's sipp is built without OpenSSL: "-t l1" is refused).
VOICE_WANTED=0
for w in "${VOICE[@]}"; do if wanted "$w"; then VOICE_WANTED=1; fi; done
if [ $VOICE_WANTED = 1 ]; then
    need=()
    command -v sipp    >/dev/null || need+=(sip-tester)
    command -v baresip >/dev/null || need+=(baresip-core)
    command -v tshark  >/dev/null || need+=(tshark)
    command -v editcap >/dev/null || need+=(wireshark-common)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing: ${need[*]}"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
    fi
    # sipp's working directory: the scenarios with pcap/ next to them
    VDIR=$TMP/voice
    mkdir -p "$VDIR/pcap"
    cp "$TOOLS"/sipp/*.xml "$VDIR/"
    SIPP_PCAPS=$(dirname "$(dpkg -L sip-tester | grep '/g711a\.pcap$' | head -1)")
    [ -s "$SIPP_PCAPS/g711a.pcap" ] || die "sip-tester's g711a.pcap not found"
    # g711a.pcap: 236 packets of 30 ms (7 s); its first 80 (2.4 s) keep the calls short
    editcap -r "$SIPP_PCAPS/g711a.pcap" "$VDIR/pcap/g711a.pcap" 1-80
    for d in $(echo "$VOIP_RTP_DIGITS" | grep -o .); do
        cp "$SIPP_PCAPS/dtmf_2833_$d.pcap" "$VDIR/pcap/"
    done
fi

tsh() {  # tsh FILE TSHARK-ARGS...: tshark on a capture in $TMP
    local f=$1; shift
    tshark -r "$TMP/$f" "$@" 2>/dev/null
}
sip_seq() {  # sip_seq FILE [TSHARK-ARGS...]: SIP methods / status codes in order
    local f=$1; shift
    tsh "$f" "$@" -Y sip -T fields -e sip.Method -e sip.Status-Code | tr -d '\t' | paste -sd' ' -
}
expect_eq() {  # expect_eq FILE WHAT GOT WANT
    [ "$3" = "$4" ] || die "$1: $2 is '$3', expected '$4'"
}

# sipp_call FILE FILTER LISTEN-PROTO LISTEN-PORT "UAS ARGS" "UAC ARGS"
# One call: sipp UAS (-m 1) in the background, capture, sipp UAC (-m 1) to it.  Both run
# in $VDIR and must exit 0 (every message of the scenario sent / received as written).
sipp_call() {
    local file=$1 filter=$2 lproto=$3 lport=$4 uas_pid rc=0 i
    local -a ua uc
    read -r -a ua <<<"$5"
    read -r -a uc <<<"$6"
    log "$file: sipp $5  <-  sipp $6"
    port_free "$lproto" "$lport" || die "$lproto port $lport is in use"
    (cd "$VDIR" && exec sipp "${ua[@]}" -m 1 -nostdin -timeout 30s -trace_err) \
        >"$TMP/$file.uas.log" 2>&1 &
    uas_pid=$!
    PIDS+=("$uas_pid")
    wait_listen "$lproto" "$lport"
    start_capture "$file" "$filter" -i lo
    (cd "$VDIR" && exec timeout 40 sipp "${uc[@]}" -m 1 -nostdin -timeout 30s -trace_err) \
        >"$TMP/$file.uac.log" 2>&1 || rc=$?
    [ $rc = 0 ] || die "$file: sipp UAC exited $rc: $(tail -5 "$TMP/$file.uac.log"; cat "$VDIR"/*errors.log 2>/dev/null)"
    # the UAS ends by itself (-m 1) once the BYE is answered (+ its timewait)
    for i in $(seq 100); do kill -0 "$uas_pid" 2>/dev/null || break; sleep 0.1; done
    rc=0; wait "$uas_pid" || rc=$?
    forget_pid "$uas_pid"
    [ $rc = 0 ] || die "$file: sipp UAS exited $rc: $(tail -5 "$TMP/$file.uas.log")"
    stop_capture "$file"
    rm -f "$VDIR"/*errors.log
}

# baresip_config DIR SIP-LISTEN RTP-PORTS ACCOUNT-LINE [SIP-CERTIFICATE]
# No sound card: a 440 Hz sine (ausine, 48 kHz stereo, resampled to 8 kHz) as the
# microphone, a bridge to nowhere (aubridge) as the speaker.  Only PCMA is offered.
baresip_config() {
    mkdir -p "$1"
    {
        printf '%s\n' 'poll_method epoll' "sip_listen $2"
        [ -z "${5:-}" ] || printf '%s\n' "sip_certificate $5"
        printf '%s\n' 'call_local_timeout 120' 'call_max_calls 4' \
            'audio_player aubridge,nil' 'audio_alert aubridge,nil' 'audio_source ausine,440' \
            'ausrc_srate 48000' 'ausrc_channels 2' 'auplay_srate 48000' 'audio_level no' \
            "rtp_ports $3" 'rtcp_mux no' 'rtp_stats no' 'net_interface 127.0.0.1' \
            'module_path /usr/lib/baresip/modules' \
            'module g711.so' 'module ausine.so' 'module aubridge.so' 'module srtp.so' \
            'module_tmp uuid.so' 'module_tmp account.so' 'module_app menu.so'
    } >"$1/config"
    printf '%s\n' "$4" >"$1/accounts"
}

# baresip_call FILE FILTER LISTEN-PROTO LISTEN-PORT CALLER-DIR CALLEE-DIR DIAL-URI
# The callee (answermode=auto) waits; the caller dials at start-up and quits after
# 3 s, which hangs up (BYE).  Both must log the call established, SRTP on, then ended.
baresip_call() {
    local file=$1 filter=$2 lproto=$3 lport=$4 caller=$5 callee=$6 uri=$7 callee_pid rc=0 l
    log "$file: baresip ($caller) dials $uri, baresip ($callee) answers"
    port_free "$lproto" "$lport" || die "$lproto port $lport is in use"
    baresip -4 -f "$callee" -t 20 </dev/null >"$TMP/$file.callee.log" 2>&1 &
    callee_pid=$!
    PIDS+=("$callee_pid")
    wait_listen "$lproto" "$lport"
    start_capture "$file" "$filter" -i lo
    timeout 20 baresip -4 -f "$caller" -t 3 -e "/dial $uri" </dev/null \
        >"$TMP/$file.caller.log" 2>&1 || rc=$?
    [ $rc = 0 ] || die "$file: baresip caller exited $rc: $(tail -5 "$TMP/$file.caller.log")"
    stop_capture "$file"
    kill -TERM "$callee_pid" 2>/dev/null || true
    stop_pid "$callee_pid"
    for l in caller callee; do
        grep -aq 'Call established' "$TMP/$file.$l.log" || die "$file: $l: no call established"
        grep -aq 'SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)' "$TMP/$file.$l.log" \
            || die "$file: $l: SRTP not enabled"
        grep -aq ' terminated (duration' "$TMP/$file.$l.log" || die "$file: $l: call did not end"
    done
}

if wanted sip-udp-g711-dtmf; then
    # SIP/UDP 5061 -> 5060, RTP 6000 -> 6010 (sipp binds -mp and -mp+2: keep them apart)
    f=sip-udp-g711-dtmf.pcap
    sipp_call $f 'udp and (port 5060 or port 5061 or portrange 6000-6013)' udp 5060 \
        "-sf uas-g711-dtmf.xml -i 127.0.0.1 -p 5060 -mi 127.0.0.1 -mp 6010" \
        "-sf uac-g711-dtmf.xml 127.0.0.1:5060 -i 127.0.0.1 -p 5061 -mi 127.0.0.1 -mp 6000"
    check_bytes $f 'From: "Jane Doe" <sip:+441632960961@127.0.0.1:5061>;tag=' \
        'To: <sip:2001@127.0.0.1:5060>' \
        'P-Asserted-Identity: "Jane Doe" <sip:+441632960961@example.test>' \
        'Contact: <sip:+441632960961@127.0.0.1:5061;transport=UDP>' \
        'o=jdoe 53655765 2353687637 IN IP4 127.0.0.1' 'm=audio 6000 RTP/AVP 8 101' \
        'm=audio 6010 RTP/AVP 8 101' 'a=rtpmap:8 PCMA/8000' 'a=rtpmap:101 telephone-event/8000' \
        'a=fmtp:101 0-16' 'Content-Type: application/dtmf-relay'
    expect_eq $f 'SIP exchange' "$(sip_seq $f)" \
        "INVITE 180 200 ACK $(for i in $(seq 16); do printf 'INFO 200 '; done)BYE 200"
    got=$(tsh $f -Y 'sip.Method==INFO' -V | sed -n 's/^ *Signal=\([0-9A-D*#]\)\\r\\n$/\1/p' | paste -sd '' -)
    expect_eq $f 'INFO durations' "$(tsh $f -Y 'sip.Method==INFO' -V | grep -c '^ *Duration=160\\r\\n$')" 16
    expect_eq $f 'SIP INFO digits' "$got" "$VOIP_INFO_DIGITS"
    R=(-d udp.port==6010,rtp)
    expect_eq $f 'RTP flows' "$(tsh $f "${R[@]}" -Y rtp -T fields -e udp.srcport -e udp.dstport | sort -u | tr '\t' ' ')" '6000 6010'
    expect_eq $f 'PCMA packets' "$(tsh $f "${R[@]}" -Y 'rtp.p_type==8 && rtp.ssrc==0xdee0ee8f' | wc -l)" 80
    expect_eq $f 'RTP event packets' "$(tsh $f "${R[@]}" -Y 'rtp.p_type==101 && rtp.ssrc==0x0e05384e' | wc -l)" 40
    expect_eq $f 'RTP event digits' "$(tsh $f "${R[@]}" -Y 'rtpevent && rtp.marker==1' -T fields -e rtpevent.event_id | paste -sd '' -)" "$VOIP_RTP_DIGITS"
    publish $f
fi
if wanted sip-tcp; then
    # SIP/TCP 5081 -> 5080 (not a SIP port: classify by content); Digest challenge; no media
    f=sip-tcp.pcap
    sipp_call $f 'tcp port 5080' tcp 5080 \
        "-sf uas-tcp-auth.xml -t t1 -i 127.0.0.1 -p 5080 -mi 127.0.0.1 -mp 6030 -key authuser $VOIP_USER -key authpass $VOIP_PASS" \
        "-sf uac-tcp-auth.xml 127.0.0.1:5080 -t t1 -i 127.0.0.1 -p 5081 -mi 127.0.0.1 -mp 6020 -au $VOIP_USER -ap $VOIP_PASS -auth_uri +441632960961@127.0.0.1:5080;transport=tcp"
    check_syns $f 1
    check_bytes $f 'From: "Jane Doe" <sip:2001@127.0.0.1:5081>;tag=' \
        'To: <sip:+441632960961@127.0.0.1:5080>' \
        'WWW-Authenticate: Digest realm="pbx.example.test", nonce="' \
        "Authorization: Digest username=\"$VOIP_USER\",realm=\"pbx.example.test\"," \
        'uri="sip:+441632960961@127.0.0.1:5080;transport=tcp"' \
        'm=audio 6020 RTP/AVP 8 101'
    check_no_bytes $f "$VOIP_PASS" 'LEAKCHECK'
    expect_eq $f 'SIP exchange' "$(sip_seq $f -d tcp.port==5080,sip)" 'INVITE 401 ACK INVITE 180 200 ACK BYE 200'
    expect_eq $f 'UDP packets' "$(count "$TMP/$f" udp)" 0
    publish $f
fi
if wanted sip-sdes-srtp; then
    # SIP/UDP 5062 -> 5060 in clear, SDP with a=crypto (SDES), SRTP 7000 <-> 7010,
    # SRTCP 7001 <-> 7011.  The keys are random (baresip draws them per call).
    f=sip-sdes-srtp.pcap
    baresip_config "$TMP/bs-jane" 127.0.0.1:5062 7000-7001 \
        '"Jane Doe" <sip:+441632960961@127.0.0.1:5062>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMA/8000/1'
    baresip_config "$TMP/bs-2001" 127.0.0.1:5060 7010-7011 \
        '<sip:2001@127.0.0.1:5060>;regint=0;answermode=auto;mediaenc=srtp-mand;audio_codecs=PCMA/8000/1'
    baresip_call $f 'udp and (port 5060 or port 5062 or portrange 7000-7011)' udp 5060 \
        "$TMP/bs-jane" "$TMP/bs-2001" sip:2001@127.0.0.1:5060
    check_bytes $f 'From: "Jane Doe" <sip:+441632960961@127.0.0.1:5062>;tag=' \
        'To: <sip:2001@127.0.0.1:5060>' 'm=audio 7000 RTP/SAVP 8 101' 'm=audio 7010 RTP/SAVP 8 101'
    expect_eq $f 'SIP exchange' "$(sip_seq $f)" 'INVITE 180 200 ACK BYE 200'
    [ "$(grep -aoE 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}'$'\r' "$TMP/$f" | sort -u | wc -l)" -eq 2 ] \
        || die "$f: expected two a=crypto lines (offer and answer)"
    R=(-d udp.port==7000,rtp -d udp.port==7010,rtp)
    expect_eq $f 'RTP flows' "$(tsh $f "${R[@]}" -Y rtp -T fields -e udp.srcport -e udp.dstport | sort -u | paste -sd' ' - | tr '\t' ' ')" '7000 7010 7010 7000'
    # SRTP: 160 bytes of PCMA (20 ms) + the 10-byte HMAC-SHA1-80 tag in every packet
    expect_eq $f 'SRTP payload sizes' "$(tsh $f "${R[@]}" -Y rtp -T fields -e udp.length | sort -u)" 190
    [ "$(count "$TMP/$f" 'udp src port 7000')" -ge 100 ] && [ "$(count "$TMP/$f" 'udp src port 7010')" -ge 100 ] \
        || die "$f: too few media packets"
    [ "$(count "$TMP/$f" 'udp port 7001')" -ge 2 ] || die "$f: no RTCP"
    publish $f
fi
if wanted sip-tls; then
    # SIP over TLS: baresip caller (TLS client, ephemeral port) -> callee on 127.0.0.1:5061
    # (the throwaway certificate); SRTP media, not captured.  Nothing of SIP in clear.
    f=sip-tls.pcap
    cat "$TMP/cert.pem" "$TMP/key.pem" >"$TMP/sip-tls-cert+key.pem"
    baresip_config "$TMP/bs-jane-tls" 127.0.0.1:5062 7000-7001 \
        '"Jane Doe" <sip:+441632960961@127.0.0.1:5063;transport=tls>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMA/8000/1'
    baresip_config "$TMP/bs-2001-tls" 127.0.0.1:5060 7010-7011 \
        '<sip:2001@127.0.0.1:5061;transport=tls>;regint=0;answermode=auto;mediaenc=srtp-mand;audio_codecs=PCMA/8000/1' \
        "$TMP/sip-tls-cert+key.pem"
    baresip_call $f 'tcp port 5061' tcp 5061 "$TMP/bs-jane-tls" "$TMP/bs-2001-tls" \
        sip:2001@127.0.0.1:5061
    check_syns $f 1
    check_server_hello $f tcp
    expect_eq $f 'negotiated version (ServerHello supported_versions)' \
        "$(tsh $f -Y 'tls.handshake.type==2' -T fields -e tls.handshake.extensions.supported_version)" 0x0304
    check_no_bytes $f 'SIP/2.0' 'INVITE' 'Jane Doe' '441632960961' 'a=crypto' 'sip:2001'
    publish $f
fi
if wanted rtp-no-signalling; then
    # a sipp call whose SIP (UDP 5071 -> 5070) is left out: RTP 16400 -> 16384 only
    f=rtp-no-signalling.pcap
    sipp_call $f 'udp port 16384' udp 5070 \
        "-sf uas-basic.xml -i 127.0.0.1 -p 5070 -mi 127.0.0.1 -mp 16384" \
        "-sf uac-rtp-only.xml 127.0.0.1:5070 -i 127.0.0.1 -p 5071 -mi 127.0.0.1 -mp 16400"
    check_no_bytes $f 'SIP/2.0' 'v=0'
    R=(-d udp.port==16384,rtp)
    expect_eq $f 'packets' "$(count "$TMP/$f" 'udp src port 16400 and udp dst port 16384')" 80
    expect_eq $f 'PCMA packets' "$(tsh $f "${R[@]}" -Y 'rtp.p_type==8 && rtp.ssrc==0xdee0ee8f' | wc -l)" 80
    publish $f
fi

# --- mgmt: LDAP, SNMP, MQTT, MODBUS, mail, FTP, Telnet, syslog/TCP, ESPA 4.4.4, AXI ----------
# Real servers where Debian has one (slapd, snmpd, mosquitto, dovecot, inetutils telnetd,
# util-linux logger) or a PyPI one (aiosmtpd, pymodbus, pyftpdlib, in a venv under /tmp);
# small Python stand-ins in tools/ for ESPA 4.4.4 and the SIP-DECT AXI (no implementation
# exists to install).  Servers bind 127.0.0.1 on unprivileged ports; configs, databases and
# keys live in $TMP.  Planted values: the LDAP_*, SNMP_*, MQTT_*, MAIL_*, TELNET_*, ESPA_*,
# AXI_* and PD_* variables at the top.
MGMT_WANTED=0
for w in "${MGMT[@]}"; do if wanted "$w"; then MGMT_WANTED=1; fi; done
VENV=/tmp/cleartrace-pcaps-venv            # kept between runs; never inside the repository
VENV_REQS=(pymodbus==3.6.9 aiosmtpd==1.4.6 pyftpdlib==1.5.10)
if [ $MGMT_WANTED = 1 ]; then
    need=()
    command -v slapd        >/dev/null || need+=(slapd)
    command -v ldapsearch   >/dev/null || need+=(ldap-utils)
    command -v snmpd        >/dev/null || need+=(snmpd)
    command -v snmpget      >/dev/null || need+=(snmp)
    command -v mosquitto    >/dev/null || need+=(mosquitto)
    command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
    [ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
    [ -e /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
    [ -x /usr/sbin/telnetd ] || need+=(inetutils-telnetd)
    command -v telnet       >/dev/null || need+=(inetutils-telnet)
    command -v expect       >/dev/null || need+=(expect)
    command -v setpriv      >/dev/null || need+=(util-linux)
    command -v tshark       >/dev/null || need+=(tshark)
    python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
    if [ ${#need[@]} -gt 0 ]; then
        # on a machine with systemd, installing slapd / snmpd / mosquitto / dovecot also
        # starts their system services (on the standard ports, not the ones used here)
        log "installing: ${need[*]}"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
    fi
    if [ "$("$VENV/bin/pip" freeze 2>/dev/null | grep -ciE '^(pymodbus==3\.6\.9|aiosmtpd==1\.4\.6|pyftpdlib==1\.5\.10)$')" != 3 ]; then
        log "python venv $VENV: ${VENV_REQS[*]}"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q "${VENV_REQS[@]}"
    fi
    VPY=$VENV/bin/python
fi

# bg LOG CMD...: start a server in the background, its output in LOG; sets BG_PID
bg() {
    local logf=$1; shift
    "$@" >"$logf" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}
# bg_stop PID: SIGTERM a server started with bg and wait for it
bg_stop() {
    kill -TERM "$1" 2>/dev/null || true
    stop_pid "$1"
}
# count_bytes FILE FIXED-STRING: how many times the string occurs in the capture bytes
count_bytes() {
    LC_ALL=C grep -aoF -- "$2" "$TMP/$1" | wc -l
}
# payloads FILE PORT: the TCP payloads in order, one per line, "c>HEX" (to PORT) or "s>HEX"
payloads() {
    tsh "$1" -Y 'tcp.len > 0' -T fields -e tcp.dstport -e tcp.payload |
        awk -F'\t' -v p="$2" '{ print ($1 == p ? "c>" : "s>") $2 }' | tr -d ':'
}
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# --- LDAP ----------------------------------------------------------------------------------
LDAP_PORT=3389
# ldap_start DIR: slapd with a slapd.conf generated in DIR, an empty mdb database, the
# throwaway certificate for StartTLS; userPassword readable by nobody (only usable to bind)
ldap_start() {
    local d=$1
    rm -rf "$d"; mkdir -p "$d/db"
    cat >"$d/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $d/slapd.pid
TLSCertificateFile $TMP/cert.pem
TLSCertificateKeyFile $TMP/key.pem
database mdb
maxsize 16777216
suffix "$LDAP_BASE"
rootdn "$LDAP_ADMIN_DN"
rootpw "$LDAP_ADMIN_PASS"
directory $d/db
access to attrs=userPassword by anonymous auth by * none
access to * by * read
EOF
    cat >"$d/jane.ldif" <<EOF
dn: $LDAP_BASE
objectClass: dcObject
objectClass: organization
dc: example
o: Example PBX

dn: ou=people,$LDAP_BASE
objectClass: organizationalUnit
ou: people

dn: $LDAP_USER_DN
objectClass: inetOrgPerson
cn: $PD_NAME
sn: Doe
givenName: Jane
displayName: $PD_NAME
mail: $PD_EMAIL
telephoneNumber: $PD_PHONE
mobile: $PD_MOBILE
title: Ward Nurse
userPassword: $LDAP_USER_PASS
EOF
    # client side: no ~/.ldaprc, no /etc/ldap/ldap.conf; the self-signed certificate is
    # accepted without verification (TLS_REQCERT never)
    printf 'TLS_REQCERT never\n' >"$d/ldap.conf"
    port_free tcp $LDAP_PORT || die "tcp port $LDAP_PORT is in use"
    bg "$d/slapd.log" slapd -h "ldap://127.0.0.1:$LDAP_PORT/" -f "$d/slapd.conf" -d 256
    LDAP_PID=$BG_PID
    wait_listen tcp $LDAP_PORT
}
ldapc() {  # ldapc DIR CMD ARGS...: an ldap-utils client with DIR's ldap.conf only
    local d=$1; shift
    HOME=$d LDAPCONF=$d/ldap.conf "$@"
}
ldap_add() { ldapc "$1" ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT/" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PASS" -f "$1/jane.ldif"; }
ldap_search() {  # ldap_search DIR [-ZZ]
    local d=$1; shift
    ldapc "$d" ldapsearch -x "$@" -H "ldap://127.0.0.1:$LDAP_PORT/" -D "$LDAP_USER_DN" \
        -w "$LDAP_USER_PASS" -b "$LDAP_BASE" "(cn=$PD_NAME)"
}
LDAP_ENTRY_LINES=("dn: $LDAP_USER_DN" "cn: $PD_NAME" 'sn: Doe' 'givenName: Jane'
                  "displayName: $PD_NAME" "mail: $PD_EMAIL" "telephoneNumber: $PD_PHONE"
                  "mobile: $PD_MOBILE" 'title: Ward Nurse')
check_ldap_result() {  # check_ldap_result FILE OUTPUT: ldapsearch printed exactly Jane's entry
    local l
    for l in "${LDAP_ENTRY_LINES[@]}"; do grep -qxF -- "$l" "$2" || die "$1: ldapsearch output lacks '$l'"; done
    grep -qi '^userPassword' "$2" && die "$1: ldapsearch returned userPassword"
    grep -qx '# numEntries: 1' "$2" || die "$1: ldapsearch did not return exactly one entry"
}
LDAP_D=(-d tcp.port==$LDAP_PORT,ldap)
if wanted ldap-simple-bind; then
    # connection 1: ldapadd bound as the rootdn (simple bind), 3 entries; connection 2:
    # ldapsearch bound as Jane (simple bind), her entry comes back in clear
    f=ldap-simple-bind.pcap
    log "$f: slapd on tcp/$LDAP_PORT; ldapadd (simple bind as rootdn), ldapsearch -x (simple bind as Jane)"
    ldap_start "$TMP/ldap1"
    start_capture $f "tcp port $LDAP_PORT" -i lo
    ldap_add "$TMP/ldap1" >"$TMP/$f.add.log"
    sleep 0.3
    ldap_search "$TMP/ldap1" >"$TMP/$f.search.out"
    stop_capture $f
    bg_stop "$LDAP_PID"
    check_ldap_result $f "$TMP/$f.search.out"
    check_syns $f 2
    # protocolOp: 0 bind, 1 bindResponse, 8 add, 9 addResponse, 2 unbind, 3 search,
    # 4 searchResEntry, 5 searchResDone
    expect_eq $f 'LDAP operations' "$(tsh $f "${LDAP_D[@]}" -Y ldap -T fields -e ldap.protocolOp | paste -sd' ' -)" \
        '0 1 8 9 8 9 8 9 2 0 1 3 4 5 2'
    expect_eq $f 'simple binds (dn, password)' \
        "$(tsh $f "${LDAP_D[@]}" -Y 'ldap.protocolOp==0' -T fields -e ldap.name -e ldap.simple | paste -sd'|' -)" \
        "$LDAP_ADMIN_DN	$LDAP_ADMIN_PASS|$LDAP_USER_DN	$LDAP_USER_PASS"
    expect_eq $f 'result codes' "$(tsh $f "${LDAP_D[@]}" -Y 'ldap.resultCode' -T fields -e ldap.resultCode | sort -u)" 0
    expect_eq $f 'searchResEntry attribute types' \
        "$(tsh $f "${LDAP_D[@]}" -Y 'ldap.protocolOp==4' -T fields -e ldap.type)" \
        'objectClass,cn,sn,givenName,displayName,mail,telephoneNumber,mobile,title'
    check_bytes $f "$LDAP_ADMIN_PASS" "$LDAP_USER_PASS" "$LDAP_USER_DN" "$PD_EMAIL" "$PD_PHONE" "$PD_MOBILE"
    # the user password: in Jane's bind and in the userPassword value of the add, not in the search result
    expect_eq $f "occurrences of $LDAP_USER_PASS" "$(count_bytes $f "$LDAP_USER_PASS")" 2
    expect_eq $f "occurrences of $PD_EMAIL" "$(count_bytes $f "$PD_EMAIL")" 2
    publish $f
fi
if wanted ldap-starttls; then
    # the same search with -ZZ: StartTLS extended operation, then TLS, then bind + search
    f=ldap-starttls.pcap
    log "$f: slapd on tcp/$LDAP_PORT; ldapsearch -ZZ (StartTLS required), simple bind inside TLS"
    ldap_start "$TMP/ldap2"
    ldap_add "$TMP/ldap2" >"$TMP/$f.add.log"      # not captured
    start_capture $f "tcp port $LDAP_PORT" -i lo
    ldap_search "$TMP/ldap2" -ZZ >"$TMP/$f.search.out"
    stop_capture $f
    bg_stop "$LDAP_PID"
    check_ldap_result $f "$TMP/$f.search.out"
    check_syns $f 1
    # protocolOp 23 extendedReq (StartTLS OID), 24 extendedResp success, then only TLS
    expect_eq $f 'cleartext LDAP' \
        "$(tsh $f "${LDAP_D[@]}" -Y 'ldap.protocolOp' -T fields -e ldap.protocolOp -e ldap.requestName -e ldap.resultCode | tr '\t' ' ' | paste -sd'|' -)" \
        '23 1.3.6.1.4.1.1466.20037 |24  0'
    check_server_hello $f tcp
    grep -q 'STARTTLS' "$TMP/ldap2/slapd.log" || die "$f: slapd did not log STARTTLS"
    check_no_bytes $f "$LDAP_USER_PASS" 'LEAKCHECK' "$PD_NAME" 'jane.doe' '1632' 'ou=people'
    publish $f
fi

# --- SNMP ------------------------------------------------------------------------------------
SNMP_PORT=1161
OID_CONTACT=1.3.6.1.2.1.1.4.0; OID_LOCATION=1.3.6.1.2.1.1.6.0
SNMP_ANY=0
for w in snmp-v1-v2c snmp-tcp snmp-v3 snmp-v3-authpriv; do if wanted "$w"; then SNMP_ANY=1; fi; done
if [ $SNMP_ANY = 1 ]; then
    # one snmpd (net-snmp) for the three SNMP captures: UDP and TCP 127.0.0.1:1161,
    # no default config files (-C), persistent state (the v3 users) in the temp dir
    SD=$TMP/snmp
    mkdir -p "$SD/persist" "$SD/client/cert_indexes"   # (net-snmp would announce creating it)
    chmod 700 "$SD/client/cert_indexes"
    cat >"$SD/snmpd.conf" <<EOF
agentaddress udp:127.0.0.1:$SNMP_PORT,tcp:127.0.0.1:$SNMP_PORT
rocommunity $SNMP_V1_COMMUNITY 127.0.0.1
rocommunity $SNMP_V2C_COMMUNITY 127.0.0.1
syscontact $SNMP_CONTACT
syslocation $SNMP_LOCATION
sysname pbx-event-manager
createUser $SNMP_V3_USER SHA "$SNMP_V3_AUTH_PASS" AES "$SNMP_V3_PRIV_PASS"
createUser $SNMP_V3_NOAUTH_USER
rouser $SNMP_V3_USER noauth
rouser $SNMP_V3_NOAUTH_USER noauth
EOF
    port_free udp $SNMP_PORT && port_free tcp $SNMP_PORT || die "port $SNMP_PORT is in use"
    bg "$SD/snmpd.log" env SNMP_PERSISTENT_DIR="$SD/persist" snmpd -f -C -c "$SD/snmpd.conf" -Lo -p "$SD/snmpd.pid"
    SNMPD_PID=$BG_PID
    wait_listen udp $SNMP_PORT; wait_listen tcp $SNMP_PORT
fi
snmpc() {  # snmpc CMD ARGS...: net-snmp client, no config files, no MIBs, numeric OIDs
    env MIBS= SNMPCONFPATH="$SD/client" SNMP_PERSISTENT_DIR="$SD/client" timeout 20 "$@"
}
SNMP_D=(-d udp.port==$SNMP_PORT,snmp -d tcp.port==$SNMP_PORT,snmp)
if wanted snmp-v1-v2c; then
    f=snmp-v1-v2c.pcap
    log "$f: snmpget -v1 -c $SNMP_V1_COMMUNITY, snmpget -v2c -c (secret) -> snmpd udp/$SNMP_PORT"
    start_capture $f "udp port $SNMP_PORT" -i lo
    snmpc snmpget -On -v1 -c "$SNMP_V1_COMMUNITY" 127.0.0.1:$SNMP_PORT $OID_CONTACT $OID_LOCATION >"$TMP/$f.out1"
    sleep 0.3
    snmpc snmpget -On -v2c -c "$SNMP_V2C_COMMUNITY" 127.0.0.1:$SNMP_PORT $OID_CONTACT >"$TMP/$f.out2"
    stop_capture $f
    grep -qF ".$OID_CONTACT = STRING: \"$SNMP_CONTACT\"" "$TMP/$f.out1" &&
        grep -qF ".$OID_LOCATION = STRING: \"$SNMP_LOCATION\"" "$TMP/$f.out1" &&
        grep -qF ".$OID_CONTACT = STRING: \"$SNMP_CONTACT\"" "$TMP/$f.out2" || die "$f: unexpected snmpget output"
    # version 0 = v1, 1 = v2c; PDU 0 get-request, 2 get-response
    expect_eq $f 'SNMP messages (version community PDU OIDs values)' \
        "$(tsh $f "${SNMP_D[@]}" -Y snmp -T fields -e snmp.version -e snmp.community -e snmp.data -e snmp.name -e snmp.value.octets | tr '\t' ' ' | paste -sd'|' -)" \
        "0 $SNMP_V1_COMMUNITY 0 $OID_CONTACT,$OID_LOCATION |0 $SNMP_V1_COMMUNITY 2 $OID_CONTACT,$OID_LOCATION $(hex "$SNMP_CONTACT"),$(hex "$SNMP_LOCATION")|1 $SNMP_V2C_COMMUNITY 0 $OID_CONTACT |1 $SNMP_V2C_COMMUNITY 2 $OID_CONTACT $(hex "$SNMP_CONTACT")"
    publish $f
fi
if wanted snmp-tcp; then
    f=snmp-tcp.pcap
    log "$f: snmpget -v2c -c $SNMP_V1_COMMUNITY tcp:127.0.0.1:$SNMP_PORT"
    start_capture $f "tcp port $SNMP_PORT" -i lo
    snmpc snmpget -On -v2c -c "$SNMP_V1_COMMUNITY" tcp:127.0.0.1:$SNMP_PORT $OID_CONTACT $OID_LOCATION >"$TMP/$f.out"
    stop_capture $f
    grep -qF ".$OID_LOCATION = STRING: \"$SNMP_LOCATION\"" "$TMP/$f.out" || die "$f: unexpected snmpget output"
    check_syns $f 1
    expect_eq $f 'SNMP messages (version community PDU OIDs values)' \
        "$(tsh $f "${SNMP_D[@]}" -Y snmp -T fields -e snmp.version -e snmp.community -e snmp.data -e snmp.name -e snmp.value.octets | tr '\t' ' ' | paste -sd'|' -)" \
        "1 $SNMP_V1_COMMUNITY 0 $OID_CONTACT,$OID_LOCATION |1 $SNMP_V1_COMMUNITY 2 $OID_CONTACT,$OID_LOCATION $(hex "$SNMP_CONTACT"),$(hex "$SNMP_LOCATION")"
    publish $f
fi
if wanted snmp-v3; then
    f=snmp-v3.pcap
    log "$f: snmpget -v3 noAuthNoPriv ($SNMP_V3_NOAUTH_USER), authNoPriv and authPriv ($SNMP_V3_USER)"
    start_capture $f "udp port $SNMP_PORT" -i lo
    snmpc snmpget -On -v3 -l noAuthNoPriv -u "$SNMP_V3_NOAUTH_USER" 127.0.0.1:$SNMP_PORT $OID_CONTACT >"$TMP/$f.out1"
    sleep 0.3
    snmpc snmpget -On -v3 -l authNoPriv -u "$SNMP_V3_USER" -a SHA -A "$SNMP_V3_AUTH_PASS" \
        127.0.0.1:$SNMP_PORT $OID_CONTACT >"$TMP/$f.out2"
    sleep 0.3
    snmpc snmpget -On -v3 -l authPriv -u "$SNMP_V3_USER" -a SHA -A "$SNMP_V3_AUTH_PASS" \
        -x AES -X "$SNMP_V3_PRIV_PASS" 127.0.0.1:$SNMP_PORT $OID_CONTACT >"$TMP/$f.out3"
    stop_capture $f
    for i in 1 2 3; do
        grep -qF ".$OID_CONTACT = STRING: \"$SNMP_CONTACT\"" "$TMP/$f.out$i" || die "$f: get $i failed"
    done
    # msgFlags: 04 reportable, 05 auth+reportable, 07 auth+priv+reportable (00 / 01 / 03: answers)
    expect_eq $f 'SNMPv3 messages (user flags)' \
        "$(tsh $f "${SNMP_D[@]}" -Y snmp -T fields -e snmp.msgUserName -e snmp.msgFlags | tr '\t' ' ' | paste -sd'|' -)" \
        " 04| 00|$SNMP_V3_NOAUTH_USER 04|$SNMP_V3_NOAUTH_USER 00| 04| 00|$SNMP_V3_USER 05|$SNMP_V3_USER 01| 04| 00|$SNMP_V3_USER 07|$SNMP_V3_USER 03"
    expect_eq $f 'encrypted PDUs' "$(tsh $f "${SNMP_D[@]}" -Y snmp.encryptedPDU | wc -l)" 2
    # sysContact in clear in the noAuthNoPriv and authNoPriv answers only
    expect_eq $f 'sysContact in clear' "$(count_bytes $f "$SNMP_CONTACT")" 2
    check_no_bytes $f "$SNMP_V3_AUTH_PASS" "$SNMP_V3_PRIV_PASS" 'LEAKCHECK'
    publish $f
fi
if wanted snmp-v3-authpriv; then
    # the "after" of a hardening pair: the get of snmp-v1-v2c.pcap at SNMPv3 authPriv only
    f=snmp-v3-authpriv.pcap
    log "$f: snmpget -v3 authPriv ($SNMP_V3_USER) -> snmpd udp/$SNMP_PORT"
    start_capture $f "udp port $SNMP_PORT" -i lo
    snmpc snmpget -On -v3 -l authPriv -u "$SNMP_V3_USER" -a SHA -A "$SNMP_V3_AUTH_PASS" \
        -x AES -X "$SNMP_V3_PRIV_PASS" 127.0.0.1:$SNMP_PORT $OID_CONTACT >"$TMP/$f.out"
    stop_capture $f
    grep -qF ".$OID_CONTACT = STRING: \"$SNMP_CONTACT\"" "$TMP/$f.out" || die "$f: get failed"
    expect_eq $f 'SNMPv3 messages (user flags)' \
        "$(tsh $f "${SNMP_D[@]}" -Y snmp -T fields -e snmp.msgUserName -e snmp.msgFlags | tr '\t' ' ' | paste -sd'|' -)" \
        " 04| 00|$SNMP_V3_USER 07|$SNMP_V3_USER 03"
    expect_eq $f 'encrypted PDUs' "$(tsh $f "${SNMP_D[@]}" -Y snmp.encryptedPDU | wc -l)" 2
    expect_eq $f 'sysContact in clear' "$(count_bytes $f "$SNMP_CONTACT")" 0
    check_no_bytes $f "$SNMP_V3_AUTH_PASS" "$SNMP_V3_PRIV_PASS" 'LEAKCHECK'
    publish $f
fi
[ $SNMP_ANY = 0 ] || bg_stop "$SNMPD_PID"

# --- MQTT ------------------------------------------------------------------------------------
if wanted mqtt; then
    # mosquitto (password file + anonymous allowed); an anonymous MQTT 3.1.1 subscriber;
    # two publishers with user / password: MQTT 3.1.1, then MQTT 5
    f=mqtt.pcap; port=1883; MD=$TMP/mqtt
    log "$f: mosquitto on tcp/$port; mosquitto_sub (anonymous) + mosquitto_pub -u/-P (3.1.1 and 5)"
    mkdir -p "$MD"
    mosquitto_passwd -c -b "$MD/passwd" "$MQTT_USER" "$MQTT_PASS"
    printf '%s\n' 'per_listener_settings false' "listener $port 127.0.0.1" 'allow_anonymous true' \
        "password_file $MD/passwd" 'persistence false' 'log_dest stderr' 'log_type all' >"$MD/mosquitto.conf"
    port_free tcp $port || die "tcp port $port is in use (a system mosquitto? systemctl stop mosquitto)"
    bg "$TMP/$f.broker.log" mosquitto -c "$MD/mosquitto.conf"
    broker_pid=$BG_PID
    wait_listen tcp $port
    start_capture $f "tcp port $port" -i lo
    bg "$TMP/$f.sub.out" timeout 20 mosquitto_sub -h 127.0.0.1 -p $port -V mqttv311 -i pbx-display \
        -t 'pbx/calls/#' -C 2 -v
    sub_pid=$BG_PID
    for i in $(seq 50); do grep -q 'Sending SUBACK to pbx-display' "$TMP/$f.broker.log" && break; sleep 0.1; done
    sleep 0.3
    timeout 20 mosquitto_pub -h 127.0.0.1 -p $port -V mqttv311 -i pbx-callserver \
        -u "$MQTT_USER" -P "$MQTT_PASS" -t "$MQTT_TOPIC" -m "$MQTT_PAYLOAD"
    sleep 0.3
    timeout 20 mosquitto_pub -h 127.0.0.1 -p $port -V mqttv5 -i pbx-callserver-v5 \
        -u "$MQTT_USER" -P "$MQTT_PASS" -t "$MQTT_TOPIC" -m "$MQTT_PAYLOAD"
    rc=0; wait "$sub_pid" || rc=$?; forget_pid "$sub_pid"
    [ $rc = 0 ] || die "$f: mosquitto_sub exited $rc"
    stop_capture $f
    bg_stop "$broker_pid"
    expect_eq $f 'messages received by the subscriber' "$(grep -cxF "$MQTT_TOPIC $MQTT_PAYLOAD" "$TMP/$f.sub.out")" 2
    check_syns $f 3
    # msgtype 1 CONNECT, 2 CONNACK, 3 PUBLISH, 8 SUBSCRIBE, 9 SUBACK, 14 DISCONNECT; ver 4 = 3.1.1, 5 = 5
    expect_eq $f 'CONNECTs (version client-id user password)' \
        "$(tsh $f -Y 'mqtt.msgtype==1' -T fields -e mqtt.ver -e mqtt.clientid -e mqtt.username -e mqtt.passwd | tr '\t' ' ' | paste -sd'|' -)" \
        "4 pbx-display  |4 pbx-callserver $MQTT_USER $MQTT_PASS|5 pbx-callserver-v5 $MQTT_USER $MQTT_PASS"
    expect_eq $f 'PUBLISHes (topic)' "$(tsh $f -Y 'mqtt.msgtype==3' -T fields -e mqtt.topic | paste -sd'|' -)" \
        "$MQTT_TOPIC|$MQTT_TOPIC|$MQTT_TOPIC|$MQTT_TOPIC"
    expect_eq $f "occurrences of the payload" "$(count_bytes $f "$MQTT_PAYLOAD")" 4
    expect_eq $f "occurrences of $MQTT_PASS" "$(count_bytes $f "$MQTT_PASS")" 2
    publish $f
fi

# --- MODBUS/TCP ----------------------------------------------------------------------------------
if wanted modbus; then
    f=modbus.pcap; port=5020
    log "$f: pymodbus server on tcp/$port <- pymodbus client (FC 3, 6, 3, 6)"
    port_free tcp $port || die "tcp port $port is in use"
    bg "$TMP/$f.server.log" "$VPY" -u "$TOOLS/modbus_peer.py" server $port
    srv_pid=$BG_PID
    wait_listen tcp $port
    start_capture $f "tcp port $port" -i lo
    timeout 20 "$VPY" -u "$TOOLS/modbus_peer.py" client $port 2>"$TMP/$f.client.log" ||
        die "$f: client failed: $(cat "$TMP/$f.client.log")"
    stop_capture $f
    bg_stop "$srv_pid"
    check_syns $f 1
    # (mbtcp.tcp.port: the server port, so that tshark tells queries from responses)
    expect_eq $f 'MODBUS (transaction unit function reference count values)' \
        "$(tsh $f -o mbtcp.tcp.port:$port -Y mbtcp -T fields -e mbtcp.trans_id -e mbtcp.unit_id -e modbus.func_code \
            -e modbus.reference_num -e modbus.word_cnt -e modbus.regval_uint16 | tr '\t' ' ' | paste -sd'|' -)" \
        '1 1 3 0 5 |1 1 3   230,1,0,21,55|2 1 6 2  |2 1 6 2  |3 1 3 0 5 |3 1 3   230,1,1,21,55|4 1 6 2  |4 1 6 2  '
    publish $f
fi

# --- SMTP ------------------------------------------------------------------------------------------
SMTP_PORT=2525
SMTP_D=(-d tcp.port==$SMTP_PORT,smtp)
AUTH_PLAIN_B64=$(printf '\0%s\0%s' "$MAIL_USER" "$MAIL_PASS" | base64 -w0)
# smtp_capture FILE CLIENT-MODE [CERT KEY]: aiosmtpd server (STARTTLS offered with CERT KEY)
smtp_capture() {
    local file=$1 mode=$2 srv_pid; shift 2
    log "$file: aiosmtpd on tcp/$SMTP_PORT${1:+ (STARTTLS offered)} <- smtplib ($mode)"
    port_free tcp $SMTP_PORT || die "tcp port $SMTP_PORT is in use"
    MAIL_USER=$MAIL_USER MAIL_PASS=$MAIL_PASS bg "$TMP/$file.server.log" "$VPY" -u "$TOOLS/smtp_peer.py" server $SMTP_PORT "$@"
    srv_pid=$BG_PID
    wait_listen tcp $SMTP_PORT
    start_capture "$file" "tcp port $SMTP_PORT" -i lo
    MAIL_USER=$MAIL_USER MAIL_PASS=$MAIL_PASS MAIL_FROM=$MAIL_FROM MAIL_TO=$MAIL_TO \
        MAIL_BODY_LINE=$MAIL_BODY_LINE timeout 20 "$VPY" -u "$TOOLS/smtp_peer.py" client $SMTP_PORT "$mode" \
        2>"$TMP/$file.client.log" || die "$file: client failed: $(cat "$TMP/$file.client.log")"
    stop_capture "$file"
    bg_stop "$srv_pid"
    grep -qF "$MAIL_BODY_LINE" "$TMP/$file.server.log" || die "$file: the server did not receive the mail"
    check_syns "$file" 1
}
# (Python's smtplib sends the verbs ehlo, mail, rcpt, data, quit in lower case, AUTH and
# STARTTLS in upper case; tshark's smtp.req.command keeps only 4 letters, so take the verb
# from the whole command line)
smtp_cmds() {
    tsh "$1" "${SMTP_D[@]}" -Y smtp.req.command -T fields -e smtp.command_line |
        sed 's/\\r\\n$//' | awk '{print $1}' | paste -sd' ' -
}
if wanted smtp-plain-auth; then
    f=smtp-plain-auth.pcap
    smtp_capture $f auth-plain
    expect_eq $f 'SMTP commands' "$(smtp_cmds $f)" 'ehlo AUTH mail rcpt data quit'
    check_bytes $f "AUTH PLAIN $AUTH_PLAIN_B64"$'\r' "235 2.7.0 Authentication successful" \
        "mail FROM:<$MAIL_FROM>" "$MAIL_BODY_LINE"
    check_no_bytes $f 'STARTTLS' "$MAIL_PASS"
    grep -q 'tls=False auth=True' "$TMP/$f.server.log" || die "$f: server: not authenticated in clear"
    publish $f
fi
if wanted smtp-starttls; then
    f=smtp-starttls.pcap
    smtp_capture $f starttls "$TMP/cert.pem" "$TMP/key.pem"
    expect_eq $f 'cleartext SMTP commands' "$(smtp_cmds $f)" 'ehlo STARTTLS'
    check_bytes $f '250-STARTTLS' '220 Ready to start TLS'
    expect_eq $f "occurrences of 'STARTTLS'" "$(count_bytes $f STARTTLS)" 2   # offer + command
    check_server_hello $f tcp
    check_no_bytes $f 'AUTH PLAIN ' "$AUTH_PLAIN_B64" "$MAIL_PASS" 'jane.doe' "$PD_NAME" '1632' '4111' 'FROM:<'
    grep -q 'tls=True auth=True' "$TMP/$f.server.log" || die "$f: server: not authenticated inside TLS"
    publish $f
fi
if wanted smtp-starttls-ignored; then
    f=smtp-starttls-ignored.pcap
    smtp_capture $f ignore-starttls "$TMP/cert.pem" "$TMP/key.pem"
    expect_eq $f 'SMTP commands' "$(smtp_cmds $f)" 'ehlo mail rcpt data quit'
    check_bytes $f '250-STARTTLS' "mail FROM:<$MAIL_FROM>" "$MAIL_BODY_LINE"
    check_no_bytes $f 'AUTH PLAIN ' "$MAIL_PASS"
    expect_eq $f "occurrences of 'STARTTLS'" "$(count_bytes $f STARTTLS)" 1   # the offer only
    expect_eq $f 'TLS records' "$(tsh $f "${SMTP_D[@]}" -Y tls | wc -l)" 0
    publish $f
fi

# --- POP3, IMAP (dovecot), FTP (pyftpdlib) -----------------------------------------------------------
POP3_PORT=1110; IMAP_PORT=1143; FTP_PORT=2121
if wanted pop3 || wanted imap; then
    # dovecot 2.3 as root with its own config: passwd-file with Jane's plain password,
    # mail stored as nobody in the temp dir, plaintext logins allowed, no TLS at all
    DD=$TMP/dovecot
    mkdir -p "$DD/run" "$DD/state" "$DD/home/$MAIL_USER"
    chown 65534:65534 "$DD/home/$MAIL_USER"
    printf '%s:{PLAIN}%s::::::\n' "$MAIL_USER" "$MAIL_PASS" >"$DD/users"
    cat >"$DD/dovecot.conf" <<EOF
base_dir = $DD/run
state_dir = $DD/state
log_path = $DD/dovecot.log
protocols = pop3 imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
login_greeting = Dovecot ready.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DD/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$DD/home/%u
}
mail_location = maildir:~/Maildir
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
    port_free tcp $POP3_PORT && port_free tcp $IMAP_PORT || die "tcp port $POP3_PORT or $IMAP_PORT is in use"
    bg "$DD/foreground.log" dovecot -F -c "$DD/dovecot.conf"
    DOVECOT_PID=$BG_PID
    wait_listen tcp $POP3_PORT; wait_listen tcp $IMAP_PORT
fi
# login_capture FILE PORT PROTO: tools/login_client.py PROTO against 127.0.0.1:PORT
login_capture() {
    log "$1: $3 login (python $3 client) -> tcp/$2"
    start_capture "$1" "tcp port $2" -i lo
    LOGIN_USER=$MAIL_USER LOGIN_PASS=$MAIL_PASS timeout 20 python3 -u "$TOOLS/login_client.py" "$3" "$2" \
        2>"$TMP/$1.client.log" || die "$1: client failed: $(cat "$TMP/$1.client.log")"
    stop_capture "$1"
    check_syns "$1" 1
}
if wanted pop3; then
    f=pop3.pcap
    login_capture $f $POP3_PORT pop3
    expect_eq $f 'POP3 commands' \
        "$(tsh $f -d tcp.port==$POP3_PORT,pop -Y pop.request -T fields -e pop.request.command -e pop.request.parameter | tr '\t' ' ' | paste -sd'|' -)" \
        "USER $MAIL_USER|PASS $MAIL_PASS|STAT |QUIT "
    check_bytes $f '+OK Dovecot ready.' "PASS $MAIL_PASS"$'\r' '+OK Logged in.'
    publish $f
fi
if wanted imap; then
    f=imap.pcap
    login_capture $f $IMAP_PORT imap
    expect_eq $f 'IMAP commands' \
        "$(tsh $f -d tcp.port==$IMAP_PORT,imap -Y imap.request -T fields -e imap.request.command | paste -sd' ' -)" \
        'CAPABILITY LOGIN LIST SELECT LOGOUT'
    check_bytes $f "LOGIN $MAIL_USER \"$MAIL_PASS\""$'\r' 'OK [CAPABILITY' 'Logged in'
    publish $f
fi
if wanted pop3 || wanted imap; then
    bg_stop "$DOVECOT_PID"
fi
if wanted ftp; then
    f=ftp.pcap
    mkdir -p "$TMP/ftp-home"
    port_free tcp $FTP_PORT || die "tcp port $FTP_PORT is in use"
    LOGIN_USER=$MAIL_USER LOGIN_PASS=$MAIL_PASS bg "$TMP/$f.server.log" "$VPY" -u "$TOOLS/ftp_server.py" $FTP_PORT "$TMP/ftp-home"
    srv_pid=$BG_PID
    wait_listen tcp $FTP_PORT
    login_capture $f $FTP_PORT ftp
    bg_stop "$srv_pid"
    expect_eq $f 'FTP commands' \
        "$(tsh $f -d tcp.port==$FTP_PORT,ftp -Y ftp.request.command -T fields -e ftp.request.command -e ftp.request.arg | tr '\t' ' ' | paste -sd'|' -)" \
        "USER $MAIL_USER|PASS $MAIL_PASS|SYST |PWD |QUIT "
    check_bytes $f '220 FTP server ready.' "PASS $MAIL_PASS"$'\r' '230 Login successful.'
    publish $f
fi

# --- Telnet ----------------------------------------------------------------------------------------
if wanted telnet; then
    # inetutils telnetd behind a one-shot inetd (tools/inetd_once.py), its login program a
    # stand-in (tools/telnet_login.sh: no system account is created); the real telnet client
    # driven by expect (tools/telnet_client.exp): login, password, "uname -s", "exit"
    f=telnet.pcap; port=2323; TD=$TMP/telnet
    log "$f: telnetd (inetutils) on tcp/$port <- telnet (expect): login $TELNET_USER"
    mkdir -p "$TD"
    cp "$TOOLS/telnet_login.sh" "$TD/login.sh"
    printf '%s\n%s\n' "$TELNET_USER" "$TELNET_PASS" >"$TD/credentials"
    chmod 600 "$TD/credentials"
    port_free tcp $port || die "tcp port $port is in use"
    bg "$TMP/$f.server.log" python3 -u "$TOOLS/inetd_once.py" $port /usr/sbin/telnetd -h \
        -E "/bin/sh $TD/login.sh $TD/credentials"
    srv_pid=$BG_PID
    wait_listen tcp $port
    start_capture $f "tcp port $port" -i lo
    TERM=xterm TELNET_USER=$TELNET_USER TELNET_PASS=$TELNET_PASS timeout 30 expect -f "$TOOLS/telnet_client.exp" $port \
        >"$TMP/$f.client.log" 2>&1 || die "$f: telnet session failed: $(tail -5 "$TMP/$f.client.log")"
    stop_capture $f
    stop_pid "$srv_pid"
    check_syns $f 1
    # client -> server: after the option negotiation (server WILL ECHO, DONT LINEMODE; client
    # WILL BINARY) character mode, but expect writes each line at once, so each line goes
    # in one segment, ended by a bare CR; the server echoes all but the password
    expect_eq $f 'client data' \
        "$(tsh $f -d tcp.port==$port,telnet -Y "tcp.dstport==$port && telnet.data" -T fields -e telnet.data | paste -sd'|' -)" \
        "$TELNET_USER\\r|$TELNET_PASS\\r|uname -s\\r|exit\\r"
    expect_eq $f "occurrences of $TELNET_PASS" "$(count_bytes $f "$TELNET_PASS")" 1
    check_bytes $f 'pbx-dect login: ' 'Password: ' "$TELNET_USER@pbx-dect:~\$ "
    publish $f
fi

# --- syslog over TCP ------------------------------------------------------------------------------
if wanted syslog-tcp; then
    # two connections from util-linux logger -T --rfc5424: RFC 6587 octet counting
    # ("LEN SP MSG"), then non-transparent framing (MSG LF); 3 messages each, 0.3 s apart
    f=syslog-tcp.pcap; port=6601
    log "$f: logger -T --octet-count, logger -T -> tcp_sink on tcp/$port"
    port_free tcp $port || die "tcp port $port is in use"
    bg "$TMP/$f.server.log" python3 -u "$TOOLS/tcp_sink.py" $port 2
    srv_pid=$BG_PID
    wait_listen tcp $port
    start_capture $f "tcp port $port" -i lo
    for framing in --octet-count ''; do
        { echo 'trunk T001 registered'; sleep 0.3; echo "$SYSLOG_LINE"; sleep 0.3
          echo 'cdr export finished, 5 records'; } |
            logger -T -n 127.0.0.1 -P $port $framing --rfc5424 -t pbx
        sleep 0.3
    done
    stop_capture $f
    stop_pid "$srv_pid"
    check_syns $f 2
    expect_eq $f 'connections received' "$(grep -c '^tcp_sink: ' "$TMP/$f.server.log")" 2
    # payload shape: first connection every segment "NNN <13>1 ...", no LF; second "<13>1 ... LF"
    got=$(tsh $f -Y "tcp.dstport==$port && tcp.len>0" -T fields -e tcp.stream -e tcp.payload |
        python3 -c '
import re, sys
for line in sys.stdin:
    st, pl = line.rstrip("\n").split("\t")
    m = bytes.fromhex(pl.replace(":", ""))
    c = re.fullmatch(rb"([1-9][0-9]*) (<13>1 [^\n]*)", m)
    if c and int(c.group(1)) == len(c.group(2)):
        kind = "octet-counted"
    elif re.fullmatch(rb"<13>1 [^\n]*\n", m):
        kind = "lf-terminated"
    else:
        kind = "other"
    print(f"{st}:{kind}")' | paste -sd' ' -)
    expect_eq $f 'framing per segment (stream:kind)' "$got" \
        '0:octet-counted 0:octet-counted 0:octet-counted 1:lf-terminated 1:lf-terminated 1:lf-terminated'
    expect_eq $f "occurrences of '$SYSLOG_LINE'" "$(count_bytes $f "$SYSLOG_LINE")" 2
    publish $f
fi

# --- ESPA 4.4.4 -------------------------------------------------------------------------------------
if wanted espa444; then
    # tools/espa444.py: control station (master) -> paging system on tcp/7000, 3 pages,
    # page 2's first block with a wrong BCC (NAK, repeated)
    f=espa444.pcap; port=7000
    log "$f: tools/espa444.py control -> paging on tcp/$port (3 pages, one NAK)"
    port_free tcp $port || die "tcp port $port is in use"
    bg "$TMP/$f.server.log" python3 -u "$TOOLS/espa444.py" paging $port
    srv_pid=$BG_PID
    wait_listen tcp $port
    start_capture $f "tcp port $port" -i lo
    ESPA_PAGES=$ESPA_PAGES ESPA_BAD_BCC=2 timeout 20 python3 -u "$TOOLS/espa444.py" control $port \
        2>"$TMP/$f.client.log" || die "$f: control station failed: $(cat "$TMP/$f.client.log")"
    stop_capture $f
    stop_pid "$srv_pid"
    check_syns $f 1
    grep -q '^espa444: 3 pages accepted$' "$TMP/$f.server.log" || die "$f: the paging system did not accept 3 pages"
    # the expected exchange, byte for byte (tools/espa444.py computes the same blocks)
    want=$(ESPA_PAGES=$ESPA_PAGES TOOLS=$TOOLS python3 -c '
import os, sys
sys.path.insert(0, os.environ["TOOLS"])
import espa444 as e
pages = [l.split("\t", 1) for l in os.environb[b"ESPA_PAGES"].decode("utf-8").splitlines()]
out = []
for n, (addr, text) in enumerate(pages, 1):
    b = e.block(addr, text)
    out += ["c>31053205", "s>06"]
    if n == 2:
        out += ["c>" + (b[:-1] + bytes([b[-1] ^ 0x55])).hex(), "s>15"]
    out += ["c>" + b.hex(), "s>06", "c>04"]
print("\n".join(out))')
    expect_eq $f 'exchange (c> control, s> paging; hex)' "$(payloads $f $port)" "$want"
    # the texts as Latin-1 on the wire, 'ü' as the single byte 0xFC
    printf '%s' "$ESPA_PAGES" | iconv -f UTF-8 -t LATIN1 | cut -f2 >"$TMP/$f.texts"
    while IFS= read -r t; do
        [ "$(count_bytes $f "$t")" -ge 1 ] || die "$f: text '$t' (Latin-1) not in capture"
    done <"$TMP/$f.texts"
    check_no_bytes $f 'Müller'      # not as UTF-8
    publish $f
fi

# --- SIP-DECT OMM AXI ---------------------------------------------------------------------------------
if wanted axi; then
    f=axi.pcap; port=12621
    log "$f: tools/axi.py client -> server on tcp/$port (Open, GetPPUser)"
    port_free tcp $port || die "tcp port $port is in use"
    AXI_USER=$AXI_USER AXI_PASS=$AXI_PASS AXI_PP_NAME=$PD_NAME AXI_PP_NUM=$AXI_PP_NUM \
        AXI_PP_SIPPW=$AXI_PP_SIPPW AXI_PP_ADDID=$PD_EMAIL \
        bg "$TMP/$f.server.log" python3 -u "$TOOLS/axi.py" server $port
    srv_pid=$BG_PID
    wait_listen tcp $port
    start_capture $f "tcp port $port" -i lo
    AXI_USER=$AXI_USER AXI_PASS=$AXI_PASS timeout 20 python3 -u "$TOOLS/axi.py" client $port \
        2>"$TMP/$f.client.log" ||
        die "$f: client failed: $(cat "$TMP/$f.client.log")"
    stop_capture $f
    stop_pid "$srv_pid"
    check_syns $f 1
    want="c>$(hex "<Open protocolVersion=\"45\" username=\"$AXI_USER\" password=\"$AXI_PASS\" OMPClient=\"1\" />")00
s>$(hex '<OpenResp protocolVersion="45" minPPSwVersion1="1" minPPSwVersion2="1" ommStbState="Ready" />')00
c>$(hex '<GetPPUser seq="2" uid="100" />')00
s>$(hex "<GetPPUserResp seq=\"2\"><user uid=\"100\" timeStamp=\"1795380000\" relType=\"Unbound\" ppn=\"0\" name=\"$PD_NAME\" num=\"$AXI_PP_NUM\" hierarchy1=\"\" hierarchy2=\"\" addId=\"$PD_EMAIL\" pin=\"\" sipAuthId=\"$AXI_PP_NUM\" sipPw=\"$AXI_PP_SIPPW\" sosNum=\"\" manDownNum=\"\" voiceboxNum=\"\" locatable=\"false\" /></GetPPUserResp>")00"
    expect_eq $f 'exchange (c> client, s> OMM; hex)' "$(payloads $f $port)" "$want"
    publish $f
fi

log "done"
