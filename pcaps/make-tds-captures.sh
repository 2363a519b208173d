#!/usr/bin/env bash
# TDS (MS-TDS 7.4, the contact centre's SQL Server) captures: FreeTDS `tsql` against
# the TEST-ONLY responder pcaps/tools/tds_test_responder.py (Debian has no SQL
# Server), both on 127.0.0.1, captured on lo.
#
#   sudo pcaps/make-tds-captures.sh
#
# Writes, each one tsql session (a SELECT on the calling list, then the DELETE the
# vendor documents show):
#   tds-not-sup.pcap     server ENCRYPT_NOT_SUP, tsql `encryption = off`: all in clear
#   tds-login-only.pcap  server OFF, tsql `encryption = request`: TLS 1.2 for LOGIN7
#                        only, the batches and rows in clear
#   tds-encrypted.pcap   server REQ, tsql `encryption = require`: TLS 1.2 throughout
#   tds-tls10.pcap       server ON but TLS 1.0 at most, tsql `encryption = require`
#
# The credentials and personal data are PLANTED LEAK-TEST VALUES (fake; the card is a
# Luhn-valid test number, the phone an Ofcom drama-range number): tests check that
# cleartrace never writes them out. A throwaway certificate is made in a temp dir.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TDS_USER='micc_reports'; TDS_PASS='TdsPass-LEAKCHECK-16'
PD_PHONE_DIALLED='+441632960961'
PORT=1433
SELECT="SELECT id, customer_name, number, card FROM campaign_list WHERE campaign_id = 7"
DELETE="DELETE FROM campaign_list WHERE number='$PD_PHONE_DIALLED'"

die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (tcpdump on lo)"
need=()
command -v tsql >/dev/null || need+=(freetds-bin)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

TMP=$(mktemp -d /tmp/cleartrace-tds.XXXXXX)
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7 \
    -subj '/CN=cleartrace-test.example.test' \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null

capture() {  # capture FILE SERVER-ENCRYPTION TSQL-ENCRYPTION [MAX-TLS]
    local file=$1 server=$2 client=$3 max_tls=${4:-1.2} i
    [ -z "$(ss -Hltn "sport = :$PORT")" ] || die "port $PORT in use"
    printf '[micc]\n\thost = 127.0.0.1\n\tport = %s\n\ttds version = 7.4\n\tencryption = %s\n' \
        "$PORT" "$client" >"$TMP/freetds.conf"
    tcpdump -Z root -U -i lo -s 0 -w "$TMP/$file" "tcp port $PORT" 2>"$TMP/tcpdump.log" &
    local cap=$!
    for i in $(seq 50); do grep -qs 'listening on' "$TMP/tcpdump.log" && break; sleep 0.1; done
    python3 "$HERE/tools/tds_test_responder.py" "$PORT" "$server" "$TMP/cert.pem" "$TMP/key.pem" "$max_tls" &
    local responder=$!
    for i in $(seq 50); do [ -n "$(ss -Hltn "sport = :$PORT")" ] && break; sleep 0.1; done
    printf '%s\ngo\n%s\ngo\nquit\n' "$SELECT" "$DELETE" |
        FREETDSCONF=$TMP/freetds.conf tsql -S micc -U "$TDS_USER" -P "$TDS_PASS" >"$TMP/tsql.log" 2>&1
    wait "$responder"
    sleep 1
    kill -TERM "$cap"; wait "$cap" || true
    grep -q '4111 1111 1111 1111' "$TMP/tsql.log" || die "$file: tsql got no rows: $(cat "$TMP/tsql.log")"
    cp "$TMP/$file" "$HERE/$file"
    echo "wrote $HERE/$file ($(stat -c %s "$HERE/$file") bytes)"
}

capture tds-not-sup.pcap not_sup off
capture tds-login-only.pcap off request
capture tds-encrypted.pcap req require
capture tds-tls10.pcap on require 1.0

# The password never crosses in a readable form except as LOGIN7's obfuscation.
for f in tds-not-sup tds-login-only tds-encrypted tds-tls10; do
    ! grep -aqF "$TDS_PASS" "$HERE/$f.pcap" || die "$f.pcap: password in plain bytes"
done
