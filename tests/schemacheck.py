#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks gilstat's JSON reports against docs/gilstat.schema.json.

  schemacheck.py SCHEMA FILE...   every line of the FILEs that is not blank

Prints one line per report that does not match (file, line, where and why) and the number of
reports read; exits 1 if any does not match or if there was none to read, so that a run whose
reports went missing cannot pass. Needs the jsonschema module (Debian: python3-jsonschema).
"""
import json
import sys

import jsonschema


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    reports = bad = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                reports += 1
                try:
                    errors = list(validator.iter_errors(json.loads(line)))
                except json.JSONDecodeError as e:
                    errors = [e]
                for e in errors[:3]:
                    where = "/".join(str(p) for p in getattr(e, "absolute_path", []))
                    print(f"# {path}:{n}: {where or 'report'}: {getattr(e, 'message', e)}")
                bad += bool(errors)
    print(f"# {reports} reports read, {bad} do not match {sys.argv[1]}")
    return 1 if bad or not reports else 0


if __name__ == "__main__":
    sys.exit(main())
