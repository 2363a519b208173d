#!/usr/bin/env bash
# Database captures for cleartrace's tests: PostgreSQL and MariaDB servers and their own
# clients (psql, mariadb) on loopback.
#
#   sudo pcaps/make-db-captures.sh              # every capture
#   sudo pcaps/make-db-captures.sh pgsql        # only the pgsql-* captures
#   sudo pcaps/make-db-captures.sh mysql        # only the mysql-* captures
#
# Runs as root on Debian 12 (packages postgresql, mariadb-server, mariadb-client; installed
# when missing). Each server is a throwaway instance in a temp dir (its own initdb /
# mariadb-install-db), binds 127.0.0.1 only and is stopped at exit; the Debian clusters
# and services are not touched. A throwaway self-signed RSA-2048 certificate is made in
# the temp dir and deleted at exit: no key is ever written into the repository.
#
# The passwords below are PLANTED LEAK-TEST SECRETS and the personal data is synthetic
# (an Ofcom drama-range phone number, an example.com address, the Visa / Mastercard test
# card numbers): they exist so that tests can check that cleartrace finds them and never
# writes them out unmasked.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE

PG_PW_USER='acct_clear';  PG_PW_PASS='PgClear-LEAKCHECK-16'    # pg_hba "password"
PG_MD5_USER='acct_md5';   PG_MD5_PASS='PgMd5-LEAKCHECK-17'     # pg_hba "md5"
PG_SCRAM_USER='acct_scram'; PG_SCRAM_PASS='PgScram-LEAKCHECK-18' # pg_hba "scram-sha-256"
MY_NATIVE_USER='acct_native'; MY_NATIVE_PASS='MyNative-LEAKCHECK-19' # mysql_native_password
MY_CLEAR_USER='acct_pam';     MY_CLEAR_PASS='MyClear-LEAKCHECK-20'   # pam -> mysql_clear_password

# The call-accounting table both databases hold, and the two statements every
# personal-data capture runs: a SELECT whose row comes back in the result set, and an INSERT.
SELECT_ROW="SELECT name, phone, email, card FROM callers WHERE id = 1"
INSERT_ROW="INSERT INTO callers VALUES (2, 'John Smith', '+44 7700 900123', 'john.smith@example.com', '5500 0000 0000 0004')"
CREATE_TABLE="CREATE TABLE callers (id int PRIMARY KEY, name varchar(64), phone varchar(32), email varchar(64), card varchar(32))"
FIRST_ROW="INSERT INTO callers VALUES (1, 'Jane Doe', '+44 1632 960961', 'jane.doe@example.com', '4111 1111 1111 1111')"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (tcpdump on lo)"

