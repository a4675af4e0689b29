#!/usr/bin/env python3
"""Print ONE line 'N passed, N failed[, N skipped]' over one or more meson
testlog.json files (scripts/run-tests.sh: the normal and the sanitizer run)."""
import json
import sys

if len(sys.argv) < 2:
    sys.exit("usage: test-summary.py TESTLOG.json [TESTLOG.json...]")
passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as log:
        for line in log:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
summary = f"{passed} passed, {failed} failed"
if skipped:
    summary += f", {skipped} skipped"
print(summary)
