#!/usr/bin/env bash
# RADIUS capture for cleartrace's tests: FreeRADIUS and its own client (radclient) on
# loopback.
#
#   sudo pcaps/make-radius-captures.sh
#
# Runs as root on Debian 12 (packages freeradius, freeradius-utils, tcpdump; installed
# when missing). The server runs in the foreground on a copy of Debian's stock
# configuration in a temp dir whose listeners are moved to loopback (authentication on
# 1812, accounting on 1813), and is stopped at exit; its client `localhost` has the
# stock test secret.
#
# The password is a PLANTED LEAK-TEST SECRET and the user and numbers are synthetic
# (Ofcom drama-range numbers): they exist so that tests can check that cleartrace
# finds them and never writes them out unmasked.
#
# radius.pcap: an Access-Request with PAP and one with CHAP, each answered
# Access-Reject (the user is unknown), then an Accounting-Request Start of a call with
# its calling and called numbers, and its Accounting-Response.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USER_NAME='jane.doe'
PASSWORD='Radius-LEAKCHECK-21'
CALLING='+44 1632 960961'
CALLED='+44 1632 960962'
SECRET='testing123'

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (tcpdump on lo)"

need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v freeradius >/dev/null || need+=(freeradius)
command -v radclient >/dev/null || need+=(freeradius-utils)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

TMP=$(mktemp -d /tmp/cleartrace-radius.XXXXXX)
# The server drops to its own user, which must read the copied configuration.
chmod 755 "$TMP"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The Debian package starts its own daemon on every address: ours binds loopback only.
pkill -x freeradius 2>/dev/null || true
sleep 1
cp -a /etc/freeradius/3.0 "$TMP/raddb"
sed -i 's/^\(\s*\)ipaddr = \*/\1ipaddr = 127.0.0.1/; s/^\(\s*\)ipv6addr = ::$/\1ipv6addr = ::1/' \
    "$TMP/raddb/sites-available/default"
freeradius -f -d "$TMP/raddb" >/dev/null 2>&1 &
PIDS+=($!)
sleep 3

tcpdump -i lo -U -w "$HERE/radius.pcap" 'udp and (port 1812 or port 1813)' 2>/dev/null &
TCPDUMP=$!
sleep 1

log "Access-Request (PAP)"
printf 'User-Name = "%s", User-Password = "%s", Calling-Station-Id = "%s", NAS-Port = 7\n' \
    "$USER_NAME" "$PASSWORD" "$CALLING" \
    | radclient -r 1 -t 2 127.0.0.1:1812 auth "$SECRET" >/dev/null || true
log "Access-Request (CHAP)"
printf 'User-Name = "%s", CHAP-Password = "%s", Calling-Station-Id = "%s"\n' \
    "$USER_NAME" "$PASSWORD" "$CALLING" \
    | radclient -r 1 -t 2 127.0.0.1:1812 auth "$SECRET" >/dev/null || true
log "Accounting-Request Start"
printf 'User-Name = "%s", Acct-Status-Type = Start, Acct-Session-Id = "call-0001", Calling-Station-Id = "%s", Called-Station-Id = "%s"\n' \
    "$USER_NAME" "$CALLING" "$CALLED" \
    | radclient -r 1 -t 2 127.0.0.1:1813 acct "$SECRET" >/dev/null || true
sleep 1
kill "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
log "wrote $HERE/radius.pcap"
