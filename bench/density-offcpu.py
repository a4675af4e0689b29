#!/usr/bin/env python3
"""Where the threads of a process go to sleep: `perf script` output of
`perf record -e sched:sched_switch -g` read on stdin, the voluntary
switches (prev_state S or D) counted by thread kind (digits dropped from
the thread name: appsrc12:src -> appsrc:src) and by their first user-space
frames, the top ones printed per second.  bench/run-density-bench.sh's
off-CPU view.

    perf script -i off.data | density-offcpu.py SECONDS [TOP]
"""
import collections
import re
import sys


def main():
    secs = float(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    counts = collections.Counter()
    total = 0
    comm, voluntary, frames = None, False, []

    def flush():
        nonlocal total
        if comm is not None and voluntary:
            kind = re.sub(r"\d+", "", comm)
            stack = " < ".join(frames[:3]) or "?"
            counts[(kind, stack)] += 1
            total += 1

    for line in sys.stdin:
        if not line.strip():
            continue
        if not line[0].isspace():
            flush()
            m = re.search(r"prev_comm=(.*?) prev_pid=.*prev_state=(\S+)", line)
            comm = m.group(1) if m else None
            voluntary = bool(m) and m.group(2)[0] in "SD"
            frames = []
            continue
        f = line.split(None, 1)
        if len(f) < 2 or "[kernel.kallsyms]" in f[1]:
            continue
        sym = re.sub(r"\+0x[0-9a-f]+", "", f[1].split(" (")[0]).strip()
        if sym and sym != "[unknown]":
            frames.append(sym)
    flush()
    print("  %8.0f /s voluntary switches in all" % (total / secs))
    for (kind, stack), n in counts.most_common(top):
        print("  %8.0f /s  %-18s %s" % (n / secs, kind, stack))


if __name__ == "__main__":
    main()
