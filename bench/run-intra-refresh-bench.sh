#!/usr/bin/env bash
# The intra-refresh benchmark: covertap's CPU per stream for a periodic
# intra-refresh H.264 stream (x264 intra-refresh=true: one IDR, then a
# recovery point SEI every refresh period, each cover a run of access units)
# against an IDR stream of the same size, frame rate, period and bitrate
# (each cover one IDR), in the same invocation, as a ratio.  It also runs
# the alternative that was not chosen, a decoder kept warm for the stream
# (decode every frame), and the parse-only floor every pipeline pays.
# See bench/README.md.
#
#   bench/run-intra-refresh-bench.sh [BUILD_DIR]      (default: build)
#
# Environment:
#   COVERSNAP_BENCH_SECONDS  clip length in seconds (default 20)
#   COVERSNAP_BENCH_STREAMS  streams per pipeline (default 4)
#   COVERSNAP_BENCH_BITRATE  x264 bitrate of both clips, kbit/s (default 2000)
#   COVERSNAP_BENCH_SIZE     WIDTHxHEIGHT (default 1280x720)
#   COVERSNAP_BENCH_MEDIA    clip cache (default bench/.media, git-ignored)
#   COVERSNAP_WORKERS        snapshot workers (default here: 1)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
case $builddir in /*) ;; *) builddir=$src/$builddir ;; esac
seconds=${COVERSNAP_BENCH_SECONDS:-20}
streams=${COVERSNAP_BENCH_STREAMS:-4}
bitrate=${COVERSNAP_BENCH_BITRATE:-2000}
size=${COVERSNAP_BENCH_SIZE:-1280x720}
media=${COVERSNAP_BENCH_MEDIA:-$src/bench/.media}
w=${size%x*}
h=${size#*x}
fps=25
period=50 # a keyframe / a refresh every 2 s

. "$src/bench/lib.sh"

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$src" >/dev/null
fi
if ! log=$(meson compile -C "$builddir" 2>&1); then
  echo "$log" >&2
  exit 1
fi

# the clips, made once: camera-like content (detail, a moving object, light
# noise, a running clock), the same x264 settings but the GOP shape
make_clip() {
  local shape=$1 opts=$2
  local out="$media/ir2-h264-${shape}-${w}x${h}-${fps}fps-${bitrate}k-p${period}-${seconds}s.h264"
  # shellcheck disable=SC2086
  bench_camera_clip "$out" "$w" "$h" $((w / 4)) "$seconds" "$fps" \
    bitrate="$bitrate" key-int-max="$period" bframes=0 $opts
  echo "$out"
}
clip_idr=$(make_clip idr "")
clip_ir=$(make_clip ir "intra-refresh=true")

export GST_PLUGIN_PATH="$builddir/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$builddir/bench/registry-ir.bin"
export COVERSNAP_WORKERS=${COVERSNAP_WORKERS:-1}
unset COVERSNAP_WORKER_DELAY_MS
bench_workdir coversnap-irbench

# One process, $streams copies of the clip, each paced at its frame rate
# (clocksync) as a live stream is; prints the CPU seconds (user + sys).
run() {
  local clip=$1 tail=$2 desc="" i
  for i in $(seq "$streams"); do
    desc="$desc filesrc location=$clip ! h264parse ! clocksync ! $(printf "$tail" "$i")"
  done
  # shellcheck disable=SC2086
  /usr/bin/time -f "%U %S" -o "$work/time" \
    gst-launch-1.0 -q $desc >"$work/out" 2>&1 || {
    cat "$work/out" >&2
    exit 1
  }
  awk '{ printf "%.2f", $1 + $2 }' "$work/time"
}

tap="covertap client-id=%s store-dir=$work min-interval=1000000000 ! fakesink"
echo "clips: ${w}x${h} ${fps} fps ${bitrate} kbit/s, keyframe / refresh every" \
  "$period frames, ${seconds} s; $streams streams per run," \
  "COVERSNAP_WORKERS=$COVERSNAP_WORKERS" >&2
base=$(run "$clip_idr" "fakesink")
idr=$(run "$clip_idr" "$tap")
ir=$(run "$clip_ir" "$tap")
warm=$(run "$clip_ir" "avdec_h264 max-threads=1 ! fakesink")

awk -v base="$base" -v idr="$idr" -v ir="$ir" -v warm="$warm" \
  -v n="$streams" -v s="$seconds" 'BEGIN {
  m = n * s / 60.0
  printf "CPU seconds per stream-minute (user + sys, the whole process):\n"
  printf "  parse only (floor)            %7.2f\n", base / m
  printf "  covertap, IDR stream          %7.2f\n", idr / m
  printf "  covertap, intra-refresh       %7.2f\n", ir / m
  printf "  warm decoder, intra-refresh   %7.2f\n", warm / m
  printf "ratios:\n"
  printf "  intra-refresh / IDR (covertap)            %5.2f\n", ir / idr
  printf "  same, above the parse floor               %5.2f\n", (ir - base) / (idr - base)
  printf "  warm decoder / covertap (intra-refresh)   %5.2f\n", warm / ir
}'
