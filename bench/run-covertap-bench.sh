#!/usr/bin/env bash
# The covertap benchmark: CPU per stream-minute against a decode-every-frame
# reference and a bare keyframe decode + encode floor, the colour step's
# candidates on the decoded keyframes, keyframe-to-publish latency, and RSS
# per idle stream.  See bench/README.md.
#
#   bench/run-covertap-bench.sh [BUILD_DIR]      (default: build)
#
# Environment:
#   COVERSNAP_BENCH_SECONDS  clip length in seconds (default 30)
#   COVERSNAP_BENCH_BITRATE  x264 bitrate of the clips, kbit/s (default 4000)
#   COVERSNAP_BENCH_MEDIA    clip cache (default bench/.media, git-ignored)
#   COVERSNAP_BENCH_JSON     results file (default BUILD_DIR/bench/covertap-bench.json)
#   COVERSNAP_BENCH_REPS     timed runs of the decode-every-frame reference (3)
#   COVERSNAP_BENCH_LIGHT_REPS  timed runs of the other pipelines (default 9)
#   COVERSNAP_BENCH_CLIP_1080, COVERSNAP_BENCH_CLIP_720
#                            your own clips instead of the generated ones
#                            (H.264 byte-stream files, no B-frames, e.g. a
#                            camera's stream saved with h264parse ! filesink)
#   COVERSNAP_WORKERS        snapshot workers (default here: 1, per-core figures)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/bench/lib.sh"
builddir=${1:-build}
case $builddir in /*) ;; *) builddir=$src/$builddir ;; esac
seconds=${COVERSNAP_BENCH_SECONDS:-30}
bitrate=${COVERSNAP_BENCH_BITRATE:-4000}
media=${COVERSNAP_BENCH_MEDIA:-$src/bench/.media}
json=${COVERSNAP_BENCH_JSON:-$builddir/bench/covertap-bench.json}
reps=${COVERSNAP_BENCH_REPS:-3}
light_reps=${COVERSNAP_BENCH_LIGHT_REPS:-9}
fps=25
gop=50 # 2 s at 25 fps

# 1. build (the bench is a meson target of the project)
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$src" -Dbench=enabled >/dev/null
fi
if ! log=$(meson compile -C "$builddir" 2>&1); then
  echo "$log" >&2
  exit 1
fi
exe=$builddir/bench/bench-covertap
if [ ! -x "$exe" ]; then
  echo "$exe was not built: is subdir('bench') in meson.build, and are" \
    "gstreamer-app-1.0 and json-glib-1.0 installed (-Dbench=enabled says)?" >&2
  exit 1
fi

# 2. the media, made once: camera-like content (a detailed still background,
# a moving object, light sensor noise, a running clock), H.264 High profile,
# 25 fps, a keyframe every 2 s
make_clip() {
  local w=$1 h=$2 obj=$3
  # bump the recipe tag when the pipeline in bench_camera_clip changes:
  # cached clips go stale
  local out="$media/cam2-h264-${w}x${h}-${fps}fps-${bitrate}k-gop${gop}-${seconds}s.h264"
  bench_camera_clip "$out" "$w" "$h" "$obj" "$seconds" "$fps" \
    bitrate="$bitrate" key-int-max="$gop"
  echo "$out"
}
clip1080=${COVERSNAP_BENCH_CLIP_1080:-$(make_clip 1920 1080 480)}
clip720=${COVERSNAP_BENCH_CLIP_720:-$(make_clip 1280 720 320)}

# 3. the run: one process, pipelines one after the other
export GST_PLUGIN_PATH="$builddir/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$builddir/bench/registry.bin"
export COVERSNAP_WORKERS=${COVERSNAP_WORKERS:-1}
unset COVERSNAP_WORKER_DELAY_MS
mkdir -p "$(dirname "$json")"
store_args=()
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  store_args=(--store-parent /dev/shm)
fi

start=$(date +%s)
timeout 1200 "$exe" --clip "1080p=$clip1080" --clip "720p=$clip720" \
  --reps "$reps" --light-reps "$light_reps" --json "$json" "${store_args[@]}"
echo
echo "figures written to $json ($(($(date +%s) - start)) s)"
