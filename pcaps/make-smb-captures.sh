#!/usr/bin/env bash
# SMB captures for cleartrace's tests: real Samba (smbd) and smbclient on loopback.
#
#   sudo pcaps/make-smb-captures.sh
#
# A private smbd (its own config, state, passdb and share in a temp dir; interfaces = lo,
# bind interfaces only, port 445 on 127.0.0.1) shares one directory, `recordings`, to a
# test user. A real smbclient logs in with NTLMSSP, puts a call recording (a tiny WAV
# whose name carries a phone number and a name, as recorders name their files) and a CDR
# CSV export, lists the share and gets the recording back. Three sessions:
#
#   smb2-clear.pcap      SMB 3.1.1 negotiated, `smb encrypt = off` (signing as default):
#                        NTLMSSP user, share and file names all in clear.
#   smb3-encrypted.pcap  `smb encrypt = required`: after the session setup every message
#                        is an SMB3 transform (0xFD 'SMB') message.
#   smb1-nt1.pcap        `server min protocol = NT1`, `smbclient -m NT1`: SMB1 (0xFF 'SMB').
#
# The password is a PLANTED LEAK-TEST SECRET (only its NTLMv2 response goes on the wire);
# the phone number is from Ofcom's drama range, the name is the project's test persona.
# Needs root (port 445, tcpdump on lo), samba, smbclient, tcpdump, tshark, python3.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE

SMB_USER='jane.doe'; SMB_PASS='SmbPass-LEAKCHECK-15'
RECORDING='rec-441632960961-jane-doe.wav'
CDR_EXPORT='cdr-export-2026-11.csv'

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (port 445, tcpdump on lo)"
for tool in smbd smbclient smbpasswd tcpdump tshark python3 capinfos; do
    command -v "$tool" >/dev/null || die "missing $tool (apt-get install samba smbclient tcpdump tshark)"
done
[ -z "$(ss -Hltn 'sport = :445')" ] || die "something already listens on port 445"

