#!/usr/bin/env python3
"""Static checks of the PromQL in deploy/ (run by deploy/check.sh; standard library only).

* grafana/cleartrace-dashboard.json must load with json.load and be importable: a
  datasource variable DS_PROMETHEUS (type prometheus) used by every panel and query,
  an `instance` variable from label_values(cleartrace_build_info, instance), unique
  panel ids, panels inside the 24-column grid, every target with an expr.
* Every expression (dashboard targets and variable queries; the alert rules too when
  PyYAML is installed) may only use the metric names the sensor exports (plus `up` in
  the rules) and the label names known for them.
* --emit-rules FILE writes the dashboard expressions, with the Grafana variables
  replaced, as recording rules, so that `promtool check rules FILE` parses each one.

Exit status 1 with one line per problem when something is wrong.
"""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DASHBOARD = HERE / "grafana" / "cleartrace-dashboard.json"
RULES = HERE / "prometheus" / "cleartrace.rules.yml"

# The families of `cleartrace live` /metrics, as exposed (counters with _total).
METRICS = {
    "cleartrace_packets_total": set(),
    "cleartrace_bytes_total": set(),
    "cleartrace_flows_total": {"app_proto", "encrypted"},
    "cleartrace_flows_active": set(),
    "cleartrace_alerts_total": {"rule", "severity"},
    "cleartrace_alerts_by_severity_total": {"severity"},
    "cleartrace_anomalies_total": {"anomaly"},
    "cleartrace_tls_sessions_total": {"version"},
    "cleartrace_personal_data_findings_total": {"kind", "app_proto"},
    "cleartrace_capture_dropped_packets_total": {"stage"},
    "cleartrace_flow_evictions_total": set(),
    "cleartrace_table_evictions_total": {"table"},
    "cleartrace_decode_errors_total": {"reason"},
    "cleartrace_build_info": {"version", "host"},
    "cleartrace_eve_dropped_lines_total": set(),
}
# Labels added by Prometheus (target / federation / external labels).
TARGET_LABELS = {"instance", "job", "site", "span", "__name__"}
LABELS = set().union(*METRICS.values()) | TARGET_LABELS
LABEL_VALUES = {
    # Suricata's names (src/protocols/tls/facts.rs), TLS 1.3 drafts left out.
    "version": {"SSLv2", "SSLv3", "TLSv1", "TLS 1.1", "TLS 1.2", "TLS 1.3",
                "DTLS 1.0", "DTLS 1.2", "DTLS 1.3", "unknown"},
    "severity": {"info", "low", "medium", "high", "critical"},
    "stage": {"kernel", "interface", "queue"},
    "table": {"flows", "ip_fragments", "media_expectations"},
    "encrypted": {"true", "false"},
    "rule": {"1001", "1002", "1003", "2001", "2002", "2003", "2004", "2005", "3001",
             "3002", "4001", "4002", "4003", "5001", "5002", "6001", "6002", "6003",
             "7001"},
}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "offset", "bool", "inf", "nan", "atan2"}
GRAFANA_VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h",
                "__range_s": "3600", "instance": ".+"}

problems = []


