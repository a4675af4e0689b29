# Shared by the bench scripts (sourced, not run): a temp dir on tmpfs, and
# every process started by the script ended on the way out.
#   bench_workdir NAME   sets $work to a new /dev/shm/NAME.XXXXXX and arms
#                        the trap; add the pids to end to the pids array
#   wait_for_line FILE PATTERN PID
#                        waits (bounded: 30 s) for PATTERN in FILE while PID
#                        lives
#   bench_build BUILDDIR SRC TARGET...
#                        sets BUILDDIR up for the benches (no tests, no docs;
#                        an existing one is reconfigured, so that targets
#                        added since are known) and builds the TARGETs
#   free_port            a free TCP port on 127.0.0.1

pids=()

bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}

bench_workdir() {
  work=$(mktemp -d "/dev/shm/$1.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

wait_for_line() {
  for _ in $(seq 300); do
    if grep -q "$2" "$1" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$3" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  return 1
}

# bench_camera_clip OUT W H OBJ SECONDS FPS X264_PROPERTIES...
#   writes (once: an existing OUT is kept) camera-like H.264 to OUT: a
#   detailed still background, a moving OBJ x OBJ object, light sensor
#   noise, a running clock, byte-stream access units.  The x264enc
#   properties (bitrate, key-int-max, ...) come last.
bench_camera_clip() {
  local out=$1 w=$2 h=$3 obj=$4 seconds=$5 fps=$6 tmp
  shift 6
  [ -s "$out" ] && return 0
  mkdir -p "$(dirname "$out")"
  tmp="$out.tmp.$$"
  echo "creating $out" >&2
  local n=$((seconds * fps))
  local raw="video/x-raw,format=I420,framerate=$fps/1"
  # shellcheck disable=SC2068
  if ! timeout 900 gst-launch-1.0 -q \
    videotestsrc num-buffers=$n pattern=zone-plate kx2=6 ky2=6 \
    ! "$raw,width=$w,height=$h" ! m. \
    videotestsrc num-buffers=$n pattern=ball \
    ! "$raw,width=$obj,height=$obj" ! m. \
    videotestsrc num-buffers=$n pattern=snow \
    ! "$raw,width=$w,height=$h" ! m. \
    compositor name=m sink_1::xpos=$((w * 3 / 8)) sink_1::ypos=$((h / 4)) \
    sink_2::alpha=0.05 ! "$raw,width=$w,height=$h" \
    ! timeoverlay font-desc="Sans $((h / 30))" \
    ! x264enc speed-preset=veryfast $@ \
    ! video/x-h264,stream-format=byte-stream,profile=high \
    ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au \
    ! filesink location="$tmp" >&2; then
    rm -f "$tmp"
    echo "could not create $out" >&2
    exit 1
  fi
  mv "$tmp" "$out"
}

bench_build() {
  local builddir=$1 src=$2 out
  shift 2
  if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" "$src" -Dbench=enabled -Dtests=disabled \
      -Ddoc=disabled >/dev/null
  else
    meson setup --reconfigure "$builddir" "$src" >/dev/null
  fi
  if ! out=$(meson compile -C "$builddir" "$@" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