TMP=$(mktemp -d /tmp/cleartrace-smb.XXXXXX)
chmod 755 "$TMP"
SMBD_PID=
CAP_PID=
CREATED_USER=
cleanup() {
    [ -n "$CAP_PID" ] && kill -TERM "$CAP_PID" 2>/dev/null || true
    [ -n "$SMBD_PID" ] && kill -TERM "$SMBD_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    [ -n "$CREATED_USER" ] && userdel "$SMB_USER" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The Unix account smbd maps the user to (no home, no login shell).
if ! id "$SMB_USER" >/dev/null 2>&1; then
    useradd --no-create-home --shell /usr/sbin/nologin "$SMB_USER"
    CREATED_USER=1
fi

# A tiny recording (0.05 s of 8 kHz mono silence: 44-byte header + 800 bytes) and a CDR
# export with the test persona's call.
mkdir -p "$TMP/client" "$TMP/share"
chown "$SMB_USER" "$TMP/share"
python3 - "$TMP/client/$RECORDING" <<'EOF'
import sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
    w.writeframes(b"\x00\x00" * 400)
EOF
printf 'start,caller,callee,name,duration\n2026-11-22 10:01:02,+441632960961,2001,Jane Doe,120\n' \
    >"$TMP/client/$CDR_EXPORT"

smb_conf() {  # smb_conf NAME EXTRA-GLOBAL-LINES: writes $TMP/NAME/smb.conf
    local dir=$TMP/$1
    mkdir -p "$dir/private" "$dir/state" "$dir/cache" "$dir/lock" "$dir/pid" "$dir/ncalrpc"
    cat >"$dir/smb.conf" <<EOF
[global]
    server role = standalone server
    interfaces = 127.0.0.1
    bind interfaces only = yes
    smb ports = 445
    disable netbios = yes
    private dir = $dir/private
    state directory = $dir/state
    cache directory = $dir/cache
    lock directory = $dir/lock
    pid directory = $dir/pid
    ncalrpc dir = $dir/ncalrpc
    passdb backend = tdbsam:$dir/private/passdb.tdb
    log file = $dir/log.smbd
    load printers = no
    printcap name = /dev/null
    disable spoolss = yes
$2
[recordings]
    path = $TMP/share
    read only = no
    valid users = $SMB_USER
EOF
    printf '%s\n%s\n' "$SMB_PASS" "$SMB_PASS" | smbpasswd -c "$dir/smb.conf" -s -a "$SMB_USER" >/dev/null
}

start_smbd() {  # start_smbd NAME
    # In a session of its own: smbd signals its whole process group when it stops.
    setsid smbd --foreground --no-process-group -s "$TMP/$1/smb.conf" >"$TMP/$1/smbd.out" 2>&1 &
    SMBD_PID=$!
    local i
    for i in $(seq 100); do
        [ -n "$(ss -Hltn 'sport = :445')" ] && return 0
        sleep 0.1
    done
    die "smbd did not start: $(cat "$TMP/$1/smbd.out" "$TMP/$1/log.smbd" 2>/dev/null | tail -20)"
}

stop_smbd() {
    kill -TERM "$SMBD_PID" 2>/dev/null || true
    wait "$SMBD_PID" 2>/dev/null || true
    SMBD_PID=
    local i
    for i in $(seq 100); do
        [ -z "$(ss -Hltn 'sport = :445')" ] && return 0
        sleep 0.1
    done
}

start_capture() {  # start_capture FILE
    rm -f "$TMP/$1"
    tcpdump -Z root -U -i lo -w "$TMP/$1" 'tcp port 445' 2>"$TMP/$1.tcpdump.log" &
    CAP_PID=$!
    local i
    for i in $(seq 100); do
        grep -qs 'listening on' "$TMP/$1.tcpdump.log" && break
        sleep 0.1
    done
    grep -qs 'listening on' "$TMP/$1.tcpdump.log" || die "tcpdump did not start"
    sleep 1
}

stop_capture() {  # stop_capture FILE
    sleep 1
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    CAP_PID=
    [ -s "$TMP/$1" ] || die "$1: empty capture"
}

session() {  # session SMBCLIENT-ARGS...: put both files, list, get the recording back
    (cd "$TMP/client" && smbclient //127.0.0.1/recordings -U "$SMB_USER%$SMB_PASS" "$@" \
        -c "put $RECORDING; put $CDR_EXPORT; ls; get $RECORDING back.wav") >"$TMP/smbclient.out" 2>&1 \
        || die "smbclient failed: $(cat "$TMP/smbclient.out")"
    cmp -s "$TMP/client/$RECORDING" "$TMP/client/back.wav" || die "recording did not come back intact"
    rm -f "$TMP/client/back.wav" "$TMP/share/"*
}

tsh() {  # tsh FILE FIELD [DISPLAY-FILTER]: the distinct values of a field
    tshark -r "$TMP/$1" -d tcp.port==445,nbss -Y "${3:-frame}" -T fields -e "$2" 2>/dev/null | tr ',' '\n' | sed '/^$/d' | sort -u
}

publish() {  # publish FILE
    cp "$TMP/$1" "$OUT/$1.tmp"
    mv -f "$OUT/$1.tmp" "$OUT/$1"
    chmod 644 "$OUT/$1"
    log "$1: $(capinfos -c -M "$OUT/$1" | awk -F': *' '/Number of packets/{print $2}') packets, $(stat -c %s "$OUT/$1") bytes"
}

# --- SMB 3.1.1, no encryption, signing as default --------------------------------
smb_conf clear '    server smb encrypt = off'
start_smbd clear
start_capture smb2-clear.pcap
session -m SMB3 --client-protection=off
stop_capture smb2-clear.pcap
stop_smbd
[ "$(tsh smb2-clear.pcap smb2.dialect 'smb2.cmd == 0 && smb2.flags.response == 1')" = 0x0311 ] || die "smb2-clear: dialect is not 3.1.1"
tsh smb2-clear.pcap smb2.filename | grep -qxF "$RECORDING" || die "smb2-clear: recording name not in clear"
tsh smb2-clear.pcap ntlmssp.auth.username | grep -qxF "$SMB_USER" || die "smb2-clear: no NTLMSSP user"
[ -z "$(tsh smb2-clear.pcap smb2.header.transform.msg_size 2>/dev/null)" ] || die "smb2-clear: transform headers"
publish smb2-clear.pcap

# --- SMB 3.1.1, encryption required ---------------------------------------------------
smb_conf encrypted '    server smb encrypt = required'
start_smbd encrypted
start_capture smb3-encrypted.pcap
session -m SMB3 --client-protection=encrypt
stop_capture smb3-encrypted.pcap
stop_smbd
[ -n "$(tsh smb3-encrypted.pcap smb2.header.transform.msg_size)" ] || die "smb3-encrypted: no transform header"
! tsh smb3-encrypted.pcap smb2.filename | grep -qxF "$RECORDING" || die "smb3-encrypted: recording name in clear"
publish smb3-encrypted.pcap

# --- SMB1 (NT LM 0.12) ---------------------------------------------------------------------
smb_conf nt1 '    server min protocol = NT1
    server smb encrypt = off'
start_smbd nt1
start_capture smb1-nt1.pcap
session -m NT1 --option='client min protocol=NT1' --client-protection=off
stop_capture smb1-nt1.pcap
stop_smbd
tsh smb1-nt1.pcap smb.cmd | grep -qx 0x72 || die "smb1-nt1: no SMB1 negotiate"
[ -z "$(tsh smb1-nt1.pcap smb2.cmd)" ] || die "smb1-nt1: SMB2 messages present"
publish smb1-nt1.pcap