WANT=("$@")
[ ${#WANT[@]} -gt 0 ] || WANT=(pgsql mysql)
wanted() { local w; for w in "${WANT[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }

need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v tshark >/dev/null || need+=(tshark)
wanted pgsql && { [ -d /usr/lib/postgresql ] || need+=(postgresql); }
wanted mysql && { command -v mariadbd >/dev/null || need+=(mariadb-server mariadb-client); }
if [ ${#need[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

TMP=$(mktemp -d /tmp/cleartrace-db-pcaps.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -f /etc/pam.d/cleartrace-test
    rm -rf "$TMP"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 7 \
    -subj '/CN=cleartrace-test.example.test' \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null

wait_listen() {  # wait_listen PORT
    local i
    for i in $(seq 150); do
        [ -n "$(ss -Hltn "sport = :$1")" ] && return 0
        sleep 0.1
    done
    die "nothing listening on tcp/$1"
}

CAP_PID=
start_capture() {  # start_capture FILE PORT
    local i
    rm -f "$TMP/$1"
    tcpdump -Z root -U -i lo -w "$TMP/$1" "tcp port $2" 2>"$TMP/$1.log" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    for i in $(seq 100); do grep -qs 'listening on' "$TMP/$1.log" && break; sleep 0.1; done
    sleep 1
}
stop_capture() {  # stop_capture FILE
    sleep 1
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
    [ -s "$TMP/$1" ] || die "$1: empty capture"
}
publish() {  # publish FILE
    cp "$TMP/$1" "$OUT/$1"
    log "$1: $(tcpdump -nn -r "$OUT/$1" 2>/dev/null | wc -l) packets, $(stat -c %s "$OUT/$1") bytes"
}
check_bytes() {  # check_bytes FILE STRING...: every string somewhere in the capture
    local f=$1 s; shift
    for s in "$@"; do grep -aqF -- "$s" "$TMP/$f" || die "$f: '$s' not in capture"; done
}
check_no_bytes() {  # check_no_bytes FILE STRING...: none of them in the capture
    local f=$1 s; shift
    for s in "$@"; do ! grep -aqF -- "$s" "$TMP/$f" || die "$f: '$s' unexpectedly in capture"; done
}
tsh() {  # tsh FILE FIELD: the field's values, one per line (tshark)
    tshark -r "$TMP/$1" -Y "$2" -T fields -e "$2" 2>/dev/null | grep -v '^$' || true
}

# --- PostgreSQL ---------------------------------------------------------------
if wanted pgsql; then
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    PGDATA=$TMP/pgdata
    install -d -o postgres -m 700 "$PGDATA"
    install -o postgres -m 600 "$TMP/cert.pem" "$PGDATA/server.crt"
    install -o postgres -m 600 "$TMP/key.pem" "$PGDATA/server.key"
    runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA/db" -A trust -U postgres >"$TMP/initdb.log"
    # One pg_hba line per method, each for its own user: host matches with and without TLS.
    cat >"$PGDATA/db/pg_hba.conf" <<EOF
local all postgres trust
host all $PG_PW_USER 127.0.0.1/32 password
host all $PG_MD5_USER 127.0.0.1/32 md5
host all $PG_SCRAM_USER 127.0.0.1/32 scram-sha-256
EOF
    runuser -u postgres -- "$PGBIN/postgres" -D "$PGDATA/db" -k "$PGDATA" \
        -c listen_addresses=127.0.0.1 -c port=5432 -c ssl=on \
        -c ssl_cert_file="$PGDATA/server.crt" -c ssl_key_file="$PGDATA/server.key" \
        >"$TMP/postgres.log" 2>&1 &
    PIDS+=("$!")
    wait_listen 5432
    sleep 1
    admin() { runuser -u postgres -- psql -X -q -h "$PGDATA" -p 5432 -U postgres "$@"; }
    admin -c "CREATE DATABASE callacct"
    admin -d callacct -c "$CREATE_TABLE" -c "$FIRST_ROW"
    admin -c "SET password_encryption = 'scram-sha-256'" \
        -c "CREATE ROLE $PG_PW_USER LOGIN PASSWORD '$PG_PW_PASS'" \
        -c "CREATE ROLE $PG_SCRAM_USER LOGIN PASSWORD '$PG_SCRAM_PASS'"
    # md5 with a SCRAM verifier stored falls back to SCRAM: store an MD5 hash for this one.
    admin -c "SET password_encryption = 'md5'" \
        -c "CREATE ROLE $PG_MD5_USER LOGIN PASSWORD '$PG_MD5_PASS'"
    admin -d callacct -c "GRANT SELECT, INSERT ON callers TO $PG_PW_USER, $PG_MD5_USER, $PG_SCRAM_USER"

    pg_client() {  # pg_client USER PASS SSLMODE SQL...
        local user=$1 pass=$2 mode=$3 args=() s; shift 3
        for s in "$@"; do args+=(-c "$s"); done
        PGPASSWORD=$pass psql -X "host=127.0.0.1 port=5432 dbname=callacct user=$user sslmode=$mode gssencmode=disable" \
            "${args[@]}" >"$TMP/psql.out"
    }

    # Cleartext password, no TLS: the SELECT's row and the INSERT in clear.
    start_capture pgsql-cleartext-password.pcap 5432
    pg_client "$PG_PW_USER" "$PG_PW_PASS" disable "$SELECT_ROW" "$INSERT_ROW"
    stop_capture pgsql-cleartext-password.pcap
    check_bytes pgsql-cleartext-password.pcap "$PG_PW_PASS" "jane.doe@example.com" "5500 0000 0000 0004"
    [ "$(tsh pgsql-cleartext-password.pcap pgsql.authtype | head -1)" = 3 ] || die "no cleartext password request"
    publish pgsql-cleartext-password.pcap

    # MD5, no TLS.
    start_capture pgsql-md5.pcap 5432
    pg_client "$PG_MD5_USER" "$PG_MD5_PASS" disable "SELECT current_user"
    stop_capture pgsql-md5.pcap
    check_no_bytes pgsql-md5.pcap "$PG_MD5_PASS"
    [ "$(tsh pgsql-md5.pcap pgsql.authtype | head -1)" = 5 ] || die "no MD5 request"
    publish pgsql-md5.pcap

    # SCRAM-SHA-256, no TLS.
    start_capture pgsql-scram.pcap 5432
    pg_client "$PG_SCRAM_USER" "$PG_SCRAM_PASS" disable "SELECT current_user"
    stop_capture pgsql-scram.pcap
    check_no_bytes pgsql-scram.pcap "$PG_SCRAM_PASS"
    [ "$(tsh pgsql-scram.pcap pgsql.authtype | head -1)" = 10 ] || die "no SASL request"
    publish pgsql-scram.pcap

    # sslmode=require: SSLRequest accepted ('S'), everything after in TLS (the same
    # personal-data statements, now unreadable), cleartext password method inside TLS.
    start_capture pgsql-tls.pcap 5432
    pg_client "$PG_PW_USER" "$PG_PW_PASS" require "$SELECT_ROW"
    stop_capture pgsql-tls.pcap
    check_no_bytes pgsql-tls.pcap "$PG_PW_PASS" "jane.doe@example.com"
    [ -n "$(tsh pgsql-tls.pcap tls.handshake.type)" ] || die "pgsql-tls: no TLS handshake"
    publish pgsql-tls.pcap
fi

# --- MariaDB ------------------------------------------------------------------
if wanted mysql; then
    MYDATA=$TMP/mysql
    install -d -o mysql "$MYDATA" "$MYDATA/run"
    install -o mysql -m 600 "$TMP/cert.pem" "$MYDATA/server.crt"
    install -o mysql -m 600 "$TMP/key.pem" "$MYDATA/server.key"
    mariadb-install-db --no-defaults --user=mysql --datadir="$MYDATA/db" \
        --auth-root-authentication-method=socket >"$TMP/install-db.log" 2>&1
    # The PAM service the clear-text account authenticates against: pam_exec runs a
    # script that compares the password the client sent (MariaDB's pam plugin asks the
    # client for it with mysql_clear_password when pam_use_cleartext_plugin is on).
    cat >"$MYDATA/check-pass.sh" <<EOF
#!/bin/sh
read -r pass
[ "\$PAM_USER" = "$MY_CLEAR_USER" ] && [ "\$pass" = "$MY_CLEAR_PASS" ]
EOF
    chmod 700 "$MYDATA/check-pass.sh"
    cat >/etc/pam.d/cleartrace-test <<EOF
auth required pam_exec.so expose_authtok quiet $MYDATA/check-pass.sh
account required pam_permit.so
EOF
    mariadbd --no-defaults --user=mysql --datadir="$MYDATA/db" \
        --socket="$MYDATA/run/mysqld.sock" --pid-file="$MYDATA/run/mysqld.pid" \
        --bind-address=127.0.0.1 --port=3306 --skip-name-resolve \
        --ssl-cert="$MYDATA/server.crt" --ssl-key="$MYDATA/server.key" \
        --plugin-load-add=auth_pam --pam-use-cleartext-plugin=ON \
        >"$TMP/mariadbd.log" 2>&1 &
    PIDS+=("$!")
    wait_listen 3306
    my_admin() { mariadb --no-defaults -S "$MYDATA/run/mysqld.sock" -u root "$@"; }
    my_admin -e "CREATE DATABASE callacct"
    my_admin callacct -e "$CREATE_TABLE; $FIRST_ROW"
    my_admin -e "CREATE USER $MY_NATIVE_USER@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('$MY_NATIVE_PASS');
        CREATE USER $MY_CLEAR_USER@'127.0.0.1' IDENTIFIED VIA pam USING 'cleartrace-test';
        GRANT SELECT, INSERT ON callacct.* TO $MY_NATIVE_USER@'127.0.0.1', $MY_CLEAR_USER@'127.0.0.1'"

    my_client() {  # my_client USER PASS TLS-OPTION EXTRA-OPTION SQL
        mariadb --no-defaults -h 127.0.0.1 -P 3306 -u "$1" "-p$2" "$3" $4 callacct -e "$5" >"$TMP/mariadb.out"
    }

    # mysql_native_password, no TLS: the SELECT's row and the INSERT in clear.
    start_capture mysql-native.pcap 3306
    my_client "$MY_NATIVE_USER" "$MY_NATIVE_PASS" --skip-ssl "" "$SELECT_ROW; $INSERT_ROW"
    stop_capture mysql-native.pcap
    check_bytes mysql-native.pcap "jane.doe@example.com" "5500 0000 0000 0004"
    check_no_bytes mysql-native.pcap "$MY_NATIVE_PASS"
    publish mysql-native.pcap

    # The pam account: the server switches the client to mysql_clear_password.
    start_capture mysql-clear-password.pcap 3306
    my_client "$MY_CLEAR_USER" "$MY_CLEAR_PASS" --skip-ssl --enable-cleartext-plugin "SELECT current_user()"
    stop_capture mysql-clear-password.pcap
    check_bytes mysql-clear-password.pcap "mysql_clear_password" "$MY_CLEAR_PASS"
    publish mysql-clear-password.pcap

    # --ssl: the client's SSL request, then TLS; the same statements unreadable.
    start_capture mysql-tls.pcap 3306
    my_client "$MY_NATIVE_USER" "$MY_NATIVE_PASS" --ssl "" "$SELECT_ROW"
    stop_capture mysql-tls.pcap
    check_no_bytes mysql-tls.pcap "jane.doe@example.com" "$MY_NATIVE_USER"
    [ -n "$(tsh mysql-tls.pcap tls.handshake.type)" ] || die "mysql-tls: no TLS handshake"
    publish mysql-tls.pcap
fi
