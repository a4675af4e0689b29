#!/usr/bin/env bash
# coversnapd under valgrind through a burst of requests: no definite leak and
# no memory error may come out of it.
#
#   scripts/valgrind-coversnapd.sh [BUILDDIR]    (default: build)
#
# BUILDDIR must be built WITHOUT sanitizers.  The script starts coversnapd
# (HTTP and RTSP on free 127.0.0.1 ports, a private store and data dir) under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite
# pushes an H.264 stream to it over RTSP (gst-launch-1.0 rtspclientsink, a
# token from coversnap-token), fires a burst with curl (live covers, resized
# covers, HEAD, 304s, bad and wrong-device tokens, uploads good and bad,
# /metrics, /healthz, unknown paths), stops the pusher, then coversnapd with
# SIGTERM, and fails when valgrind reports an error or a definite leak, when
# coversnapd does not exit 0, or when an answer is not the expected status.
# Suppressions (one-time GLib/GStreamer allocations only): scripts/valgrind.supp.
# meson registers it as the test 'valgrind-coversnapd' of suite 'valgrind',
# which the default `meson test` leaves out (`meson test --suite valgrind`).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
coversnapd=$build/tools/coversnapd
token_tool=$build/tools/coversnap-token
for prog in valgrind curl gst-launch-1.0 gst-inspect-1.0; do
  command -v "$prog" >/dev/null || {
    echo "valgrind-coversnapd: $prog is missing" >&2
    exit 1
  }
