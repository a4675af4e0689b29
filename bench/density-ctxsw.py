#!/usr/bin/env python3
"""Wake-ups per second by thread name, from two snapshots of
"name voluntary_ctxt_switches" lines (one per thread) taken MS apart, for N
streams: bench/run-density-bench.sh's off-CPU view.

    density-ctxsw.py BEFORE AFTER MS N
"""
import collections
import sys


def load(path):
    d = collections.defaultdict(list)
    for line in open(path):
        f = line.split()
        if len(f) == 2 and f[1].isdigit():
            d[f[0]].append(int(f[1]))
    return d


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    secs, n = int(sys.argv[3]) / 1000.0, max(int(sys.argv[4]), 1)
    rows = []
    for name, vals in b.items():
        # threads that came or went meanwhile: their counts start at 0
        before = sum(a.get(name, [])) if len(a.get(name, [])) == len(vals) else 0
        rows.append((sum(vals) - before, name, len(vals)))
    total = sum(r[0] for r in rows)
    for sw, name, count in sorted(rows, reverse=True):
        print("  %-20s %4d threads  %8.0f /s  (%.1f /s per stream)" % (
            name, count, sw / secs, sw / secs / n))
    print("  %-20s %4s          %8.0f /s  (%.1f /s per stream)" % (
        "all", "", total / secs, total / secs / n))


if __name__ == "__main__":
    main()
