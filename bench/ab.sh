#!/usr/bin/env bash
# A change measured against a base commit, side by side: both gateways up at once (the base from
# a git worktree, this checkout as it is), on the same core, database, key and mock, and short
# runs alternating between them. This machine's speed drifts by ±20 % from one minute to the
# next, so only the ratios of adjacent runs mean anything; the medians of those are printed.
#
#   bench/ab.sh BASE_REF [PAIRS] [SECONDS]     e.g. bench/ab.sh HEAD~1 8 3
#   CONNECTIONS="1 32 s1 s8" bench/ab.sh main  (N: non-streaming at N connections, the default
#                                              "1 32"; sN: N streams, TTFB instead of p50)
#
# Needs what bench/run.sh sets up first (the database switchyard_bench, the harness). Ratios
# are "new / base": req/s above 1 and p50 or CPU per request below 1 are better.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_REF=${1:?usage: bench/ab.sh BASE_REF [PAIRS] [SECONDS]}
PAIRS=${2:-6} SECS=${3:-3}
CONNECTIONS=${CONNECTIONS:-1 32}
HARNESS=${HARNESS:-$(cd .. && pwd)/shared/bench}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/switchyard_bench}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/9}
PY=.venv/bin/python
BASE_DIR=$(mktemp -d /tmp/switchyard-ab-XXXXXX)
mkdir -p bench-results

git worktree add -q --detach "$BASE_DIR" "$BASE_REF"
ln -s "$PWD/.venv" "$BASE_DIR/.venv"
"$HARNESS/start_mock.sh" > /dev/null
KEY=$($PY bench/prepare.py http://127.0.0.1:9000/v1 | tail -n1)

start() {  # DIR PORT: a gateway as in production, alone on CPU 1 while it is measured
  (cd "$1" && exec setsid taskset -c 1 .venv/bin/python -m marketplace.serve --port "$2") \
    > "bench-results/ab-$2.log" 2>&1 &
  echo $!
}
BASE_PID=$(start "$BASE_DIR" 8091)
NEW_PID=$(start "$PWD" 8090)
cleanup() {
  kill -- "-$BASE_PID" "-$NEW_PID" 2>/dev/null || true
  "$HARNESS/peers/stop_peer.sh" mock > /dev/null 2>&1 || true
  git worktree remove --force "$BASE_DIR"
}
trap cleanup EXIT
trap 'exit 143' TERM INT  # stopped: still cleaned up
wait_up() {  # PORT PID: until the gateway answers; stops if it died instead (see its log)
  until curl -sf "http://127.0.0.1:$1/healthz" > /dev/null; do
    kill -0 "$2" 2>/dev/null || { cat "bench-results/ab-$1.log" >&2; exit 1; }
    sleep 0.2
  done
}
wait_up 8091 "$BASE_PID"
wait_up 8090 "$NEW_PID"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# One run of the gateway on PORT (process PID): "rate latency_ms cpu_ms_per_request". Non-
# streaming (N: wrk, N connections): req/s and p50. Streaming (sN: the harness's pyload, N
# streams of 23 events): streams/s and time to first event, p50.
run() {
  local port=$1 pid=$2 connections=$3 url before after json latency
  url="http://127.0.0.1:$port/api/v1/chat/completions"
  before=$(cpu_ticks "$pid")
  if [[ $connections == s* ]]; then
    json=$(taskset -c 0 python3 "$HARNESS/pyload.py" "$url" --key "$KEY" \
      --model bench/mock-model --stream -c "${connections#s}" -d "$SECS" \
      | sed -n 's/^PYLOAD_JSON //p')
    latency=ttfb_p50_ms
  else
    json=$(BENCH_KEY=$KEY BENCH_MODEL=bench/mock-model taskset -c 0 wrk -t1 -c"$connections" \
      -d"${SECS}s" -s "$HARNESS/post.lua" "$url" | sed -n 's/^WRK_JSON //p')
    latency=p50_ms
  fi
  after=$(cpu_ticks "$pid")
  python3 -c "import json, sys; r = json.loads(sys.argv[1]); t = int(sys.argv[2]);
print(r['rps'], r[sys.argv[3]], round(t * 10 / max(r['requests'], 1), 3))" \
    "$json" $((after - before)) "$latency"
}

for connections in $CONNECTIONS; do
  label=c$connections units="req/s, p50 ms, CPU ms per request"
  if [[ $connections == s* ]]; then
    label=$connections units="streams/s, TTFB p50 ms, CPU ms per stream"
  fi
  run 8091 "$BASE_PID" "$connections" > /dev/null  # warm-up: connections, caches
  run 8090 "$NEW_PID" "$connections" > /dev/null
  ratios=()
  for ((pair = 1; pair <= PAIRS; pair++)); do
    if ((pair % 2)); then  # alternate which goes first: a drift does not favour one side
      base=$(run 8091 "$BASE_PID" "$connections"); new=$(run 8090 "$NEW_PID" "$connections")
    else
      new=$(run 8090 "$NEW_PID" "$connections"); base=$(run 8091 "$BASE_PID" "$connections")
    fi
    ratios+=("$base $new")
    echo "$label pair $pair: base $base | new $new ($units)"
  done
  printf '%s\n' "${ratios[@]}" | python3 -c "
import statistics, sys
pairs = [list(map(float, line.split())) for line in sys.stdin]
ratio = lambda i: statistics.median(new[i] / base[i] for base, new in
                                    ((p[:3], p[3:]) for p in pairs))
rate, latency, cpu = '$units'.split(', ')
print(f'$label new/base, median of {len(pairs)} pairs: {rate} ×{ratio(0):.3f}, '
      f'{latency} ×{ratio(1):.3f}, {cpu} ×{ratio(2):.3f}')"
done