done
[ -x "$coversnapd" ] && [ -x "$token_tool" ] || {
  echo "valgrind-coversnapd: no coversnapd/coversnap-token in $build" >&2
  exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coversnap-valgrind-XXXXXX")
server_pid=
pusher_pid=
cleanup() {
  for pid in $pusher_pid $server_pid; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
# meson's timeout sends SIGTERM: clean up then too
trap 'exit 143' TERM INT
fail() {
  echo "valgrind-coversnapd: FAIL: $*" >&2
  for f in coversnapd.out coversnapd.err valgrind.log; do
    [ -s "$tmp/$f" ] && { echo "== $f" >&2; tail -n 200 "$tmp/$f" >&2; }
  done
  exit 1
}

mkdir -m 0700 "$tmp/store" "$tmp/data"
key=valgrind-app-key
printf '%s\n' "$key" >"$tmp/key"
cat >"$tmp/coversnapd.ini" <<EOF
[server]
listen-address=127.0.0.1
port=0
data-dir=$tmp/data
store-dir=$tmp/store
# valgrind makes the stream stutter: no "no data" end in the middle
live-timeout=60
[app.valgrind]
key=$key
cids=42-44
[ingest]
rtsp-port=0
# valgrind slows the push's setup well past the default 10 s
pending-timeout=120
[stream.default]
min-interval=0
EOF

# covertap from the build tree, the system's plugins too, a registry of our
# own made before valgrind starts (a scan under valgrind takes minutes)
export GST_PLUGIN_PATH_1_0=$build/plugin
export GST_REGISTRY=$tmp/registry.bin
unset GST_REGISTRY_FORK
gst-inspect-1.0 covertap >/dev/null || fail "covertap not found in $build/plugin"

G_SLICE=always-malloc G_DEBUG=gc-friendly \
  valgrind --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --error-exitcode=99 --num-callers=40 \
  --suppressions="$src/scripts/valgrind.supp" --log-file="$tmp/valgrind.log" \
  "$coversnapd" --config "$tmp/coversnapd.ini" \
  >"$tmp/coversnapd.out" 2>"$tmp/coversnapd.err" &
server_pid=$!

# bounded waits everywhere: valgrind is ~30x slower than the real thing
http_port=
rtsp_port=
for _ in $(seq 1 1200); do
  http_port=$(sed -n 's/^http on .*:\([0-9]*\)$/\1/p' "$tmp/coversnapd.out")
  rtsp_port=$(sed -n 's/^rtsp on .*:\([0-9]*\)$/\1/p' "$tmp/coversnapd.out")
  [ -n "$http_port" ] && [ -n "$rtsp_port" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "coversnapd exited at start"
  sleep 0.1
done
[ -n "$http_port" ] && [ -n "$rtsp_port" ] || fail "coversnapd printed no ports"
base=http://127.0.0.1:$http_port

token42=$("$token_tool" --key-file "$tmp/key" --cid 42)
token43=$("$token_tool" --key-file "$tmp/key" --cid 43)
token44=$("$token_tool" --key-file "$tmp/key" --cid 44)
expired=$("$token_tool" --key-file "$tmp/key" --cid 42 --expire 1000 2>/dev/null)
printf 'another-key\n' >"$tmp/other-key"
forged=$("$token_tool" --key-file "$tmp/other-key" --cid 42)

gst-launch-1.0 -q videotestsrc pattern=red is-live=true \
  ! video/x-raw,format=I420,width=320,height=240,framerate=25/1 \
  ! x264enc tune=zerolatency key-int-max=25 \
  ! rtspclientsink "location=rtsp://127.0.0.1:$rtsp_port/live/42?token=$token42" \
  >/dev/null 2>"$tmp/pusher.err" &
pusher_pid=$!

# curl answers with the status; -m bounds every request
status() { # curl arguments...
  curl -s -o /dev/null -w '%{http_code}' -m 60 "$@" || echo "curl-failed"
}
expect() { # expected-status description curl-arguments...
  local want=$1 what=$2 got
  shift 2
  got=$(status "$@")
  [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want"
}
cover42="$base/v2/snapshots/42/cover?client_token=$token42"

# the live cover: bounded wait for the first one (3 min: the first frames
# go through the decoder and encoder under valgrind)
got=
deadline=$((SECONDS + 180))
while [ "$SECONDS" -lt "$deadline" ]; do
  got=$(curl -s -o /dev/null -w '%{http_code} %header{x-cover-source}' -m 10 \
    "$cover42" || true)
  [ "$got" = "200 live" ] && break
  kill -0 "$pusher_pid" 2>/dev/null || fail "the pusher exited: $(cat "$tmp/pusher.err")"
  sleep 0.5
done
[ "$got" = "200 live" ] || fail "no live cover for 42 (last answer: $got)"

# an image to upload, and some that are not
gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=blue \
  ! video/x-raw,width=64,height=48 ! jpegenc ! filesink "location=$tmp/up.jpg" \
  >/dev/null 2>&1 || fail "could not make a JPEG"
printf 'not an image' >"$tmp/bad.bin"
head -c 200 "$tmp/up.jpg" >"$tmp/cut.jpg"
upload43="$base/v2/devices/43/snapshots?client_token=$token43"
cover43="$base/v2/snapshots/43/cover?client_token=$token43"
# an uploaded cover keeps its ETag (a live one changes with each image)
expect 200 "first upload" -F "file=@$tmp/up.jpg" "$upload43"

for round in 1 2 3; do
  # (each upload below makes a new file: a new ETag)
  etag=$(curl -s -o /dev/null -D - -m 60 "$cover43" | tr -d '\r' |
    sed -n 's/^[Ee][Tt][Aa][Gg]: *//p')
  [ -n "$etag" ] || fail "no ETag on a cover"
  expect 200 "GET live cover" "$cover42"
  expect 200 "HEAD live cover" -I "$cover42"
  expect 304 "GET with If-None-Match" -H "If-None-Match: $etag" "$cover43"
  expect 304 "HEAD with If-None-Match" -I -H "If-None-Match: $etag" "$cover43"
  expect 200 "resized cover" "$cover42&width=100"
  expect 200 "resized cover, both sides" "$cover42&width=$((60 + round))&height=40"
  expect 400 "oversized resize" "$cover42&width=100000"
  expect 401 "no token" "$base/v2/snapshots/42/cover"
  expect 401 "malformed token" "$base/v2/snapshots/42/cover?client_token=x_y"
  expect 401 "expired token" "$base/v2/snapshots/42/cover?client_token=$expired"
  expect 401 "forged token" "$base/v2/snapshots/42/cover?client_token=$forged"
  expect 403 "another device's token" "$base/v2/snapshots/42/cover?client_token=$token43"
  expect 400 "bad client id" "$base/v2/snapshots/042/cover?client_token=$token42"
  expect 405 "bad method" -X DELETE "$cover42"
  expect 200 "upload" -F "file=@$tmp/up.jpg" "$upload43"
  expect 200 "uploaded cover, resized" "$cover43&width=32"
  expect 406 "upload of a non-image" -F "file=@$tmp/bad.bin" "$upload43"
  expect 406 "upload of a cut JPEG" -F "file=@$tmp/cut.jpg" "$upload43"
  expect 400 "upload without multipart" --data-binary "@$tmp/up.jpg" "$upload43"
  expect 401 "upload without token" -F "file=@$tmp/up.jpg" "$base/v2/devices/43/snapshots"
  # (Expect: answered before the body, which curl then never sends)
  expect 413 "upload over the limit" -H "Expect: 100-continue" \
    -H "Content-Type: multipart/form-data; boundary=x" \
    -H "Content-Length: 999999999" --data-binary "@$tmp/up.jpg" "$upload43"
  expect 404 "no cover at all" "$base/v2/snapshots/44/cover?client_token=$token44"
  expect 200 "/healthz" "$base/healthz"
  expect 200 "/metrics" "$base/metrics"
  expect 404 "unknown path" "$base/nope"
done
# some of them in parallel, several on one kept-alive connection each
burst=()
for _ in 1 2 3 4; do
  curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null -m 60 \
    "$cover42" "$cover42&width=80" "$base/metrics" "$base/healthz" &
  burst+=($!)
  curl -s -o /dev/null -m 60 -I "$cover42" &
  burst+=($!)
done
for pid in "${burst[@]}"; do
  wait "$pid" || fail "a parallel curl failed"
done

# the pusher ends its session (SIGINT: rtspclientsink tears down)
kill -INT "$pusher_pid"
for _ in $(seq 1 300); do
  kill -0 "$pusher_pid" 2>/dev/null || break
  sleep 0.1
done
kill -KILL "$pusher_pid" 2>/dev/null || true
wait "$pusher_pid" 2>/dev/null || true
pusher_pid=
sleep 1

kill -TERM "$server_pid"
rc=
for _ in $(seq 1 1200); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    rc=0
    wait "$server_pid" || rc=$?
    break
  fi
  sleep 0.1
done
[ -n "$rc" ] || fail "coversnapd did not exit within 120 s of SIGTERM"
server_pid=
summary=$(grep -E 'ERROR SUMMARY|definitely lost' "$tmp/valgrind.log" || true)
echo "$summary"
[ "$rc" = 99 ] && fail "valgrind found errors or definite leaks"
[ "$rc" = 0 ] || fail "coversnapd exited with $rc"
grep -q 'ERROR SUMMARY: 0 errors' "$tmp/valgrind.log" ||
  fail "valgrind found errors"
echo "valgrind-coversnapd: OK"
