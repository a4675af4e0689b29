#!/usr/bin/env bash
# The HTTP benchmark: wrk against the live cover endpoint of coversnapd --http-only
# (device token verified on every request) and, in the same run, nginx
# serving the same JPEG as a static file from tmpfs.  Requests/s, p50/p99
# latency and the ratio coversnap/nginx at 1 and 64 connections, for each
# number of HTTP threads.  See bench/README.md.
#
#   bench/run-http-bench.sh [BUILD_DIR]      (default: build)
#
# Environment:
#   COVERSNAP_HTTP_BENCH_SECONDS      length of each wrk run (default 10)
#   COVERSNAP_HTTP_BENCH_THREADS      http-threads values (default "1 2")
#   COVERSNAP_HTTP_BENCH_CONNECTIONS  wrk connection counts (default "1 64")
#   COVERSNAP_HTTP_BENCH_JPEG_BYTES   size the cover aims at (default 60000)
#   COVERSNAP_HTTP_BENCH_JSON         results file
#                                     (default BUILD_DIR/bench/http-bench.json)
#   COVERSNAP_HTTP_BENCH_PERF         1: after the runs, profile coversnapd --http-only
#                                     (1 thread, 64 connections) with perf
#                                     and print the top functions
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
case $builddir in /*) ;; *) builddir=$src/$builddir ;; esac
seconds=${COVERSNAP_HTTP_BENCH_SECONDS:-10}
thread_counts=${COVERSNAP_HTTP_BENCH_THREADS:-1 2}
connection_counts=${COVERSNAP_HTTP_BENCH_CONNECTIONS:-1 64}
jpeg_target=${COVERSNAP_HTTP_BENCH_JPEG_BYTES:-60000}
json=${COVERSNAP_HTTP_BENCH_JSON:-$builddir/bench/http-bench.json}
perf_profile=${COVERSNAP_HTTP_BENCH_PERF:-0}
cid=10000042
warmup=2

log() { echo "$*" >&2; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. tools (Debian packages) and the build
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v gst-launch-1.0 >/dev/null || missing+=(gstreamer1.0-tools)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${missing[*]}; install them (apt-get install ${missing[*]})"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  if ! apt-get install -y -qq "${missing[@]}" >&2; then
    # nginx-light is a transitional package on some releases
    missing=("${missing[@]/nginx-light/nginx}")
    apt-get install -y -qq "${missing[@]}" >&2
  fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# shellcheck source=bench/lib.sh
. "$src/bench/lib.sh"
bench_build "$builddir" "$src" bench/http-bench-setup tools/coversnapd
setup_exe=$builddir/bench/http-bench-setup
httpd_exe=$builddir/tools/coversnapd

bench_workdir coversnap-http-bench

# 2. the cover: a camera-like 1280x720 frame (detailed background, an
# object, light sensor noise, a clock), JPEG quality chosen so that the file
# is about the size of a real 720p cover (default: the largest quality
# under 60000 bytes)
make_jpeg() {
  local q=$1 out=$2 raw="video/x-raw,format=I420" w=1280 h=720
  gst-launch-1.0 -q \
    videotestsrc num-buffers=1 pattern=zone-plate kx2=6 ky2=6 \
    ! "$raw,width=$w,height=$h" ! m. \
    videotestsrc num-buffers=1 pattern=ball ! "$raw,width=320,height=320" ! m. \
    videotestsrc num-buffers=1 pattern=snow ! "$raw,width=$w,height=$h" ! m. \
    compositor name=m sink_1::xpos=480 sink_1::ypos=180 sink_2::alpha=0.05 \
    ! "$raw,width=$w,height=$h" ! timeoverlay font-desc="Sans 24" \
    ! jpegenc quality="$q" ! filesink location="$out"
}
www=$work/www
cover_dir=$www/v2/snapshots/$cid
mkdir -p "$cover_dir" "$work/store" "$work/data" "$work/nginx/tmp"
: >"$work/failed.jsonl"
jpeg=$cover_dir/cover
lo=5 hi=95
while [ $lo -lt $hi ]; do
  mid=$(((lo + hi + 1) / 2))
  make_jpeg $mid "$work/probe.jpg"
  if [ "$(stat -c %s "$work/probe.jpg")" -le "$jpeg_target" ]; then
    lo=$mid
  else
    hi=$((mid - 1))
  fi
done
quality=$lo
make_jpeg "$quality" "$jpeg"
rm -f "$work/probe.jpg"
jpeg_size=$(stat -c %s "$jpeg")

"$setup_exe" --store-dir "$work/store" --client-id $cid --jpeg "$jpeg" \
  >"$work/setup.out" 2>"$work/setup.out.err" &
pids+=($!)
if ! wait_for_line "$work/setup.out" '^published' $!; then
  log "http-bench-setup did not publish the cover:"
  cat "$work/setup.out.err" >&2
  exit 1
fi
log "cover: $(cat "$work/setup.out") (jpegenc quality $quality), writer" \
  "pid ${pids[-1]} keeps the heartbeat fresh"

# 3. coversnapd --http-only, once per thread count, all on their own ports
key=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
cat >"$work/coversnap.conf" <<EOF
[server]
listen-address=127.0.0.1
port=0
data-dir=$work/data
store-dir=$work/store
require-view-permission=true

[app.bench]
key=$key
cids=10000000-10999999
EOF
# the device token: HMAC-MD5 over cid, control, expire as little-endian u32
token=$(python3 - "$key" $cid $(($(date +%s) + 3600)) <<'EOF'
import hashlib, hmac, struct, sys
key, cid, expire = sys.argv[1].encode(), int(sys.argv[2]), int(sys.argv[3])
control = 1 << 22  # may view snapshots
digest = hmac.new(key, struct.pack("<III", cid, control, expire),
                  hashlib.md5).hexdigest()
print(f"{cid}_{control}_{expire}_{digest}")
EOF
)
path="/v2/snapshots/$cid/cover?client_token=$token"

declare -A server_url server_pid server_threads
servers=()
for t in $thread_counts; do
  name=coversnap-t$t
  "$httpd_exe" --http-only --config "$work/coversnap.conf" --http-threads "$t" \
    >"$work/$name.out" 2>"$work/$name.out.err" &
  pids+=($!)
  server_pid[$name]=$!
  server_threads[$name]=$t
  if ! wait_for_line "$work/$name.out" '^http on' $!; then
    # not fatal: the other thread counts are still measured
    if kill -0 "${server_pid[$name]}" 2>/dev/null; then
      why="not listening after 30 s"
    else
      wait "${server_pid[$name]}" && rc=0 || rc=$?
      why="exit status $rc: $(tail -n1 "$work/$name.out.err")"
    fi
    log "$name (http-threads=$t) did not start: $why"
    echo "{\"server\": \"$name\", \"http_threads\": $t, \"failed\": $(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$why")}" \
      >>"$work/failed.jsonl"
    continue
  fi
  port=$(sed -n 's/^http on .*:\([0-9]*\)$/\1/p' "$work/$name.out")
  server_url[$name]="http://127.0.0.1:$port$path"
  servers+=("$name")

  # the check: 200, the published bytes, from the live source; and a token
  # with one digit of its digest changed is refused
  headers=$(curl -sS -D - -o "$work/got.jpg" "${server_url[$name]}")
  status=$(echo "$headers" | head -n1 | tr -d '\r')
  if ! echo "$status" | grep -q ' 200' ||
    ! echo "$headers" | grep -qi '^X-Cover-Source: live' ||
    ! cmp -s "$jpeg" "$work/got.jpg"; then
    log "$name: GET $path did not return the live cover:"
    log "$headers"
    exit 1
  fi
  bad=${token%?}$([ "${token: -1}" = 0 ] && echo 1 || echo 0)
  code=$(curl -sS -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$port/v2/snapshots/$cid/cover?client_token=$bad")
  if [ "$code" != 401 ]; then
    log "$name: a token with a wrong digest got $code, not 401"
    exit 1
  fi
  log "$name (http-threads=$t, pid ${server_pid[$name]}): port $port," \
    "GET → 200, X-Cover-Source: live, $jpeg_size bytes identical;" \
    "wrong digest → 401"
done

# 4. nginx: the same bytes as a static file from tmpfs, the same URL
chmod -R a+rX "$www" && chmod a+x "$work"
for _ in 1 2 3; do
  nginx_port=$(free_port)
  cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$nginx_port;
    root $www;
    default_type image/jpeg;
    location / { add_header Cache-Control no-cache; }
  }
}
EOF
  "$nginx_bin" -p "$work/nginx" -e "$work/nginx/error.log" \
    -c "$work/nginx/nginx.conf" \
    >"$work/nginx.out" 2>"$work/nginx.out.err" &
  nginx_pid=$!
  ok=0
  for _ in $(seq 50); do
    if curl -s -o "$work/got.jpg" "http://127.0.0.1:$nginx_port$path"; then
      ok=1
      break
    fi
    kill -0 $nginx_pid 2>/dev/null || break
    sleep 0.1
  done
  if [ $ok = 1 ]; then
    break
  fi
  kill $nginx_pid 2>/dev/null || true
  wait $nginx_pid 2>/dev/null || true
done
if [ "$ok" != 1 ] || ! cmp -s "$jpeg" "$work/got.jpg"; then
  log "nginx did not serve the cover:"
  cat "$work/nginx.out.err" "$work/nginx/error.log" >&2 2>/dev/null || true
  exit 1
fi
pids+=("$nginx_pid")
server_pid[nginx]=$nginx_pid
server_url[nginx]="http://127.0.0.1:$nginx_port$path"
servers=(nginx "${servers[@]}")
log "nginx (2 workers, sendfile, pid $nginx_pid): port $nginx_port," \
  "same bytes at the same path"

# 5. the runs.  wrk's done() prints exact figures (latency in µs); CPU time
# of the server (all its processes) is read from /proc around each run.
cat >"$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, " ..
    "\"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d, " ..
    "\"mean_us\": %.1f, \"errors\": {\"connect\": %d, \"read\": %d, " ..
    "\"write\": %d, \"status\": %d, \"timeout\": %d}}\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status,
    e.timeout))
end
EOF
# CPU ticks (utime + stime) of a process and its children processes
cpu_ticks() {
  local p total=0 f
  for p in $1 $(pgrep -P "$1" 2>/dev/null || true); do
    if f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null); then
      total=$((total + ${f% *} + ${f#* }))
    fi
  done
  echo $total
}
hz=$(getconf CLK_TCK)

results=$work/results.jsonl
: >"$results"
run_wrk() { # name connections seconds [label]
  local name=$1 c=$2 d=$3 threads=1 before after line
  [ "$c" -gt 1 ] && threads=2
  before=$(cpu_ticks "${server_pid[$name]}")
  line=$(wrk -t$threads -c"$c" -d"${d}s" --timeout 5s -s "$work/report.lua" \
    "${server_url[$name]}" | sed -n 's/^WRKJSON //p')
  after=$(cpu_ticks "${server_pid[$name]}")
  if [ -z "$line" ]; then
    log "wrk against $name (-c$c) gave no figures"
    exit 1
  fi
  if [ -n "${4:-}" ]; then
    echo "{\"server\": \"$name\", \"http_threads\": ${server_threads[$name]:-0}, \"connections\": $c, \"wrk_threads\": $threads, \"cpu_s\": $(((after - before) * 1000 / hz))e-3, \"wrk\": $line}" >>"$results"
  fi
}

log ""
log "load average before the run: $load_start; $(nproc) cores; wrk runs of" \
  "${seconds} s, one after the other"
for name in "${servers[@]}"; do
  run_wrk "$name" 8 $warmup # warm-up, not counted
done
for c in $connection_counts; do
  for name in "${servers[@]}"; do
    log "  wrk -c$c ${seconds}s → $name"
    run_wrk "$name" "$c" "$seconds" counted
  done
done

# report and JSON
python3 - "$results" "$json" "$jpeg_size" "$quality" "$seconds" \
  "$work/failed.jsonl" "$load_start" <<'EOF'
import json, os, sys, time
(results_path, json_path, jpeg_size, quality, seconds, failed_path,
 load_start) = sys.argv[1:8]
runs = [json.loads(l) for l in open(results_path) if l.strip()]
failed = [json.loads(l) for l in open(failed_path) if l.strip()]
for r in runs:
    w = r["wrk"]
    r["rps"] = w["requests"] / (w["duration_us"] / 1e6)
    r["cpu_us_per_request"] = r["cpu_s"] * 1e6 / max(w["requests"], 1)
    r["errors"] = sum(w["errors"].values())
    r["bytes_per_response"] = w["bytes"] / max(w["requests"], 1)
nginx = {r["connections"]: r for r in runs if r["server"] == "nginx"}
for r in runs:
    base = nginx.get(r["connections"])
    r["ratio_to_nginx"] = r["rps"] / base["rps"] if base else None

print()
print("HTTP benchmark: GET /v2/snapshots/{cid}/cover, live cover of %s bytes"
      " (1280x720 JPEG, quality %s)" % (jpeg_size, quality))
print("coversnapd --http-only verifies the device token (HMAC-MD5, constant-time"
      " compare, expiry, cid, view bit) on every request; nginx serves the"
      " same bytes as a static file from tmpfs (sendfile), no check at all.")
print()
fmt = "%-14s %5s %11s %9s %9s %9s %10s %9s %7s"
print(fmt % ("server", "conns", "req/s", "p50 ms", "p99 ms", "max ms",
             "CPU µs/req", "vs nginx", "errors"))
for r in runs:
    w = r["wrk"]
    ratio = "%.2f" % r["ratio_to_nginx"] if r["ratio_to_nginx"] else "-"
    print(fmt % (r["server"], r["connections"], "%.0f" % r["rps"],
                 "%.3f" % (w["p50_us"] / 1000), "%.3f" % (w["p99_us"] / 1000),
                 "%.1f" % (w["max_us"] / 1000),
                 "%.1f" % r["cpu_us_per_request"], ratio, r["errors"]))
for f in failed:
    print("%-14s did not start (http-threads=%d): %s" % (
        f["server"], f["http_threads"], f["failed"]))
print()
print("CPU µs/req: the server's own CPU time (all its threads or worker"
      " processes) over the requests served; wrk shares the same 2 cores.")

top = max(r["connections"] for r in runs)
best = max((r for r in runs if r["server"] != "nginx" and
            r["connections"] == top), key=lambda r: r["rps"], default=None)
met = bool(best and (best["ratio_to_nginx"] or 0) >= 1.0 and
           best["wrk"]["p99_us"] < 5000)
doc = {
    "benchmark": "http-live-cover",
    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "cores": os.cpu_count(),
    "loadavg_before": load_start.split(),
    "loadavg_after": open("/proc/loadavg").read().split()[:3],
    "seconds_per_run": int(seconds),
    "jpeg_bytes": int(jpeg_size),
    "jpeg_quality": int(quality),
    "token_verified_per_request": True,
    "runs": runs,
    "failed_to_start": failed,
    "target": {"ratio_at_64": 1.0, "p99_ms": 5.0, "met": met,
               "best": best["server"] if best else None},
}
with open(json_path, "w") as f:
    json.dump(doc, f, indent=2)
parts = []
for c in sorted(nginx):
    items = ["nginx %.0f" % nginx[c]["rps"]]
    items += ["%s %.0f (%.2fx, p99 %.2f ms)" % (
        r["server"].replace("coversnap-", "cs-"), r["rps"],
        r["ratio_to_nginx"], r["wrk"]["p99_us"] / 1000)
        for r in runs if r["server"] != "nginx" and r["connections"] == c]
    items += ["%s failed to start" % f["server"].replace("coversnap-", "cs-")
              for f in failed]
    parts.append("c%d: " % c + ", ".join(items))
print()
print("summary: req/s " + "; ".join(parts) +
      " — target (≥1.0x nginx at c%d, p99 < 5 ms) %s" %
      (top, "met" if met else "NOT met"))
bad = [r for r in runs if r["errors"]]
if bad:
    print("warning: %d run(s) had errors (non-2xx, socket): see the JSON"
          % len(bad))
EOF
log "figures written to $json"

# optional: where the time goes, 1 HTTP thread under 64 connections.
# Inclusive shares of a few functions (from the call stacks) and the self
# time by library; libsoup and GLib have no debug symbols here, so their
# static functions show as addresses and are only counted by library.
if [ "$perf_profile" = 1 ]; then
  name=coversnap-t$(echo "$thread_counts" | cut -d' ' -f1)
  if ! command -v perf >/dev/null || [ -z "${server_pid[$name]:-}" ]; then
    log "perf: no perf, or $name is not running: no profile"
    exit 0
  fi
  log ""
  log "perf: $name under wrk -c64, 5 s, call stacks (dwarf)"
  (wrk -t2 -c64 -d7s "${server_url[$name]}" >/dev/null) &
  wrk_pid=$!
  sleep 1
  perf record -q -F 999 --call-graph dwarf,16384 -p "${server_pid[$name]}" \
    -o "$work/perf.data" -- sleep 5 >/dev/null 2>&1 || true
  wait $wrk_pid || true
  perf script -i "$work/perf.data" 2>/dev/null >"$work/perf.txt" || true
  python3 - "$work/perf.txt" <<'EOF'
import collections, re, sys
samples, cur = [], []
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        if cur:
            samples.append(cur)
        cur = []
    elif line[0] in " \t":
        p = line.split(None, 2)
        if len(p) >= 2:
            dso = p[2].strip().strip("()").split("/")[-1] if len(p) > 2 else ""
            cur.append((re.sub(r"\+0x[0-9a-f]+$", "", p[1]), dso))
if cur:
    samples.append(cur)
n = len(samples)
if not n:
    print("perf: no samples")
    sys.exit(0)
print("perf: %d samples of coversnapd --http-only" % n)
print("inclusive (function and what it calls):")
for f, what in [
        ("g_socket_send_with_blocking", "send(): kernel TCP, loopback delivery"),
        ("g_signal_emit", "GObject signals (libsoup's handler dispatch)"),
        ("server_handler", "the cover service's handler, all of it"),
        ("live_lookup", "  live source: lstat + kill + shared-memory read"),
        ("soup_date_time_to_string", "  Last-Modified formatting"),
        ("authorize", "  token: parse, HMAC-MD5, compare, expiry"),
        ("request_init", "  X-Request-ID (random UUID)"),
        ("count_request", "  metrics counter"),
        ("__GI___libc_write", "write(): GMainContext wake-ups (eventfd)"),
        ("g_object_unref", "object teardown"),
        ("g_object_new", "object creation")]:
    k = sum(1 for s in samples if any(x[0] == f for x in s))
    print("  %5.1f%%  %-28s %s" % (100.0 * k / n, f, what))
print("self time by library:")
def leaf_dso(s):
    return next((x[1] for x in s if x[1] != "inlined"), "?")
for dso, k in collections.Counter(map(leaf_dso, samples)).most_common(8):
    print("  %5.1f%%  %s" % (100.0 * k / n, dso))
EOF
fi
