# Helpers shared by the live end-to-end scripts (tests/live.sh, tests/live-fanout.sh);
# sourced, not run.

fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (5 s at most) for the sensor's endpoint on PORT; fails showing ERRLOG if it
# never answers.
wait_healthy() {
    local port=$1 errlog=$2
    for _ in $(seq 50); do
        curl -sf "127.0.0.1:$port/healthz" >/dev/null && return 0
        sleep 0.1
    done
    cat "$errlog" >&2
    fail "sensor did not come up"
}

# Waits (30 s at most) until the sensor on PORT tracks no flow: every flow has ended.
wait_idle() {
    local port=$1 active=
    for _ in $(seq 60); do
        active=$(curl -sf "127.0.0.1:$port/metrics" | awk '$1=="cleartrace_flows_active"{print $2}')
        [ "$active" = 0 ] && return 0
        sleep 0.5
    done
    fail "flows still active: $active"
}
