#!/usr/bin/env bash
# The density benchmark: N simulated 720p cameras (one pre-encoded H.264
# clip, looped in real time, no re-encoding, one pusher process fanning it
# out) push over RTSP/TCP into
#   (f) a bare gst-rtsp-server RECORD -> fakesink   (bench/density-ref.c)
#   (g) (f) + rtph264depay ! h264parse ! covertap   (bench/density-ref.c)
#   coversnapd
# at the same N, one after the other, in the same run: CPU, RSS, threads and
# fds per added stream, and the ratios.  Then coversnapd alone, N stepping
# up until covers stop refreshing within 2 GOPs or the machine runs out
# (which of the two is said).  Last, how long a client waits for a fresh
# cover from coversnapd versus an on-demand ffmpeg snapshot of the same
# stream.  See bench/README.md.
#
#   bench/run-density-bench.sh [BUILD_DIR]      (default: build)
#
# Environment:
#   COVERSNAP_DENSITY_REF_NS   N of the three-way comparison (default "4 16 32")
#   COVERSNAP_DENSITY_STEPS    N of coversnapd's stepping
#                              (default "64 96 128 192 256 300 384")
#   COVERSNAP_DENSITY_MAX      largest N tried (default 400)
#   COVERSNAP_DENSITY_BUDGET   seconds after which no further step starts
#                              (default 480; the run ends about a step and
#                              the latency part, ~1 min, later)
#   COVERSNAP_DENSITY_MEDIA    clip cache (default bench/.media, git-ignored)
#   COVERSNAP_DENSITY_JSON     results (default BUILD_DIR/bench/density-bench.json)
#   COVERSNAP_DENSITY_GETS     GETs of the live cover timed (default 20)
#   COVERSNAP_DENSITY_FFMPEGS  ffmpeg snapshots timed (default 5)
#   COVERSNAP_DENSITY_PROFILE  N at which coversnapd is profiled after the
#                              comparison (default none; e.g. "32 64"): perf
#                              on-CPU samples by library and symbol (call
#                              graphs in the .data file), the wake-ups per
#                              second of each kind of thread (voluntary
#                              context switches), and where they go to sleep
#                              (perf sched_switch, off-CPU), into
#                              BUILD_DIR/bench/density-profile-N.txt
# An empty COVERSNAP_DENSITY_REF_NS or _STEPS skips that part.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
case $builddir in /*) ;; *) builddir=$src/$builddir ;; esac
ref_ns=${COVERSNAP_DENSITY_REF_NS-4 16 32}
steps=${COVERSNAP_DENSITY_STEPS-64 96 128 192 256 300 384}
profile_ns=${COVERSNAP_DENSITY_PROFILE:-}
max_n=${COVERSNAP_DENSITY_MAX:-400}
budget=${COVERSNAP_DENSITY_BUDGET:-480}
media=${COVERSNAP_DENSITY_MEDIA:-$src/bench/.media}
json=${COVERSNAP_DENSITY_JSON:-$builddir/bench/density-bench.json}
n_gets=${COVERSNAP_DENSITY_GETS:-20}
n_ffmpegs=${COVERSNAP_DENSITY_FFMPEGS:-5}
gop_s=2       # the clip's keyframe interval
poll_gap=4    # 2 GOPs: a live cover must change between two polls this far apart
cid0=20000000 # the pushers' client ids: cid0 + 1 ... cid0 + N

log() { echo "$*" >&2; }
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. tools and the build
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v gst-launch-1.0 >/dev/null || missing+=(gstreamer1.0-tools)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${missing[*]}; install them (apt-get install ${missing[*]})"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi

# shellcheck source=bench/lib.sh
. "$src/bench/lib.sh"
bench_build "$builddir" "$src" bench/density-pusher bench/density-ref tools/coversnapd tools/coversnap-token gstcoversnap
pusher_exe=$builddir/bench/density-pusher
ref_exe=$builddir/bench/density-ref
httpd_exe=$builddir/tools/coversnapd
token_exe=$builddir/tools/coversnap-token
export GST_PLUGIN_PATH="$builddir/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$builddir/bench/registry-density.bin"

# 2. the clip, made once: camera-like 1280x720 (detailed still background, a
# moving object, light sensor noise, a clock: the covertap bench's recipe),
# 25 fps, a keyframe every 2 s, about 2 Mbit/s, 24 s, no B-frames
fps=25 seconds=24 bitrate=2000
clip=$media/cam2-h264-1280x720-${fps}fps-${bitrate}k-gop$((gop_s * fps))-${seconds}s.h264
if [ ! -s "$clip" ]; then
  mkdir -p "$media"
  log "creating $clip"
  n=$((seconds * fps)) raw="video/x-raw,format=I420,framerate=$fps/1"
  if ! timeout 900 gst-launch-1.0 -q \
    videotestsrc num-buffers=$n pattern=zone-plate kx2=6 ky2=6 \
    ! "$raw,width=1280,height=720" ! m. \
    videotestsrc num-buffers=$n pattern=ball ! "$raw,width=320,height=320" ! m. \
    videotestsrc num-buffers=$n pattern=snow ! "$raw,width=1280,height=720" ! m. \
    compositor name=m sink_1::xpos=480 sink_1::ypos=180 sink_2::alpha=0.05 \
    ! "$raw,width=1280,height=720" ! timeoverlay font-desc="Sans 24" \
    ! x264enc bitrate=$bitrate key-int-max=$((gop_s * fps)) \
    speed-preset=veryfast bframes=0 \
    ! video/x-h264,stream-format=byte-stream,profile=high \
    ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au \
    ! filesink location="$clip.tmp.$$" >&2; then
    rm -f "$clip.tmp.$$"
    log "could not create $clip"
    exit 1
  fi
  mv "$clip.tmp.$$" "$clip"
fi
clip_kbps=$(($(stat -c %s "$clip") * 8 / 1000 / seconds))

bench_workdir coversnap-density-bench

# 3. coversnapd's configuration: free ports, temp dirs, an app key owning the
# pushers' cids; covertap's defaults (min-interval 1 s: every keyframe
# becomes a cover), as in (g)
key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/coversnapd.conf" <<EOF
[server]
listen-address=127.0.0.1
port=0
data-dir=$work/data
store-dir=$work/store

[app.bench]
key=$key
cids=$((cid0 + 1))-$((cid0 + 999))

[ingest]
rtsp-port=0
# every pusher connects from 127.0.0.1, hundreds at once: the bounds on
# connections before RECORD (a squatter defence) must not close them
max-pending-sessions=2000
max-pending-per-address=2000
pending-timeout=120
EOF
declare -a token
for i in $(seq "$max_n"); do
  token[i]=$("$token_exe" --key "$key" --cid $((cid0 + i)) --ttl 7200)
done

hz=$(getconf CLK_TCK)
ticks_of() { # utime + stime of a process
  local f
  f=$(cut -d' ' -f14,15 "/proc/$1/stat" 2>/dev/null) || {
    echo 0
    return
  }
  echo $((${f% *} + ${f#* }))
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fds_of() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
machine_ticks() { # busy total, all cores
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i;
    print t - $5 - $6, t }' /proc/stat
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# the server under test: "coversnapd", "f" or "g"; sets server_pid,
# http_port, rtsp_port
start_server() {
  rm -rf "$work/data" "$work/store" "$work/server.out" "$work/server.err"
  mkdir -p "$work/data" "$work/store"
  case $1 in
    coversnapd)
      "$httpd_exe" --config "$work/coversnapd.conf" \
        >"$work/server.out" 2>"$work/server.err" &
      ;;
    f)
      "$ref_exe" fakesink --cids $((cid0 + 1))-$((cid0 + max_n)) \
        >"$work/server.out" 2>"$work/server.err" &
      ;;
    g)
      "$ref_exe" covertap --cids $((cid0 + 1))-$((cid0 + max_n)) \
        --store-dir "$work/store" >"$work/server.out" 2>"$work/server.err" &
      ;;
  esac
  server_pid=$!
  pids+=($server_pid)
  if ! wait_for_line "$work/server.out" '^rtsp on' $server_pid; then
    log "$1 did not start:"
    cat "$work/server.err" >&2
    exit 1
  fi
  http_port=$(sed -n 's/^http on .*:\([0-9]*\)$/\1/p' "$work/server.out")
  rtsp_port=$(sed -n 's/^rtsp on .*:\([0-9]*\)$/\1/p' "$work/server.out")
}
stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cover_url() { echo "http://127.0.0.1:$http_port/v2/snapshots/$((cid0 + $1))/cover?client_token=${token[$1]}"; }
push_url() { # coversnapd wants the token, the references take none
  if [ "$2" = coversnapd ]; then
    echo "rtsp://127.0.0.1:$rtsp_port/live/$((cid0 + $1))?token=${token[$1]}"
  else
    echo "rtsp://127.0.0.1:$rtsp_port/live/$((cid0 + $1))"
  fi
}
# one poll of covers 1..N, one curl: "url|etag|source|status" per line
poll() {
  local i args=()
  for i in $(seq "$1"); do
    args+=(-o /dev/null "$(cover_url "$i")")
  done
  curl -s --max-time 10 \
    -w '%{url_effective}|%header{etag}|%header{x-cover-source}|%{http_code}\n' \
    "${args[@]}" || true
}

# measure SERVER N PHASE: a fresh SERVER, one pusher process with N
# streams, 3 GOPs (and a bit per stream, for the connections) of settling,
# then a window of 2 poll gaps (8 s) over which CPU is read, and RSS,
# threads and fds at its end; a JSON line into $results
results=$work/results.jsonl
: >"$results"
# push_and_settle SERVER N: one pusher process with N streams into the
# running SERVER (sets pusher_pid), then 3 GOPs and a bit per stream (for
# the connections) of settling
push_and_settle() {
  local i urls=()
  for i in $(seq "$2"); do
    urls+=("$(push_url "$i" "$1")")
  done
  "$pusher_exe" --clip "$clip" push "${urls[@]}" \
    >"$work/pusher.out" 2>"$work/pusher.err" &
  pusher_pid=$!
  pids+=($pusher_pid)
  sleep $((gop_s * 3 + $2 / 25))
}
measure() {
  local server=$1 n=$2 phase=$3 p0 p1 p2 p3
  start_server "$server"
  sleep 1
  local idle_rss idle_threads idle_fds
  idle_rss=$(rss_kib $server_pid)
  idle_threads=$(threads_of $server_pid)
  idle_fds=$(fds_of $server_pid)
  push_and_settle "$server" "$n"
  # in the comparison the window is the same for the three servers: no
  # HTTP during it (covertap's work and the ingest's, like (g)); coversnapd's
  # covers are polled after it.  When stepping, the polls are the window.
  local polled=0
  [ "$server" = coversnapd ] && [ "$phase" = step ] && polled=1
  [ $polled = 1 ] && { p0=$(poll "$n"); sleep 1; }
  local t0 c0 mb0 mt0 pc0 t1 c1 mb1 mt1 pc1
  t0=$(now_ms)
  c0=$(ticks_of $server_pid)
  pc0=$(ticks_of $pusher_pid)
  read -r mb0 mt0 <<<"$(machine_ticks)"
  if [ $polled = 1 ]; then
    p1=$(poll "$n")
    sleep $poll_gap
    p2=$(poll "$n")
    sleep $poll_gap
    p3=$(poll "$n")
  else
    p1="" p2="" p3=""
    sleep $((poll_gap * 2))
  fi
  t1=$(now_ms)
  c1=$(ticks_of $server_pid)
  pc1=$(ticks_of $pusher_pid)
  read -r mb1 mt1 <<<"$(machine_ticks)"
  local rss threads fds alive=1 errors
  rss=$(rss_kib $server_pid)
  threads=$(threads_of $server_pid)
  fds=$(fds_of $server_pid)
  if [ "$server" = coversnapd ] && [ $polled = 0 ]; then
    p1=$(poll "$n")
    sleep $poll_gap
    p2=$(poll "$n")
    sleep $poll_gap
    p3=$(poll "$n")
  fi
  kill -0 $server_pid 2>/dev/null || alive=0
  errors=$(grep -c '^error' "$work/pusher.err" || true)
  stop_pid $pusher_pid
  stop_pid $server_pid
  python3 - "$server" "$phase" "$n" "$t1" "$t0" "$c1" "$c0" "$hz" "$rss" \
    "$threads" "$fds" "$idle_rss" "$idle_threads" "$idle_fds" "$mb0" "$mt0" \
    "$mb1" "$mt1" "$pc1" "$pc0" "$errors" "$alive" $cid0 "$p1" "$p2" "$p3" \
    >>"$results" <<'EOF'
import json, re, sys
a = sys.argv[1:]
server, phase = a[0], a[1]
(n, t1, t0, c1, c0, hz, rss, threads, fds, idle_rss, idle_threads, idle_fds,
 mb0, mt0, mb1, mt1, pc1, pc0, errors, alive, cid0) = map(int, a[2:23])
def parse(text):
    d = {}
    for line in text.splitlines():
        f = line.split("|")
        m = re.search(r"/snapshots/(\d+)/", f[0])
        if len(f) == 4 and m:
            d[int(m.group(1)) - cid0] = (f[1], f[2], f[3])
    return d
ok, failed = None, []
if server == "coversnapd":
    p1, p2, p3 = map(parse, a[23:26])
    ok = 0
    for i in range(1, n + 1):
        r = [p.get(i) for p in (p1, p2, p3)]
        if all(x and x[2] == "200" and x[1] == "live" for x in r) and \
                r[0][0] != r[1][0] and r[1][0] != r[2][0]:
            ok += 1
        elif len(failed) < 5:
            failed.append({"stream": i, "polls": [" ".join(x) if x else None
                                                  for x in r]})
secs = (t1 - t0) / 1000.0
print(json.dumps({
    "server": server, "phase": phase, "n": n, "ok": ok, "window_s": secs,
    "cpu_pct": 100.0 * (c1 - c0) / hz / secs, "rss_kib": rss,
    "threads": threads, "fds": fds, "idle_rss_kib": idle_rss,
    "idle_threads": idle_threads, "idle_fds": idle_fds,
    "pushers_cpu_pct": 100.0 * (pc1 - pc0) / hz / secs,
    "machine_busy_pct": 100.0 * (mb1 - mb0) / max(mt1 - mt0, 1),
    "pusher_errors": errors, "alive": bool(alive), "failed": failed}))
EOF
  tail -n1 "$results" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("  %-10s N=%-4d %s CPU %6.1f%%, RSS %6.1f MiB, %5d threads, %5d fds;"
      " pushers %5.1f%%, machine %3.0f%% busy" % (r["server"], r["n"],
      "%4d/%-4d ok," % (r["ok"], r["n"]) if r["ok"] is not None else
      "          ", r["cpu_pct"], r["rss_kib"] / 1024.0, r["threads"],
      r["fds"], r["pushers_cpu_pct"], r["machine_busy_pct"]))' >&2
}

log "clip: $clip (${clip_kbps} kbit/s); $(nproc) cores shared by the server," \
  "the pushers and curl; load average before the run: $load_start"

# 4. the three servers at the same N, one after the other
log "three-way comparison, N in: $ref_ns"
for n in $ref_ns; do
  [ "$n" -le "$max_n" ] || continue
  for server in f g coversnapd; do
    measure "$server" "$n" compare
  done
done

# 4b. profiles of coversnapd at N streams: where its CPU goes (perf, self
# time by library and symbol, with call graphs in the .data file), and which
# threads wake up how often (voluntary context switches per second, by
# thread name: the off-CPU side, polled work shows as steady wake-ups)
ctxsw_of() { # "name switches" per thread
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$t/comm" 2>/dev/null)" \
      "$(awk '/^voluntary_ctxt_switches:/ { print $2 }' "$t/status" 2>/dev/null)"
  done
}
for n in $profile_ns; do
  out=$builddir/bench/density-profile-$n.txt
  start_server coversnapd
  push_and_settle coversnapd "$n"
  ctxsw_of $server_pid >"$work/ctxsw0"
  c0=$(ticks_of $server_pid)
  t0=$(now_ms)
  perf_ok=0
  if command -v perf >/dev/null &&
    perf record -q -F 499 -g -p $server_pid -o "$work/perf-$n.data" \
      -- sleep $((poll_gap * 2)) 2>"$work/perf.err"; then
    perf_ok=1
  else
    sleep $((poll_gap * 2))
  fi
  t1=$(now_ms)
  c1=$(ticks_of $server_pid)
  ctxsw_of $server_pid >"$work/ctxsw1"
  # off-CPU: where the threads go to sleep (the scheduler's tracepoint)
  off_ok=0
  if [ $perf_ok = 1 ] &&
    perf record -q -e sched:sched_switch -g -p $server_pid \
      -o "$work/offcpu-$n.data" -- sleep $poll_gap 2>>"$work/perf.err"; then
    off_ok=1
  fi
  {
    python3 -c 'import sys; n, c0, c1, hz, t0, t1 = map(int, sys.argv[1:])
print("coversnapd, N=%d pushes: %.1f%% of a core over %.1f s" % (
    n, 100.0 * (c1 - c0) / hz / ((t1 - t0) / 1000.0), (t1 - t0) / 1000.0))' \
      "$n" "$c0" "$c1" "$hz" "$t0" "$t1"
    echo
    echo "wake-ups per second (voluntary context switches), by thread name:"
    python3 "$src/bench/density-ctxsw.py" "$work/ctxsw0" "$work/ctxsw1" \
      $((t1 - t0)) "$n"
    if [ $perf_ok = 1 ]; then
      echo
      echo "on-CPU, self time by library:"
      perf report -q -i "$work/perf-$n.data" --no-children --sort dso \
        --percent-limit 1 -g none 2>/dev/null | sed 's/^/  /' | head -20
      echo
      echo "on-CPU, self time by symbol (top 30):"
      perf report -q -i "$work/perf-$n.data" --no-children --sort dso,symbol \
        --percent-limit 0.5 -g none 2>/dev/null | sed 's/^/  /' | head -30
      cp "$work/perf-$n.data" "$builddir/bench/density-perf-$n.data"
    fi
    if [ $off_ok = 1 ]; then
      echo
      echo "off-CPU: where threads go to sleep (sched_switch, ${poll_gap} s), by thread kind and first user-space frames:"
      perf script -i "$work/offcpu-$n.data" 2>/dev/null |
        python3 "$src/bench/density-offcpu.py" $poll_gap 15
    fi
    if [ $perf_ok = 0 ]; then
      echo
      echo "(no perf samples: $(head -c 300 "$work/perf.err" 2>/dev/null))"
    fi
  } >"$out"
  stop_pid $pusher_pid
  stop_pid $server_pid
  log "profile at N=$n: $out"
  cat "$out" >&2
done

# 5. coversnapd alone, N stepping up
stop_reason="all steps done"
log "coversnapd stepping, N in: $steps"
for n in $steps; do
  if [ "$n" -gt "$max_n" ]; then
    stop_reason="reached COVERSNAP_DENSITY_MAX=$max_n"
    break
  fi
  if [ $(($(date +%s) - t_start)) -gt "$budget" ]; then
    stop_reason="time budget of ${budget} s spent"
    break
  fi
  measure coversnapd "$n" step
  read -r ok alive busy pushers cpu <<<"$(tail -n1 "$results" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["ok"], int(r["alive"]), "%.0f" % r["machine_busy_pct"],
      "%.0f" % r["pushers_cpu_pct"], "%.0f" % r["cpu_pct"])')"
  if [ "$alive" = 0 ]; then
    stop_reason="coversnapd died at N=$n"
    break
  fi
  if [ "$ok" -lt "$n" ]; then
    # which limit: a saturated machine starves everyone, coversnapd
    # included; with CPU to spare, coversnapd itself fell behind
    if [ "$busy" -ge 95 ]; then
      stop_reason="covers stopped refreshing at N=$n: the machine ran out of CPU (${busy}% busy; pushers ${pushers}%, coversnapd ${cpu}% of a core)"
    else
      stop_reason="covers stopped refreshing at N=$n with the machine ${busy}% busy: coversnapd's own limit (pushers ${pushers}%, coversnapd ${cpu}% of a core)"
    fi
    break
  fi
done

# 6. one stream pushing into coversnapd, nothing else: the latency
# comparison
start_server coversnapd
"$pusher_exe" --clip "$clip" push "$(push_url 1 coversnapd)" \
  >"$work/latency-pusher.out" 2>"$work/latency-pusher.err" &
pids+=($!)
"$pusher_exe" --clip "$clip" serve \
  >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
pids+=($serve_pid)
if ! wait_for_line "$work/serve.out" '^serving ' $serve_pid; then
  log "the RTSP PLAY server did not start:"
  cat "$work/serve.err" >&2
  exit 1
fi
play_url=$(sed -n 's/^serving //p' "$work/serve.out")
sleep $((gop_s * 3))
# (a) GET of the live cover: a new curl process (and connection) per request
: >"$work/get.txt"
for _ in $(seq "$n_gets"); do
  curl -s -o "$work/cover.jpg" -w '%{http_code} %header{x-cover-source} %{time_total}\n' \
    "$(cover_url 1)" >>"$work/get.txt"
done
# (b) ffmpeg pulling the camera's stream for one frame, as an ffmpeg-based
# snapshot server does per request; wall time of the whole process
: >"$work/ffmpeg.txt"
for k in $(seq "$n_ffmpegs"); do
  s=$(date +%s%N)
  if timeout 30 ffmpeg -nostdin -loglevel error -y -rtsp_transport tcp \
    -i "$play_url" -frames:v 1 -f image2 "$work/ffmpeg-$k.jpg" \
    2>>"$work/ffmpeg.err" && [ -s "$work/ffmpeg-$k.jpg" ]; then
    echo "ok $((($(date +%s%N) - s) / 1000))" >>"$work/ffmpeg.txt"
  else
    echo "failed $((($(date +%s%N) - s) / 1000))" >>"$work/ffmpeg.txt"
  fi
done

# 7. report and JSON
mkdir -p "$(dirname "$json")"
python3 - "$results" "$json" "$work/get.txt" "$work/ffmpeg.txt" \
  "$stop_reason" "$clip" "$clip_kbps" "$(nproc)" "$load_start" \
  "$(($(date +%s) - t_start))" <<'EOF'
import json, statistics, sys
(results, json_path, get_path, ffmpeg_path, stop_reason, clip, clip_kbps,
 cores, load_start, elapsed) = sys.argv[1:11]
rows = [json.loads(l) for l in open(results) if l.strip()]
names = {"f": "(f) RECORD -> fakesink", "g": "(g) (f) + h264parse ! covertap",
         "coversnapd": "coversnapd"}
print()
print("Density: N pushers (1280x720 H.264, 25 fps, 2 s GOP, %s kbit/s, looped"
      " in real time, RTSP/TCP, one pusher process)" % clip_kbps)
print("%s cores, shared by the server, the pushers and curl; load average"
      " before: %s" % (cores, load_start))
print()
hdr = "%-31s %4s  %9s  %8s  %8s  %7s  %6s  %11s  %7s" % (
    "server", "N", "covers ok", "CPU", "RSS MiB", "threads", "fds",
    "pushers CPU", "machine")
print(hdr)
for r in rows:
    print("%-31s %4d  %9s  %7.1f%%  %8.1f  %7d  %6d  %10.1f%%  %6.0f%%" % (
        names[r["server"]] + (" (step)" if r["phase"] == "step" else ""),
        r["n"], "%d/%d" % (r["ok"], r["n"]) if r["ok"] is not None else "-",
        r["cpu_pct"], r["rss_kib"] / 1024.0, r["threads"], r["fds"],
        r["pushers_cpu_pct"], r["machine_busy_pct"]))

# per added stream: the slope from the smallest to the largest N of the
# comparison (what the first stream loads, plugins and decoders, drops out)
per = {}
cmp_rows = [r for r in rows if r["phase"] == "compare"]
for server in ("f", "g", "coversnapd"):
    rs = sorted((r for r in cmp_rows if r["server"] == server),
                key=lambda r: r["n"])
    if len(rs) < 2 or rs[-1]["n"] == rs[0]["n"]:
        continue
    lo, hi = rs[0], rs[-1]
    dn = float(hi["n"] - lo["n"])
    per[server] = {
        "from_n": lo["n"], "to_n": hi["n"],
        "cpu_pct": (hi["cpu_pct"] - lo["cpu_pct"]) / dn,
        "rss_kib": (hi["rss_kib"] - lo["rss_kib"]) / dn,
        "threads": (hi["threads"] - lo["threads"]) / dn,
        "fds": (hi["fds"] - lo["fds"]) / dn,
        "pushers_cpu_pct": (hi["pushers_cpu_pct"] - lo["pushers_cpu_pct"]) / dn,
    }
print()
if per:
    print("per added stream (from N=%d to N=%d, same run):" % (
        min(p["from_n"] for p in per.values()),
        max(p["to_n"] for p in per.values())))
    print("  %-31s %12s  %10s  %8s  %6s  %12s" % (
        "server", "CPU % core", "RSS KiB", "threads", "fds", "pushers CPU"))
    for server, p in per.items():
        print("  %-31s %11.2f%%  %10.0f  %8.2f  %6.2f  %11.2f%%" % (
            names[server], p["cpu_pct"], p["rss_kib"], p["threads"], p["fds"],
            p["pushers_cpu_pct"]))
ratios = {}
def ratio(a, b, k):
    if a in per and b in per and per[b][k]:
        return per[a][k] / per[b][k]
    return None
for k in ("cpu_pct", "rss_kib", "threads", "fds"):
    ratios[k] = {"coversnapd/g": ratio("coversnapd", "g", k),
                 "g/f": ratio("g", "f", k),
                 "coversnapd/f": ratio("coversnapd", "f", k)}
if per:
    print("  ratios            coversnapd/(g)   (g)/(f)   coversnapd/(f)")
    for k, label in (("cpu_pct", "CPU"), ("rss_kib", "RSS"),
                     ("threads", "threads"), ("fds", "fds")):
        print("  %-17s %14s  %8s  %15s" % (label, *[
            "%.2f" % v if v is not None else "-" for v in (
                ratios[k]["coversnapd/g"], ratios[k]["g/f"],
                ratios[k]["coversnapd/f"])]))

steps = [r for r in rows if r["server"] == "coversnapd"]
good = [r for r in steps if r["ok"] == r["n"]]
best = max(good, key=lambda r: r["n"]) if good else None
print()
print("coversnapd stepping stopped: %s" % stop_reason)
if best:
    print("largest N with every cover refreshing within 2 GOPs: %d (coversnapd"
          " %.1f%% CPU, %.1f MiB RSS, %d threads, %d fds; pushers %.1f%%;"
          " machine %.0f%% busy)" % (best["n"], best["cpu_pct"],
          best["rss_kib"] / 1024.0, best["threads"], best["fds"],
          best["pushers_cpu_pct"], best["machine_busy_pct"]))
# what N=300 would cost at the per-stream slopes of the comparison: the
# measured reason it can or cannot be on this machine
projection = None
if "coversnapd" in per:
    want, have = 300, 100 * int(cores)
    c, pu = per["coversnapd"]["cpu_pct"], per["coversnapd"]["pushers_cpu_pct"]
    projection = {"n": want, "machine_pct": have, "coversnapd_pct": c * want,
                  "pushers_pct": pu * want, "f_pct": None}
    line = ("N=%d at these slopes: coversnapd %.0f%% + pushers %.0f%% = %.0f%%"
            " of a core" % (want, c * want, pu * want, (c + pu) * want))
    if "f" in per:
        projection["f_pct"] = per["f"]["cpu_pct"] * want
        line += ("; the bare reference (f) alone %.0f%% + pushers %.0f%% ="
                 " %.0f%%" % (per["f"]["cpu_pct"] * want, pu * want,
                              (per["f"]["cpu_pct"] + pu) * want))
    line += "; this machine has %d%%" % have
    print(line)
gets = [l.split() for l in open(get_path) if l.strip()]
get_ms = [float(g[2]) * 1000 for g in gets if g[0] == "200" and g[1] == "live"]
ff = [l.split() for l in open(ffmpeg_path) if l.strip()]
ff_ms = [int(f[1]) / 1000.0 for f in ff if f[0] == "ok"]
get_med = statistics.median(get_ms) if get_ms else None
ff_med = statistics.median(ff_ms) if ff_ms else None
lat_ratio = ff_med / get_med if get_med and ff_med else None
print()
print("time to a fresh cover (one stream, nothing else pushing):")
if get_ms:
    print("  (a) GET live cover from coversnapd:  median %7.1f ms  (%d/%d"
          " requests 200 live, min %.1f, max %.1f)" % (get_med, len(get_ms),
          len(gets), min(get_ms), max(get_ms)))
else:
    print("  (a) GET live cover: no 200 live answer")
if ff_ms:
    print("  (b) ffmpeg -rtsp_transport tcp -i rtsp://... -frames:v 1:"
          " median %7.1f ms  (%d/%d ok, min %.0f, max %.0f)" % (ff_med,
          len(ff_ms), len(ff), min(ff_ms), max(ff_ms)))
else:
    print("  (b) ffmpeg: every run failed")
if lat_ratio:
    print("  ratio (b)/(a): %.0fx" % lat_ratio)
fmt = lambda v, f="%.2f": f % v if v is not None else "-"
summary = ("summary: per added stream coversnapd/(g) CPU %s, RSS %s;"
           " coversnapd %s threads, %s fds per stream; largest N %s (%s);"
           " fresh cover %s ms vs ffmpeg %s ms" % (
    fmt(ratios["cpu_pct"]["coversnapd/g"]), fmt(ratios["rss_kib"]["coversnapd/g"]),
    fmt(per.get("coversnapd", {}).get("threads")),
    fmt(per.get("coversnapd", {}).get("fds")),
    best["n"] if best else 0, stop_reason, fmt(get_med, "%.1f"),
    fmt(ff_med, "%.0f")))
print()
print(summary)
out = {
    "clip": clip, "clip_kbps": int(clip_kbps), "cores": int(cores),
    "load_average_before": load_start, "elapsed_s": int(elapsed),
    "rows": rows, "per_added_stream": per, "ratios": ratios,
    "stop_reason": stop_reason, "largest_n": best["n"] if best else 0,
    "projection": projection,
    "cover_get_ms": get_ms, "cover_get_median_ms": get_med,
    "ffmpeg_ms": ff_ms, "ffmpeg_runs": len(ff), "ffmpeg_median_ms": ff_med,
    "ffmpeg_to_cover_ratio": lat_ratio, "summary": summary,
}
with open(json_path, "w") as f:
    json.dump(out, f, indent=2)
print("results: %s (run took %s s)" % (json_path, elapsed))
EOF
