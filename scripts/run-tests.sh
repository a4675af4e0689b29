#!/usr/bin/env bash
# Build coversnap and run every test (README's second command, and CI's).
# Installs the Debian packages it needs first.  Ends with the line
# "N passed, N failed" taken from meson's test log.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

builddir=${COVERSNAP_BUILDDIR:-build-tests}
if [ -d "$builddir" ]; then
  meson setup --reconfigure "$builddir" >/dev/null
else
  meson setup "$builddir" >/dev/null
fi
meson compile -C "$builddir"

rc=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" || rc=$?
python3 scripts/test-summary.py "$builddir/meson-logs/testlog.json"
exit $rc
