#!/usr/bin/env bash
# Memory of a gateway worker under a long bounded load: RSS every 30 s while wrk sends
# non-streaming requests at 32 connections, then the growth after the first minute (warm-up).
#   bench/memory.sh GATEWAY_PID URL KEY SECONDS
set -euo pipefail
PID=$1 URL=$2 KEY=$3 SECONDS_TOTAL=${4:-600}
HARNESS=${HARNESS:-$(cd "$(dirname "$0")/../.." && pwd)/shared/bench}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
BENCH_KEY=$KEY BENCH_MODEL=bench/mock-model BENCH_STREAM=0 \
  taskset -c 0 wrk -t1 -c32 -d"${SECONDS_TOTAL}s" --timeout 30s -s "$HARNESS/post.lua" "$URL" \
  > bench-results/memory-wrk.txt &
LOAD=$!
samples=()
for ((t = 0; t <= SECONDS_TOTAL; t += 30)); do
  samples+=("$(rss_kib)"); echo "t=${t}s rss=${samples[-1]} KiB"
  [[ $t -lt $SECONDS_TOTAL ]] && sleep 30
done
wait $LOAD
grep -E "Requests/sec|WRK_JSON" bench-results/memory-wrk.txt
echo "RSS after warm-up ${samples[2]} KiB, at the end ${samples[-1]} KiB:" \
  "growth $(( samples[-1] - samples[2] )) KiB"
