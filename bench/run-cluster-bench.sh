#!/usr/bin/env bash
# The cluster benchmark: in one run, wrk at 64 connections against a cover
# served locally (node B, the owner of the live cover), the same cover asked
# of node A (answered with a 302 to B) and of node P (forward=proxy: fetched
# from B and answered by P).  req/s and p99 of each as ratios to the local
# serve, and the registry round-trip median that A measured.  See
# bench/README.md.
#
#   bench/run-cluster-bench.sh [BUILD_DIR]      (default: build)
#
# Environment:
#   COVERSNAP_CLUSTER_BENCH_SECONDS      length of each wrk run (default 10)
#   COVERSNAP_CLUSTER_BENCH_CONNECTIONS  wrk connections (default 64)
#   COVERSNAP_CLUSTER_BENCH_JSON         results file
#                              (default BUILD_DIR/bench/cluster-bench.json)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
case $builddir in /*) ;; *) builddir=$src/$builddir ;; esac
seconds=${COVERSNAP_CLUSTER_BENCH_SECONDS:-10}
conns=${COVERSNAP_CLUSTER_BENCH_CONNECTIONS:-64}
json=${COVERSNAP_CLUSTER_BENCH_JSON:-$builddir/bench/cluster-bench.json}
cid=10000042

log() { echo "$*" >&2; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

for t in wrk redis-server redis-cli curl python3 gst-launch-1.0; do
  if ! command -v $t >/dev/null; then
    log "missing: $t (apt-get install wrk redis-server curl python3 gstreamer1.0-tools)"
    exit 1
  fi
done
# shellcheck source=bench/lib.sh
. "$src/bench/lib.sh"
bench_build "$builddir" "$src" bench/http-bench-setup tools/coversnapd
setup_exe=$builddir/bench/http-bench-setup
httpd_exe=$builddir/tools/coversnapd

bench_workdir coversnap-cluster-bench

# 1. Redis on a unix socket of the work dir, no persistence
redis-server --port 0 --unixsocket "$work/redis.sock" --save "" \
  --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$(redis-cli -s "$work/redis.sock" PING 2>/dev/null)" = PONG ] && break
  sleep 0.1
done

# 2. the cover: a 1280x720 JPEG published live into B's store
mkdir -p "$work/b/store" "$work/b/data" "$work/a/store" "$work/a/data" \
  "$work/p/store" "$work/p/data"
gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=zone-plate kx2=6 ky2=6 \
  ! video/x-raw,format=I420,width=1280,height=720 ! jpegenc quality=60 \
  ! filesink location="$work/cover.jpg"
"$setup_exe" --store-dir "$work/b/store" --client-id $cid \
  --jpeg "$work/cover.jpg" >"$work/setup.out" 2>"$work/setup.err" &
pids+=($!)
if ! wait_for_line "$work/setup.out" '^published' $!; then
  log "http-bench-setup did not publish the cover"
  exit 1
fi
jpeg_size=$(stat -c %s "$work/cover.jpg")

# 3. three nodes, --http-only: B holds the cover, A redirects, P proxies
key=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
declare -A port url
for n in a b p; do
  port[$n]=$(free_port)
  forward=redirect
  [ $n = p ] && forward=proxy
  cat >"$work/$n.conf" <<EOF
[server]
listen-address=127.0.0.1
port=${port[$n]}
data-dir=$work/$n/data
store-dir=$work/$n/store

[app.bench]
key=$key
cids=10000000-10999999

[cluster]
redis=$work/redis.sock
node-id=$n
public-url=http://127.0.0.1:${port[$n]}
forward=$forward
EOF
  "$httpd_exe" --http-only --config "$work/$n.conf" \
    >"$work/$n.out" 2>"$work/$n.err" &
  pids+=($!)
  if ! wait_for_line "$work/$n.out" '^http on' $!; then
    log "node $n did not start: $(tail -n2 "$work/$n.err")"
    exit 1
  fi
done
token=$(python3 - "$key" $cid $(($(date +%s) + 3600)) <<'EOF'
import hashlib, hmac, struct, sys
key, cid, expire = sys.argv[1].encode(), int(sys.argv[2]), int(sys.argv[3])
digest = hmac.new(key, struct.pack("<III", cid, 0, expire),
                  hashlib.md5).hexdigest()
print(f"{cid}_0_{expire}_{digest}")
EOF
)
path="/v2/snapshots/$cid/cover?client_token=$token"
# --http-only nodes claim nothing (no ingest): the registry is told that B
# holds the stream, as B's ingest would have claimed it
redis-cli -s "$work/redis.sock" SET "coversnap:live:$cid" b PX 3600000 >/dev/null
for _ in $(seq 100); do
  [ "$(redis-cli -s "$work/redis.sock" EXISTS coversnap:node:b)" = 1 ] && break
  sleep 0.1
done

# the checks: B 200 live with the bytes, A 302 to B, P 200 with the bytes
curl -sS -o "$work/got.jpg" "http://127.0.0.1:${port[b]}$path"
cmp -s "$work/cover.jpg" "$work/got.jpg" || { log "B did not serve the cover"; exit 1; }
said=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:${port[a]}$path")
case $said in "302 http://127.0.0.1:${port[b]}/"*forwarded=1) ;; *) log "A: $said"; exit 1 ;; esac
curl -sS -o "$work/got.jpg" "http://127.0.0.1:${port[p]}$path"
cmp -s "$work/cover.jpg" "$work/got.jpg" || { log "P did not proxy the cover"; exit 1; }
log "cover $jpeg_size bytes; B :${port[b]} serves it, A :${port[a]} → 302, P :${port[p]} proxies"

# 4. the runs
cat >"$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, " ..
    "\"p99_us\": %d, \"errors\": %d, \"non2xx3xx\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout,
    e.status))
end
EOF
results=$work/results.jsonl
: >"$results"
run() { # name node
  local line
  line=$(wrk -t2 -c"$conns" -d"${seconds}s" --timeout 5s -s "$work/report.lua" \
    "http://127.0.0.1:${port[$2]}$path" | sed -n 's/^WRKJSON //p')
  [ -n "$line" ] || { log "wrk against $1 gave no figures"; exit 1; }
  echo "{\"case\": \"$1\", \"wrk\": $line}" >>"$results"
}
log "load average before: $load_start; $(nproc) cores; wrk -c$conns ${seconds}s each"
for c in local redirect proxy; do
  node=b
  [ $c = redirect ] && node=a
  [ $c = proxy ] && node=p
  wrk -t1 -c8 -d2s "http://127.0.0.1:${port[$node]}$path" >/dev/null # warm-up
  log "  $c (node $node)"
  run $c $node
done
median=$(curl -s "http://127.0.0.1:${port[a]}/metrics" |
  sed -n 's/^coversnap_cluster_registry_rtt_median_seconds //p')

python3 - "$results" "$json" "$median" "$load_start" "$jpeg_size" <<'EOF'
import json, sys, time
results, path, median, load, size = sys.argv[1:6]
runs = {}
for l in open(results):
    r = json.loads(l)
    w = r["wrk"]
    r["rps"] = w["requests"] / (w["duration_us"] / 1e6)
    runs[r["case"]] = r
base = runs["local"]
print()
print("cluster benchmark: GET cover (%s-byte JPEG), wrk -c64; ratios to the"
      " local serve of the same run" % size)
fmt = "%-9s %10s %9s %9s %10s %10s %7s"
print(fmt % ("case", "req/s", "p50 ms", "p99 ms", "cost x", "p99 x", "errors"))
for c in ("local", "redirect", "proxy"):
    r = runs[c]
    w = r["wrk"]
    r["cost_ratio"] = base["rps"] / r["rps"]
    r["p99_ratio"] = w["p99_us"] / max(base["wrk"]["p99_us"], 1)
    print(fmt % (c, "%.0f" % r["rps"], "%.3f" % (w["p50_us"] / 1000),
                 "%.3f" % (w["p99_us"] / 1000), "%.2f" % r["cost_ratio"],
                 "%.2f" % r["p99_ratio"], w["errors"]))
med_ms = float(median or 0) * 1000
print("registry round trip (node A, median of its last 1024): %.3f ms" % med_ms)
met = runs["redirect"]["cost_ratio"] <= 1.5 and med_ms < 1.0
print("target (redirect ≤ 1.5x a local serve, registry < 1 ms median): %s"
      % ("met" if met else "NOT met"))
json.dump({"benchmark": "cluster", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "loadavg_before": load.split(), "jpeg_bytes": int(size),
           "runs": runs, "registry_rtt_median_ms": med_ms,
           "target_met": met}, open(path, "w"), indent=2)
EOF
log "figures written to $json"
