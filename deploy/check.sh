#!/usr/bin/env bash
# Checks of the deployment files in deploy/; CI runs `deploy/check.sh`.
#   promtool (Debian package `prometheus`) is required; amtool and systemd-analyze are
#   used when present. Runs from any directory; exit status 1 if any check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

failed=()
step() {
  local name="$1"
  shift
  echo "== $name"
  if "$@"; then
    echo "-- ok: $name"
  else
    echo "-- FAILED: $name"
    failed+=("$name")
  fi
}

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: install the Debian package 'prometheus' (apt-get install prometheus)" >&2
  exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 not found" >&2
  exit 1
fi

step "promtool check rules" promtool check rules prometheus/cleartrace.rules.yml
step "promtool test rules" promtool test rules prometheus/cleartrace.rules.test.yml
step "promtool check config" promtool check config prometheus/prometheus.yml

# Dashboard: json.load, structure, metric / label names; then every expression parsed
# by promtool as a recording rule.
step "dashboard json and metric names" python3 check_exprs.py --emit-rules "$tmp/dashboard-exprs.json"
if [ -s "$tmp/dashboard-exprs.json" ]; then
  step "dashboard expressions parse (promtool)" promtool check rules "$tmp/dashboard-exprs.json"
fi

if command -v amtool >/dev/null 2>&1; then
  step "amtool check-config" amtool check-config alertmanager/alertmanager.yml
else
  echo "== amtool not installed: alertmanager/alertmanager.yml only checked as YAML"
  step "alertmanager.yml receivers" python3 - alertmanager/alertmanager.yml <<'EOF'
import sys
try:
    import yaml
except ImportError:
    print("PyYAML not installed: skipped")
    sys.exit(0)
doc = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
names = [r["name"] for r in doc["receivers"]]
bad = [n for n in names if names.count(n) > 1]

def walk(route):
    yield route.get("receiver")
    for child in route.get("routes", []):
        yield from walk(child)

used = [r for r in walk(doc["route"]) if r is not None]
missing = sorted(set(used) - set(names))
if doc["route"].get("receiver") is None:
    print("the top-level route has no receiver")
    sys.exit(1)
if missing or bad:
    print("undefined receivers:", missing, "duplicate receivers:", bad)
    sys.exit(1)
print("receivers defined:", ", ".join(names))
EOF
fi

if command -v systemd-analyze >/dev/null 2>&1; then
  # The binary is not installed here: verify a copy whose ExecStart points at /bin/true.
  sed 's#/usr/local/bin/cleartrace#/bin/true#' cleartrace.service >"$tmp/cleartrace.service"
  # A clean unit prints nothing about itself; "..., ignoring" warnings do not change the
  # status, so any line naming our unit counts as a failure. Lines about other units
  # (verify loads the targets ours is wanted by, and whatever packages put there, e.g.
  # freeradius.service's MemoryLimit=) are shown but are not ours to fix.
  verify_unit() {
    local out ours
    out="$(systemd-analyze verify "$1" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    [ -z "$out" ] || printf '%s\n' "$out"
    ours="$(printf '%s\n' "$out" | grep -F "$(basename "$1")" || true)"
    [ -z "$ours" ]
  }
  step "systemd-analyze verify" verify_unit "$tmp/cleartrace.service"
else
  echo "== systemd-analyze not installed: cleartrace.service not verified"
fi

if [ "${#failed[@]}" -ne 0 ]; then
  echo "deploy/check.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "deploy/check.sh: all checks passed"
