#!/usr/bin/python3
"""Validate baton's --json output against docs/schema/.

    json-validate.py SCHEMA [--array | --lines] < output

SCHEMA is a file name under docs/schema/ (task.schema.json ...).  With
--array the input is an array of such objects; with --lines, one object
a line (work --json).  References to other files of docs/schema/ are
resolved here, so any jsonschema version Debian ships will do.  Exit 0
if valid; 1 with the errors on stderr otherwise.
"""
import json
import os
import sys

import jsonschema

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs",
                    "schema")


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return json.load(f)


def resolve(node, doc, cache):
    """Inline every $ref: "file.json" or "file.json#/$defs/x" or "#/..."."""
    if isinstance(node, list):
        return [resolve(n, doc, cache) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        name, _, frag = ref.partition("#")
        target_doc = doc
        if name:
            if name not in cache:
                cache[name] = load(name)
            target_doc = cache[name]
        target = target_doc
        for part in [p for p in frag.split("/") if p]:
            target = target[part]
        return resolve(target, target_doc, cache)
    return {k: resolve(v, doc, cache) for k, v in node.items()
            if k not in ("$id", "$defs")}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = load(sys.argv[1])
    schema = resolve(root, root, {})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    mode = sys.argv[2] if len(sys.argv) > 2 else ""
    text = sys.stdin.read()
    if mode == "--lines":
        items = [json.loads(l) for l in text.splitlines() if l.strip()]
        if not items:
            sys.exit("json-validate: no lines")
    elif mode == "--array":
        items = json.loads(text)
        if not isinstance(items, list):
            sys.exit("json-validate: not an array")
    else:
        items = [json.loads(text)]
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for i, item in enumerate(items):
        for e in validator.iter_errors(item):
            bad += 1
            path = "/".join(str(p) for p in e.absolute_path)
            print("json-validate: item %d: %s: %s" % (i, path or "(root)",
                                                      e.message),
                  file=sys.stderr)
    sys.exit(1 if bad else 0)


main()
