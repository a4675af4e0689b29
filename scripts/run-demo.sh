#!/usr/bin/env bash
# The main job (README's first command): install what is missing, build,
# and run `coversnapd --demo` -- the media server with a simulated camera
# pushing H.264 over RTSP through its real ingest -- then follow the curl it
# prints and show the cover it got.
#
# From a terminal the server keeps running until Ctrl-C (try the printed
# curl yourself).  Without a terminal (CI, pipes) the run is bounded: the
# server is stopped once the cover is shown.
#   COVERSNAP_DEMO_SECONDS  run the server this long, then it stops by itself
#   COVERSNAP_BUILDDIR      build directory (default build)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

builddir=${COVERSNAP_BUILDDIR:-build}
[ -d "$builddir" ] || meson setup "$builddir" >/dev/null
echo "coversnap demo: building in $builddir/ ..."
meson compile -C "$builddir" >/dev/null

export GST_PLUGIN_PATH="$PWD/$builddir/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
coversnapd="$PWD/$builddir/tools/coversnapd"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/coversnap-demo"
mkdir -p "$cache"
out="$cache/coversnapd.out"
log="$cache/coversnapd.log"
cover="$cache/cover.jpg"

# interactive: until Ctrl-C; else bounded (and stopped after the cover)
args=(--demo)
interactive=0
if [ -n "${COVERSNAP_DEMO_SECONDS:-}" ]; then
  args+=(--demo-seconds "$COVERSNAP_DEMO_SECONDS")
elif [ -t 0 ]; then
  interactive=1
else
  args+=(--demo-seconds 30)
fi

"$coversnapd" "${args[@]}" >"$out" 2>"$log" &
pid=$!
stop_server() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the server prints the curl once the cover is live (it gives up by itself
# after 30 s); this wait is bounded too
url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/.*curl -o cover\.jpg "\([^"]*\)".*/\1/p' "$out" | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "coversnap demo: coversnapd did not print its curl; its output:" >&2
  cat "$out" "$log" >&2
  exit 1
fi
cat "$out"

echo "== running that curl (saving to $cover) =="
headers=$(curl -sS -D - -o "$cover" "$url" | tr -d '\r')
status=$(printf '%s\n' "$headers" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')
source=$(printf '%s\n' "$headers" | sed -n 's/^[Xx]-[Cc]over-[Ss]ource: *//p')
echo "HTTP status:    $status"
echo "X-Cover-Source: ${source:--}"
python3 - "$cover" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
size = None
i = 2
if data[:2] == b"\xff\xd8":
    while i + 9 < len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        seglen = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            size = (w, h)
            break
        i += 2 + seglen
if size:
    print("cover.jpg:      JPEG, %dx%d, %d bytes" % (size[0], size[1], len(data)))
else:
    print("cover.jpg:      not a JPEG (%d bytes): %r" % (len(data), data[:200]))
    sys.exit(1)
PY
if [ "$status" != 200 ]; then
  exit 1
fi

echo
echo "server log: $log"
if [ "$interactive" = 1 ]; then
  echo "coversnapd keeps running (pid $pid): try the curl above; Ctrl-C stops it."
  # Ctrl-C reaches coversnapd too (same process group): a clean stop
  trap 'stop_server; trap - EXIT; echo; echo "coversnap demo: stopped."; exit 0' INT
  wait "$pid" || true
elif [ -n "${COVERSNAP_DEMO_SECONDS:-}" ]; then
  echo "coversnapd stops by itself after ${COVERSNAP_DEMO_SECONDS} s ..."
  wait "$pid"
else
  echo "stopping coversnapd (no terminal: a bounded run) ..."
  kill -TERM "$pid"
  wait "$pid"
fi
trap - EXIT
echo "coversnap demo: done."
