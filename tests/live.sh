#!/usr/bin/env bash
# End-to-end test of the live sensor (needs root: it captures on lo).
#
# The bundled captures (real traffic from real peers) are replayed onto lo with
# tcpreplay while `cleartrace live -i lo` runs; a real Prometheus scrapes its /metrics
# and the counters it stored are compared, through Prometheus' HTTP API, with what
# `analyze --metrics` reports for the same files. On the way: promtool checks the
# scrape, SIGHUP must reopen the alert file (logrotate), SIGTERM must flush and exit 0,
# SIGUSR1 must write a report of what ended so far, and no packet may be dropped.
# Flow records go to a real rsyslogd as RFC 5424 messages (--flows syslog://...), and
# every EVE line the sensor wrote is validated against Suricata's schema and ours.
#
# The captures were taken on 127.0.0.1, so they are first rewritten to 10.127.0.0/16
# (and ::1 to fd00:127::1): replayed as they are, the kernel would answer them with
# resets, and those would be captured too.
#
# Environment: WORKERS (default 2); CAPTURE=pcap|afpacket (default pcap, the sensor's
# --capture); VETH=1 replays over a veth pair between network namespaces instead of
# onto lo (tcpreplay on ctlive1 in namespace ctlive, the sensor on its peer ctlive0),
# as frames from a mirror port arrive; KEEP_WORK=1 keeps the outputs for a look.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "tests/live.sh: must run as root (capture on lo)" >&2; exit 1; }
for tool in tcpreplay tcprewrite prometheus promtool curl python3 rsyslogd; do
    command -v "$tool" >/dev/null || { echo "tests/live.sh: $tool not installed" >&2; exit 1; }
done

WORKERS=${WORKERS:-2}
CAPTURE=${CAPTURE:-pcap}
VETH=${VETH:-0}
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then echo "outputs kept in $work" >&2; else rm -rf "$work"; fi
    if [ "$VETH" = 1 ]; then
        ip link del ctlive0 2>/dev/null || true
        ip netns del ctlive 2>/dev/null || true
    fi
}
trap cleanup EXIT
if [ "$VETH" = 1 ]; then
    ip link del ctlive0 2>/dev/null || true
    ip netns del ctlive 2>/dev/null || true
    ip netns add ctlive
    # Room for the largest frame of the captures (taken on lo, whose MTU is 64 KiB).
    ip link add ctlive0 mtu 65535 type veth peer name ctlive1 netns ctlive mtu 65535
    ip link set ctlive0 up
    ip -n ctlive link set ctlive1 up
    iface=ctlive0
    replay=(ip netns exec ctlive tcpreplay -q -i ctlive1)
else
    iface=lo
    replay=(tcpreplay -q -i lo)
fi

# shellcheck source=tests/live-common.sh
. tests/live-common.sh

cargo build --release --features live --quiet
bin=target/release/cleartrace

