#!/usr/bin/env bash
# The density benchmark: N simulated 720p cameras (one pre-encoded H.264
# clip, looped in real time, no re-encoding) push over RTSP into one
# coversnapd; N steps up until covers stop refreshing within 2 GOPs or the
# machine runs out.  In the same run: how long a client waits for a fresh
# cover from coversnapd versus an on-demand ffmpeg snapshot of the same
# stream.  See bench/README.md.
#
#   bench/run-density-bench.sh [BUILD_DIR]      (default: build)
#
# Environment:
#   COVERSNAP_DENSITY_STEPS    values of N (default "1 2 4 8 12 16 24 32 48 64")
#   COVERSNAP_DENSITY_MAX      largest N tried (default 64)
#   COVERSNAP_DENSITY_BUDGET   seconds the stepping may take (default 200)
#   COVERSNAP_DENSITY_MEDIA    clip cache (default bench/.media, git-ignored)
#   COVERSNAP_DENSITY_JSON     results (default BUILD_DIR/bench/density-bench.json)
#   COVERSNAP_DENSITY_GETS     GETs of the live cover timed (default 20)
#   COVERSNAP_DENSITY_FFMPEGS  ffmpeg snapshots timed (default 5)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
case $builddir in /*) ;; *) builddir=$src/$builddir ;; esac
steps=${COVERSNAP_DENSITY_STEPS:-1 2 4 8 12 16 24 32 48 64}
max_n=${COVERSNAP_DENSITY_MAX:-64}
budget=${COVERSNAP_DENSITY_BUDGET:-200}
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

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" "$src" -Dbench=enabled -Dtests=disabled \
    -Ddoc=disabled >/dev/null
else
  meson setup --reconfigure "$builddir" "$src" >/dev/null
fi
if ! out=$(meson compile -C "$builddir" bench/density-pusher \
  tools/coversnapd tools/coversnap-token gstcoversnap 2>&1); then
  echo "$out" >&2
  exit 1
fi
pusher_exe=$builddir/bench/density-pusher
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

# everything lives in one temp dir on tmpfs; every process started here is
# ended on the way out
# shellcheck source=bench/lib.sh
. "$src/bench/lib.sh"
bench_workdir coversnap-density-bench

# 3. coversnapd: free ports, temp dirs, an app key owning the pushers' cids;
# covertap's defaults (min-interval 1 s: every keyframe becomes a cover)
key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$work/data" "$work/store"
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
EOF
"$httpd_exe" --config "$work/coversnapd.conf" \
  >"$work/coversnapd.out" 2>"$work/coversnapd.err" &
server_pid=$!
pids+=($server_pid)
if ! wait_for_line "$work/coversnapd.out" '^rtsp on' $server_pid; then
  log "coversnapd did not start:"
  cat "$work/coversnapd.err" >&2
  exit 1
fi
http_port=$(sed -n 's/^http on .*:\([0-9]*\)$/\1/p' "$work/coversnapd.out")
rtsp_port=$(sed -n 's/^rtsp on .*:\([0-9]*\)$/\1/p' "$work/coversnapd.out")
declare -a token
for i in $(seq "$max_n"); do
  token[i]=$("$token_exe" --key "$key" --cid $((cid0 + i)) --ttl 7200)
done
cover_url() { echo "http://127.0.0.1:$http_port/v2/snapshots/$((cid0 + $1))/cover?client_token=${token[$1]}"; }
push_url() { echo "rtsp://127.0.0.1:$rtsp_port/live/$((cid0 + $1))?token=${token[$1]}"; }

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
machine_ticks() { # busy total, all cores
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i;
    print t - $5 - $6, t }' /proc/stat
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# one poll of covers 1..N, one curl: "url|etag|source|status" per line
poll() {
  local i args=()
  for i in $(seq "$1"); do
    args+=(-o /dev/null "$(cover_url "$i")")
  done
  curl -s --max-time 5 \
    -w '%{url_effective}|%header{etag}|%header{x-cover-source}|%{http_code}\n' \
    "${args[@]}" || true
}

rss_idle=$(rss_kib $server_pid)
log "coversnapd pid $server_pid: http $http_port, rtsp $rtsp_port, idle RSS ${rss_idle} KiB"
log "clip: $clip (${clip_kbps} kbit/s); $(nproc) cores shared by coversnapd," \
  "the pushers and curl; load average before the run: $load_start"

# 4. stepping N up
results=$work/steps.jsonl
: >"$results"
pushing=0
pusher_pids=()
stop_reason="all steps done"
for n in $steps; do
  [ "$n" -le "$max_n" ] || {
    stop_reason="reached COVERSNAP_DENSITY_MAX=$max_n"
    break
  }
  [ "$n" -gt "$pushing" ] || continue
  if [ $(($(date +%s) - t_start)) -gt "$budget" ]; then
    stop_reason="time budget of ${budget} s spent"
    break
  fi
  urls=()
  for i in $(seq $((pushing + 1)) "$n"); do
    urls+=("$(push_url "$i")")
  done
  "$pusher_exe" --clip "$clip" push "${urls[@]}" \
    >"$work/pusher-$n.out" 2>"$work/pusher-$n.err" &
  pusher_pids+=($!)
  pids+=($!)
  pushing=$n
  # new streams connect and reach a keyframe; everything settles
  sleep $((gop_s * 3))
  p0=$(poll "$n")
  sleep 1
  # the measured window: three polls, poll_gap apart
  t0=$(now_ms)
  c0=$(ticks_of $server_pid)
  read -r mb0 mt0 <<<"$(machine_ticks)"
  pc0=0
  for p in "${pusher_pids[@]}"; do pc0=$((pc0 + $(ticks_of "$p"))); done
  p1=$(poll "$n")
  sleep $poll_gap
  p2=$(poll "$n")
  sleep $poll_gap
  p3=$(poll "$n")
  t1=$(now_ms)
  c1=$(ticks_of $server_pid)
  read -r mb1 mt1 <<<"$(machine_ticks)"
  pc1=0
  for p in "${pusher_pids[@]}"; do pc1=$((pc1 + $(ticks_of "$p"))); done
  rss=$(rss_kib $server_pid)
  errors=$(cat "$work"/pusher-*.err | grep -c '^error' || true)
  python3 - "$n" "$t1" "$t0" "$c1" "$c0" "$hz" "$rss" "$mb0" "$mt0" "$mb1" \
    "$mt1" "$pc1" "$pc0" "$errors" "$p1" "$p2" "$p3" $cid0 >>"$results" <<'EOF'
import json, re, sys
a = sys.argv[1:]
n, t1, t0, c1, c0, hz, rss, mb0, mt0, mb1, mt1, pc1, pc0, errors = map(int, a[:14])
cid0 = int(a[17])
def parse(text):
    d = {}
    for line in text.splitlines():
        f = line.split("|")
        m = re.search(r"/snapshots/(\d+)/", f[0])
        if len(f) == 4 and m:
            d[int(m.group(1)) - cid0] = (f[1], f[2], f[3])
    return d
p1, p2, p3 = map(parse, a[14:17])
ok, failed = 0, []
for i in range(1, n + 1):
    r = [p.get(i) for p in (p1, p2, p3)]
    if all(x and x[2] == "200" and x[1] == "live" for x in r) and \
            r[0][0] != r[1][0] and r[1][0] != r[2][0]:
        ok += 1
    elif len(failed) < 5:
        # what the three polls saw: "etag source status"
        failed.append({"stream": i, "polls": [" ".join(x) if x else None
                                              for x in r]})
secs = (t1 - t0) / 1000.0
print(json.dumps({
    "n": n, "ok": ok, "window_s": secs,
    "cpu_pct": 100.0 * (c1 - c0) / hz / secs,
    "rss_kib": rss,
    "pushers_cpu_pct": 100.0 * (pc1 - pc0) / hz / secs,
    "machine_busy_pct": 100.0 * (mb1 - mb0) / max(mt1 - mt0, 1),
    "pusher_errors": errors, "failed": failed}))
EOF
  read -r ok cpu busy <<<"$(tail -n1 "$results" | python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["ok"], "%.1f" % r["cpu_pct"], "%.0f" % r["machine_busy_pct"])')"
  log "  N=$n: $ok/$n covers refresh every 2 GOPs; coversnapd ${cpu}% CPU," \
    "$((rss / 1024)) MiB RSS; machine ${busy}% busy"
  if ! kill -0 $server_pid 2>/dev/null; then
    stop_reason="coversnapd died at N=$n"
    break
  fi
  if [ "$ok" -lt "$n" ]; then
    stop_reason="covers stopped refreshing at N=$n"
    break
  fi
done

# 5. the pushers go; one stream remains for the latency comparison
for p in "${pusher_pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pusher_pids[@]}"; do wait "$p" 2>/dev/null || true; done
"$pusher_exe" --clip "$clip" push "$(push_url 1)" \
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

# 6. report and JSON
mkdir -p "$(dirname "$json")"
python3 - "$results" "$json" "$work/get.txt" "$work/ffmpeg.txt" "$rss_idle" \
  "$stop_reason" "$clip" "$clip_kbps" "$(nproc)" "$load_start" \
  "$(($(date +%s) - t_start))" <<'EOF'
import json, statistics, sys
(results, json_path, get_path, ffmpeg_path, rss_idle, stop_reason, clip,
 clip_kbps, cores, load_start, elapsed) = sys.argv[1:12]
rss_idle = int(rss_idle)
steps = [json.loads(l) for l in open(results) if l.strip()]
print()
print("Density: N pushers (1280x720 H.264, 25 fps, 2 s GOP, %s kbit/s, looped"
      " in real time) into one coversnapd" % clip_kbps)
print("%s cores, shared by coversnapd, the pushers and curl; load average"
      " before: %s" % (cores, load_start))
print()
print("%4s  %9s  %14s  %9s  %13s  %12s  %8s" % (
    "N", "covers ok", "coversnapd CPU", "RSS MiB", "CPU/stream", "pushers CPU",
    "machine"))
for s in steps:
    print("%4d  %4d/%-4d  %13.1f%%  %9.1f  %12.2f%%  %11.1f%%  %7.0f%%" % (
        s["n"], s["ok"], s["n"], s["cpu_pct"], s["rss_kib"] / 1024.0,
        s["cpu_pct"] / s["n"], s["pushers_cpu_pct"], s["machine_busy_pct"]))
good = [s for s in steps if s["ok"] == s["n"]]
best = good[-1] if good else None
gets = [l.split() for l in open(get_path) if l.strip()]
get_ms = [float(g[2]) * 1000 for g in gets if g[0] == "200" and g[1] == "live"]
ff = [l.split() for l in open(ffmpeg_path) if l.strip()]
ff_ms = [int(f[1]) / 1000.0 for f in ff if f[0] == "ok"]
get_med = statistics.median(get_ms) if get_ms else None
ff_med = statistics.median(ff_ms) if ff_ms else None
ratio = ff_med / get_med if get_med and ff_med else None
print()
print("stopped: %s" % stop_reason)
# RSS per stream: the growth from the first stream to the largest N (the
# first stream also loads the plugins and the snapshot workers' decoders)
first = steps[0] if steps else None
per_rss = None
if best and first and best["n"] > first["n"]:
    per_rss = (best["rss_kib"] - first["rss_kib"]) / (best["n"] - first["n"])
if best:
    print("largest N with every cover refreshing within 2 GOPs: %d; coversnapd"
          " %.1f%% CPU (%.2f%% of a core per stream), %.1f MiB RSS (idle"
          " %.1f MiB, with 1 stream %.1f MiB, %s per further stream)" % (
          best["n"], best["cpu_pct"], best["cpu_pct"] / best["n"],
          best["rss_kib"] / 1024.0, rss_idle / 1024.0,
          first["rss_kib"] / 1024.0,
          "%.2f MiB" % (per_rss / 1024.0) if per_rss is not None else "-"))
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
if ratio:
    print("  ratio (b)/(a): %.0fx" % ratio)
summary = "summary: largest N %s (%s); %s; fresh cover %s ms vs ffmpeg %s ms (%sx)" % (
    best["n"] if best else 0, stop_reason,
    ("%.2f%% CPU and %s RSS per stream" % (
        best["cpu_pct"] / best["n"],
        "%.2f MiB" % (per_rss / 1024.0) if per_rss is not None else "-"))
    if best else "-",
    "%.1f" % get_med if get_med else "-", "%.0f" % ff_med if ff_med else "-",
    "%.0f" % ratio if ratio else "-")
print()
print(summary)
out = {
    "clip": clip, "clip_kbps": int(clip_kbps), "cores": int(cores),
    "load_average_before": load_start, "elapsed_s": int(elapsed),
    "idle_rss_kib": rss_idle, "steps": steps, "stop_reason": stop_reason,
    "largest_n": best["n"] if best else 0,
    "cpu_pct_per_stream": best["cpu_pct"] / best["n"] if best else None,
    "rss_kib_per_further_stream": per_rss,
    "cover_get_ms": get_ms, "cover_get_median_ms": get_med,
    "ffmpeg_ms": ff_ms, "ffmpeg_runs": len(ff), "ffmpeg_median_ms": ff_med,
    "ffmpeg_to_cover_ratio": ratio, "summary": summary,
}
with open(json_path, "w") as f:
    json.dump(out, f, indent=2)
print("results: %s (run took %s s)" % (json_path, elapsed))
EOF
