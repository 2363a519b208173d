#!/usr/bin/env bash
# Regenerate the cleartrace test captures in pcaps/ from real peers on loopback.
#
#   sudo pcaps/make-captures.sh            # all captures
#   sudo pcaps/make-captures.sh tls13 dtls12.pcap   # only those (name with or without extension)
#   sudo pcaps/make-captures.sh pd          # only the pd-* (planted personal data) captures
#   sudo pcaps/make-captures.sh voice       # only the SIP / RTP captures (sipp, baresip)
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
ALL=(tls10 tls11 tls12 tls13 tls12-null-cipher tls12-port-12622 tls-server-picks-11
     tls-client-only-old-rejected dtls12 dtls10 tls12-any-sll2 tls13-nanosecond
     mixed-linktypes http-basic http-digest http-proxy-basic http-plain http-port-5080
     pd-http-form pd-http-json pd-http-gzip pd-cdr-tcp pd-syslog-udp pd-tls13-encrypted
     sip-udp-g711-dtmf sip-tcp sip-sdes-srtp sip-tls rtp-no-signalling)
VOICE=(sip-udp-g711-dtmf sip-tcp sip-sdes-srtp sip-tls rtp-no-signalling)
if [ $# -gt 0 ]; then
    WANT=()
    for a in "$@"; do
        a=${a%.pcap}; a=${a%.pcapng}
        if [ "$a" = pd ]; then      # group: every pd-* capture
            for w in "${ALL[@]}"; do [ "${w#pd-}" = "$w" ] || WANT+=("$w"); done
        elif [ "$a" = voice ]; then # group: the SIP / RTP captures
            WANT+=("${VOICE[@]}")
        else
            WANT+=("$a")
        fi
    done
    for a in "${WANT[@]}"; do
        case " ${ALL[*]} " in *" $a "*) ;; *) die "unknown capture '$a' (known: pd voice ${ALL[*]})" ;; esac
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

log "done"
