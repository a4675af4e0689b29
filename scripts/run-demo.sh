#!/usr/bin/env bash
# The main job (README's first command), until the reference server lands:
# build the plugin, push a live test stream (moving pattern with a clock,
# H.264, 2 s GOP) through covertap, and show where its cover is while it
# streams.  Installs the Debian packages it needs first.
#   COVERSNAP_DEMO_SECONDS  how long the stream runs (default 12)
#   COVERSNAP_DEMO_DIR      where the cover store and cover.jpg go
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

builddir=${COVERSNAP_BUILDDIR:-build}
[ -d "$builddir" ] || meson setup "$builddir" >/dev/null
meson compile -C "$builddir" >/dev/null

seconds=${COVERSNAP_DEMO_SECONDS:-12}
store=${COVERSNAP_DEMO_DIR:-${XDG_RUNTIME_DIR:-/tmp}/coversnap-demo}
mkdir -p "$store"
client_id=42
export GST_PLUGIN_PATH="$PWD/$builddir/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
cat="$PWD/$builddir/plugin/coversnap-cat"

echo "coversnap demo: streaming ${seconds}s of live H.264 through covertap (client $client_id)"
gst-launch-1.0 -q \
  videotestsrc is-live=true pattern=ball num-buffers=$((seconds * 25)) \
  ! video/x-raw,width=1280,height=720,framerate=25/1,format=I420 \
  ! clockoverlay time-format="%H:%M:%S" \
  ! x264enc tune=zerolatency speed-preset=veryfast key-int-max=50 bitrate=2000 \
  ! h264parse ! covertap client-id=$client_id store-dir="$store" \
  ! fakesink sync=false &
pusher=$!
trap 'kill $pusher 2>/dev/null || true' EXIT

for _ in $(seq 1 50); do
  if "$cat" --store-dir "$store" --info $client_id >/dev/null 2>&1; then
    break
  fi
  sleep 0.2
done
sleep 2
echo
echo "== the live cover, while the stream runs =="
"$cat" --store-dir "$store" --info $client_id
"$cat" --store-dir "$store" $client_id > "$store/cover.jpg"
echo
echo "cover segment: $store/coversnap.$client_id (shared memory)"
echo "cover JPEG:    $store/cover.jpg ($(stat -c %s "$store/cover.jpg") bytes)"
echo "read it again: $cat --store-dir $store $client_id > cover.jpg"
wait $pusher
trap - EXIT
echo
echo "== after the stream ended =="
"$cat" --store-dir "$store" --info $client_id
