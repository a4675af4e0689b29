#!/usr/bin/env bash
# Build coversnap and run every test (README's second command, and CI's),
# twice: a normal build, then one under AddressSanitizer + UBSan (any
# sanitizer report fails the test it happens in).  Installs the Debian
# packages it needs first.  Ends with ONE line "N passed, N failed" over
# both runs, taken from meson's test logs.
#   COVERSNAP_BUILDDIR      normal build directory (default build-tests)
#   COVERSNAP_SAN_BUILDDIR  sanitizer build directory (default build-tests-san)
#   COVERSNAP_SANITIZE=0    the normal run only
# Arguments go to both `meson test` runs (e.g. a suite name).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

setup() { # builddir [meson options...]
  local dir=$1
  shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@"
  else
    meson setup "$dir" "$@"
  fi
}

builddir=${COVERSNAP_BUILDDIR:-build-tests}
setup "$builddir" >/dev/null
meson compile -C "$builddir"

rc=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" || rc=$?
logs=("$builddir/meson-logs/testlog.json")

if [ "${COVERSNAP_SANITIZE:-1}" != 0 ]; then
  sandir=${COVERSNAP_SAN_BUILDDIR:-build-tests-san}
  echo "== the same suite under ASan + UBSan ($sandir)"
  # -Db_lundef=false: the plugin is a module, the runtime comes from the
  # program; tests/meson.build says which tests preload it or skip a case
  # (its "Message:" lines)
  out=$(setup "$sandir" -Db_sanitize=address,undefined -Db_lundef=false)
  grep '^Message:' <<<"$out" || true
  meson compile -C "$sandir"
  # leaks: not checked here (GLib/GStreamer keep one-time allocations);
  # scripts/valgrind-coversnapd.sh checks coversnapd for definite leaks
  GST_REGISTRY_FORK=no \
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C "$sandir" --print-errorlogs --num-processes 2 "$@" || rc=$?
  logs+=("$sandir/meson-logs/testlog.json")
fi
python3 scripts/test-summary.py "${logs[@]}"
exit $rc
