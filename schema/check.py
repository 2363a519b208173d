#!/usr/bin/env python3
"""Validate cleartrace EVE lines against schema/eve.json and against Suricata's own
EVE schema with only the additions schema/eve.json documents allowed (issue 17).

    schema/check.py --suricata ../shared/eve/suricata-schema.json LINES.jsonl...

schema/eve.json refers to Suricata's definitions by URI ($ref to etc/schema.json of
OISF/suricata at a fixed commit); Suricata's schema is not shipped here (GPL-2.0), so
the references are resolved against the copy given with --suricata. Works with
python3-jsonschema 4.10 (Debian 12) and later: references are inlined here rather
than left to a resolver whose API changed between versions.

Exit status 0 when every line validates against both, 1 otherwise (each failure
printed with its line), 2 on usage errors.
"""

import argparse
import copy
import json
import sys

from jsonschema import Draft202012Validator

ADDITION = "x-cleartrace-addition"


def pointer(doc, fragment):
    node = doc
    for part in fragment.lstrip("/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inline_suricata(node, suricata, uri):
    """Replace every {"$ref": "<uri>#/..."} with the Suricata subschema it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(uri + "#"):
            target = copy.deepcopy(pointer(suricata, ref[len(uri) + 1:]))
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if rest:
                return {"allOf": [target], **inline_suricata(rest, suricata, uri)}
            return target
        return {k: inline_suricata(v, suricata, uri) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_suricata(v, suricata, uri) for v in node]
    return node


def additions(schema, path=()):
    """(path of property names, subschema) of every documented addition."""
    for name, sub in schema.get("properties", {}).items():
        if sub.get(ADDITION):
            yield path + (name,), sub
        else:
            yield from additions(sub, path + (name,))


def suricata_uri(ours):
    for _, sub in walk(ours):
        ref = sub.get("$ref", "")
        if ref.startswith("https://") and "#" in ref:
            return ref.split("#", 1)[0]
    raise SystemExit("schema/eve.json refers to no Suricata schema")


def walk(node):
    if isinstance(node, dict):
        yield None, node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", default="schema/eve.json")
    parser.add_argument("--suricata", required=True)
    parser.add_argument("lines", nargs="+")
    args = parser.parse_args()

    with open(args.schema) as f:
        ours = json.load(f)
    with open(args.suricata) as f:
        suricata = json.load(f)
    uri = suricata_uri(ours)

    # Ours, with Suricata's definitions inlined (their internal #/$defs refs kept
    # working by carrying Suricata's $defs along).
    resolved = inline_suricata(ours, suricata, uri)
    resolved.setdefault("$defs", {})
    for name, definition in suricata.get("$defs", {}).items():
        if name in resolved["$defs"]:
            raise SystemExit(f"$defs/{name} defined by both schemas")
        resolved["$defs"][name] = definition

    # Suricata's, plus exactly the additions ours documents, each where ours puts it.
    extended = copy.deepcopy(suricata)
    added = 0
    for path, sub in additions(ours):
        node = extended
        for name in path[:-1]:
            node = node["properties"][name]
        node.setdefault("properties", {})[path[-1]] = inline_suricata(sub, suricata, uri)
        added += 1

    validators = {
        "cleartrace": Draft202012Validator(resolved),
        "suricata+additions": Draft202012Validator(extended),
    }
    for v in validators.values():
        v.check_schema(v.schema)

    lines = failures = 0
    for name in args.lines:
        with open(name) as f:
            for number, text in enumerate(f, 1):
                if not text.strip():
                    continue
                lines += 1
                event = json.loads(text)
                for label, validator in validators.items():
                    for error in validator.iter_errors(event):
                        failures += 1
                        where = "/".join(str(p) for p in error.absolute_path)
                        print(f"{name}:{number}: {label}: {where}: {error.message}")
    print(f"{lines} lines checked against cleartrace's schema and Suricata's "
          f"(+{added} documented additions): {failures} errors")
    return 1 if failures or not lines else 0


if __name__ == "__main__":
    sys.exit(main())