def substitute_grafana(expr):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in GRAFANA_VARS:
            problems.append(f"unknown Grafana variable ${name} in: {expr}")
            return "1m"
        return GRAFANA_VARS[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'


def check_expr(expr, where, extra_metrics=()):
    """Metric and label names used by one PromQL expression."""
    allowed = set(METRICS) | set(extra_metrics)
    # Label matchers: {name op "value", ...}
    for body in re.findall(r"\{((?:" + STRING + r"|[^{}\"'`])*)\}", expr):
        for name, op, value in re.findall(r"(\w+)\s*(=~|!~|!=|=)\s*(" + STRING + ")", body):
            if name not in LABELS:
                problems.append(f"{where}: unknown label {name!r} in: {expr}")
            value = value[1:-1]
            known = LABEL_VALUES.get(name)
            if known and op in ("=", "=~"):
                alts = value.split("|") if op == "=~" else [value]
                for alt in alts:
                    if re.fullmatch(r"[\w .\-]+", alt) and alt not in known:
                        problems.append(f"{where}: {name}={alt!r} is not a value the sensor exports")
    # Grouping clauses: by (...), without (...), on (...), ignoring (...), group_x (...)
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        for name in re.findall(r"\w+", clause):
            if name not in LABELS:
                problems.append(f"{where}: unknown label {name!r} in grouping of: {expr}")
    # What is left after removing strings, matchers, ranges, grouping clauses and
    # numbers/durations: identifiers followed by "(" are functions, the rest metrics.
    rest = re.sub(STRING, " ", expr)
    rest = re.sub(r"\{[^{}]*\}", " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", rest)
    rest = re.sub(r"\boffset\s+-?\w+", " ", rest)
    rest = re.sub(r"(?<![\w:])\d[\w.]*", " ", rest)
    for m in re.finditer(r"[A-Za-z_:][\w:]*", rest):
        word = m.group(0)
        if word.lower() in KEYWORDS or re.match(r"\s*\(", rest[m.end():]):
            continue
        if word not in allowed:
            problems.append(f"{where}: metric {word!r} is not exported by cleartrace: {expr}")


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def check_dashboard():
    try:
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"{DASHBOARD}: {e}")
        return []
    ds_ref = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append("dashboard: schemaVersion missing or older than 36")
    for key in ("title", "uid", "panels", "templating"):
        if key not in dash:
            problems.append(f"dashboard: no {key!r}")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("DS_PROMETHEUS")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("dashboard: no datasource variable DS_PROMETHEUS of type prometheus")
    inst = variables.get("instance")
    exprs = []
    if not inst or inst.get("type") != "query":
        problems.append("dashboard: no query variable 'instance'")
    else:
        q = inst.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if q != "label_values(cleartrace_build_info, instance)":
            problems.append(f"dashboard: instance variable query is {q!r}")
        if inst.get("datasource") != ds_ref:
            problems.append("dashboard: instance variable does not use ${DS_PROMETHEUS}")
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", q or "")
        if m:
            check_expr(m.group(1), "variable instance")
    ids = set()
    for p in walk_panels(dash.get("panels", [])):
        title = p.get("title", "?")
        if p.get("id") in ids:
            problems.append(f"panel {title!r}: duplicate id {p.get('id')}")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "hwxy") or g["x"] + g["w"] > 24:
            problems.append(f"panel {title!r}: bad gridPos {g}")
        if p.get("type") in ("row", "text"):
            continue
        if p.get("datasource") != ds_ref:
            problems.append(f"panel {title!r}: datasource is not ${{DS_PROMETHEUS}}")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"panel {title!r}: no targets")
        for t in targets:
            expr = t.get("expr", "").strip()
            if not expr:
                problems.append(f"panel {title!r}: target {t.get('refId')} has no expr")
                continue
            if t.get("datasource") != ds_ref:
                problems.append(f"panel {title!r}: target datasource is not ${{DS_PROMETHEUS}}")
            if "cleartrace_" in expr and '$instance' not in expr:
                problems.append(f"panel {title!r}: expr ignores the $instance variable: {expr}")
            check_expr(expr, f"panel {title!r}")
            exprs.append((p["id"], t.get("refId", "A"), substitute_grafana(expr)))
    return exprs


def check_rules():
    try:
        import yaml  # optional: promtool already parses and tests the rules
    except ImportError:
        print("check_exprs: PyYAML not installed, metric names of the rules not checked")
        return
    with open(RULES, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            check_expr(rule["expr"], f"rule {name}", extra_metrics={"up"})


def main(argv):
    emit = None
    if len(argv) == 3 and argv[1] == "--emit-rules":
        emit = argv[2]
    elif len(argv) != 1:
        print("usage: check_exprs.py [--emit-rules FILE]", file=sys.stderr)
        return 2
    exprs = check_dashboard()
    check_rules()
    if emit:
        rules = [{"record": f"dashboard:panel{pid}:{ref}", "expr": e} for pid, ref, e in exprs]
        with open(emit, "w", encoding="utf-8") as f:
            json.dump({"groups": [{"name": "dashboard-exprs", "rules": rules}]}, f, indent=1)
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    print(f"check_exprs: dashboard OK ({len(exprs)} expressions), metric and label names OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
