#!/bin/sh
# Runs every libFuzzer harness of tests/fuzz for N seconds (default 60) over
# a copy of its seed corpus, and prints libFuzzer's last status line
# (execs, cov:, ft:) per harness.
#
# Needs clang (Debian: apt-get install clang); the normal suite does not:
# it runs the harnesses over the committed corpus as plain programs.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS] [BUILD_DIR]
set -eu
secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-/tmp/build-fuzz}
if [ ! -d "$build" ]; then
  CC=clang meson setup "$build" "$src" -Dfuzzing=enabled \
    -Db_sanitize=address,undefined -Db_lundef=false
fi
meson compile -C "$build"
# a GLib critical is a finding, as in the suite; GLib drops its first quark
# block on purpose, which LeakSanitizer would report at exit (each input's
# own leak check stays on)
export G_DEBUG=fatal-criticals
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}leak_check_at_exit=0"
for h in fuzz-multipart fuzz-image fuzz-token fuzz-config fuzz-nal fuzz-jpeg fuzz-rtsp-auth fuzz-store; do
  work=$(mktemp -d)
  cp "$src/tests/fuzz/corpus/$h/"* "$work/"
  echo "== $h"
  "$build/tests/fuzz/$h-libfuzzer" -max_total_time="$secs" -print_final_stats=1 \
    "$work" 2>&1 | grep -E '^#[0-9]+.*(DONE|pulse|NEW)|stat::number_of_executed_units|ERROR' | tail -3
  rm -rf "$work"
done