# 1. Ethernet captures, moved off the loopback addresses.
mkdir -p "$work/replay"
linktype() { python3 -c 'import struct,sys; h=open(sys.argv[1],"rb").read(24); print(struct.unpack("<I" if h[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">I", h[20:24])[0] & 0xffff)' "$1"; }
for f in pcaps/*.pcap; do
    [ "$(linktype "$f")" = 1 ] || continue
    tcprewrite --pnat='127.0.0.0/8:10.127.0.0/16,[::1/128]:[fd00:127::1/128]' --fixcsum \
        -i "$f" -o "$work/replay/$(basename "$f")"
done
files=("$work"/replay/*.pcap)
echo "replaying ${#files[@]} captures"

# Short timeouts so every flow ends soon after the replay; no capture has a gap this
# long inside a flow, so the files split into the same flows either way.
cat >"$work/config.toml" <<'EOF'
[flow]
tcp_idle_timeout = 5
tcp_closed_timeout = 2
udp_idle_timeout = 5
EOF

# 2. What the offline path says about the same bytes.
"$bin" analyze -q --config "$work/config.toml" --metrics "$work/expected.prom" \
    --alerts "$work/expected-alerts.json" --flows "$work/expected-flows.json" "${files[@]}"

# A syslog collector for the sensor's flow records: rsyslogd writing each message's MSG.
syslog_port=$(free_port)
mkdir -p "$work/rsyslog"
cat >"$work/rsyslog/rsyslog.conf" <<EOF
global(workDirectory="$work/rsyslog" maxMessageSize="256k")
module(load="imtcp")
template(name="msg" type="string" string="%msg%\n")
ruleset(name="eve") { action(type="omfile" file="$work/rsyslog/flows.json" template="msg") }
input(type="imtcp" address="127.0.0.1" port="$syslog_port" ruleset="eve")
EOF
rsyslogd -n -f "$work/rsyslog/rsyslog.conf" -i "$work/rsyslog/pid" >"$work/rsyslog.log" 2>&1 &
pids+=("$!")

# 3. The sensor (dropping root to nobody once the capture is open, so its files live
# where nobody may write), then Prometheus scraping it every second.
chmod 711 "$work"
mkdir -m 1777 "$work/out"
port=$(free_port)
# 10.99.0.0/16: the outer addresses of the VXLAN capture (its inner packets, on
# 127.0.0.1 inside the tunnel, are not rewritten and never reach the kernel's stack).
"$bin" live -i "$iface" --capture "$CAPTURE" --bpf 'net 10.127.0.0/16 or net fd00:127::/64 or net 10.99.0.0/16' \
    --listen "127.0.0.1:$port" \
    --workers "$WORKERS" --config "$work/config.toml" --alerts "$work/out/alerts.json" \
    --flows "syslog://127.0.0.1:$syslog_port" --report "$work/out/report.json" --user nobody -q \
    2>"$work/live.err" &
live_pid=$!
pids+=("$live_pid")
wait_healthy "$port" "$work/live.err"
[ "$(awk '/^Uid:/{print $2}' "/proc/$live_pid/status")" = "$(id -u nobody)" ] ||
    fail "the sensor still runs as uid $(awk '/^Uid:/{print $2}' "/proc/$live_pid/status"), not nobody"

prom_port=$(free_port)
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: cleartrace
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=("$!")
for _ in $(seq 60); do
    curl -sf "127.0.0.1:$prom_port/-/ready" >/dev/null && break
    sleep 0.5
done
curl -sf "127.0.0.1:$prom_port/-/ready" >/dev/null || { cat "$work/prometheus.log" >&2; fail "Prometheus did not come up"; }

# 4. Replay (at 4x speed; timing kept so flows split as offline), rotating the alert
# file half-way the way logrotate does.
half=$(( ${#files[@]} / 2 ))
"${replay[@]}" --multiplier 4 "${files[@]:0:$half}" >/dev/null 2>&1
sleep 1
mv "$work/out/alerts.json" "$work/out/alerts.json.1"
kill -HUP "$live_pid"
sleep 0.5
[ -e "$work/out/alerts.json" ] || fail "SIGHUP did not reopen the alert file"
kill -USR1 "$live_pid"
sleep 0.5
[ -s "$work/out/report.json" ] || fail "SIGUSR1 wrote no report"
cp "$work/out/report.json" "$work/snapshot.json"
"${replay[@]}" --multiplier 4 "${files[@]:$half}" >/dev/null 2>&1

# 5. Wait for every flow to time out, and for Prometheus to scrape the result.
wait_idle "$port"
curl -sf "127.0.0.1:$port/metrics" >"$work/scrape.txt"
promtool check metrics <"$work/scrape.txt" || fail "promtool check metrics"

# 6. Prometheus' view against the offline run.
WORKERS=$WORKERS CAPTURE=$CAPTURE python3 - "$work/expected.prom" "127.0.0.1:$prom_port" \
    "$work/expected-flows.json" "$work/rsyslog/flows.json" <<'PY'
import collections, json, os, re, sys, time, urllib.parse, urllib.request

expected_path, prom = sys.argv[1], sys.argv[2]
COMPARED = ("cleartrace_packets_total", "cleartrace_bytes_total", "cleartrace_flows_total",
            "cleartrace_alerts_total", "cleartrace_tls_sessions_total",
            "cleartrace_personal_data_findings_total", "cleartrace_decode_errors_total")
line = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')

def key(name, labels):
    return name + "{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"

expected = {}
for text in open(expected_path):
    m = line.match(text.strip())
    if m and m.group(1) in COMPARED:
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        expected[key(m.group(1), labels)] = float(m.group(3))

def scrape():
    query = urllib.parse.quote('{__name__=~"cleartrace_.*_total",job="cleartrace"}')
    with urllib.request.urlopen(f"http://{prom}/api/v1/query?query={query}") as r:
        answer = json.load(r)
    assert answer["status"] == "success", answer
    stored, drops = {}, {}
    for series in answer["data"]["result"]:
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        labels.pop("job", None)
        labels.pop("instance", None)
        value = float(series["value"][1])
        if name == "cleartrace_capture_dropped_packets_total":
            drops[labels.get("stage")] = value
        if name == "cleartrace_capture_ring_dropped_packets_total":
            drops["ring " + labels.get("ring", "?")] = value
        if name in COMPARED and value > 0:
            stored[key(name, labels)] = value
    return stored, drops

expected = {k: v for k, v in expected.items() if v > 0}
# Every flow has ended; wait (a little) for a scrape taken after that.
for _ in range(20):
    stored, drops = scrape()
    if stored == expected:
        break
    time.sleep(1)

if any(drops.values()):
    sys.exit(f"FAIL: packets dropped: {drops}")
rings = {f"ring {i}" for i in range(int(os.environ["WORKERS"]))} if os.environ["CAPTURE"] == "afpacket" else set()
if set(drops) != {"kernel", "interface", "queue"} | rings:
    sys.exit(f"FAIL: drop counters missing: {drops}")
problems = [f"{k}: analyze {expected.get(k)} live {stored.get(k)}"
            for k in sorted(set(expected) | set(stored)) if expected.get(k) != stored.get(k)]
def flows(path):
    # What tells flows apart, without the flow id or times: a live run numbers and
    # clocks them otherwise.
    summary = collections.Counter()
    for text in open(path) if os.path.exists(path) else []:
        f = json.loads(text)
        n = f.get("flow", {})
        summary[(f.get("proto"), f.get("src_ip"), f.get("src_port"), f.get("dest_ip"),
                 f.get("dest_port"), f.get("app_proto"), n.get("pkts_toserver"),
                 n.get("pkts_toclient"), n.get("bytes_toserver"), n.get("bytes_toclient"))] += 1
    return summary

if problems:
    # Which flows differ, so a failure in CI says more than a count (the records may
    # still be on their way to rsyslogd: a hint, not the verdict).
    offline, live = flows(sys.argv[3]), flows(sys.argv[4])
    differ = [f"only analyze: {k}" for k in (offline - live)][:10] + \
             [f"only live: {k}" for k in (live - offline)][:10]
    sys.exit("FAIL: Prometheus disagrees with analyze:\n  " + "\n  ".join(problems + differ))
alerts = sum(v for k, v in expected.items() if k.startswith("cleartrace_alerts_total"))
print(f"live == analyze through Prometheus: {len(expected)} series, "
      f"{int(expected['cleartrace_packets_total{}'])} packets, {int(alerts)} alerts")
PY

# 7. SIGTERM: flush and exit 0; the two alert files hold every alert once.
kill -TERM "$live_pid"
status=0
wait "$live_pid" || status=$?
[ "$status" = 0 ] || { cat "$work/live.err" >&2; fail "live exited with $status after SIGTERM"; }
lines=$(cat "$work/out/alerts.json.1" "$work/out/alerts.json" | wc -l)
want=$(wc -l <"$work/expected-alerts.json")
[ "$lines" = "$want" ] || fail "alert lines: live wrote $lines, analyze $want"
[ -s "$work/out/alerts.json" ] || fail "nothing written to the reopened alert file"
want_flows=$(wc -l <"$work/expected-flows.json")
for _ in $(seq 50); do
    [ "$(grep -c . "$work/rsyslog/flows.json" 2>/dev/null || true)" -ge "$want_flows" ] && break
    sleep 0.2
done
got_flows=$(grep -c . "$work/rsyslog/flows.json" || true)
[ "$got_flows" = "$want_flows" ] ||
    fail "flow records via syslog: rsyslogd got $got_flows, analyze wrote $want_flows"
if python3 -c 'import jsonschema' 2>/dev/null && [ -e ../shared/eve/suricata-schema.json ]; then
    cat "$work/out/alerts.json.1" "$work/out/alerts.json" "$work/rsyslog/flows.json" >"$work/eve.json"
    python3 schema/check.py --suricata ../shared/eve/suricata-schema.json "$work/eve.json" ||
        fail "live EVE lines do not validate"
fi
python3 - "$work/out/report.json" "$want" "$work/snapshot.json" "$iface" <<'PY' || fail "the reports disagree"
import json, sys
final = json.load(open(sys.argv[1]))
alerts = lambda r: r["verdict"]["alerts"]
assert final["schema"] == "cleartrace-report/2", final["schema"]
assert [i["name"] for i in final["inputs"]] == ["interface " + sys.argv[4]], final["inputs"]
assert sum(c["alerts"] for c in final["verdict"]["alerts_by_severity"]) == alerts(final)
assert alerts(final) == int(sys.argv[2]), (alerts(final), sys.argv[2])
snapshot = json.load(open(sys.argv[3]))
assert 0 < alerts(snapshot) < alerts(final), (alerts(snapshot), alerts(final))
PY
python3 - "$iface" "$work/out/alerts.json.1" "$work/out/alerts.json" <<'PY' || fail "alert lines do not name the interface"
import json, sys
for path in sys.argv[2:]:
    for line in open(path):
        event = json.loads(line)
        assert event.get("in_iface") == sys.argv[1] and "pcap_filename" not in event, event
PY
echo "live test passed ($CAPTURE capture on $iface, $WORKERS workers, running as nobody): $lines alert lines, SIGHUP and SIGTERM handled"
