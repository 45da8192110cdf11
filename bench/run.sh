#!/usr/bin/env bash
# Gateway overhead, measured with the shared harness (../shared/bench) in one run: the mock
# upstream called directly, then through Switchyard as in production (marketplace.serve:
# uvicorn + uvloop + httptools, one process; PostgreSQL; Redis; auth, hold, settle, generation
# record, health tracking and per-request logs all on). The gateway alone on CPU 1; load
# generator and mock on CPU 0; PostgreSQL and Redis where the kernel puts them (their CPU is
# counted as the gateway's by the harness's guard, and reported per request at the end).
#
#   bench/run.sh                        (database switchyard_bench on 127.0.0.1, Redis db 9)
#   SCALE=1 bench/run.sh                first grow the database: 1,000 models, 100k keys, 1M
#                                       generations (bench/seed_scale.py, once)
#   MEMORY_S=600 bench/run.sh           then 10 minutes at 32 connections, RSS sampled
#   PEERS=1 bench/run.sh                then Portkey and LiteLLM on the same mock, same table
#                                       (installed by the harness's setup.sh --peers, here)
#   HARNESS=... DATABASE_URL=... REDIS_URL=... SCENARIOS="ns_c1" REPEAT=1 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-$(cd .. && pwd)/shared/bench}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/switchyard_bench}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/9}
export OUT=${OUT:-$PWD/bench-results/results.jsonl}
export SCENARIOS=${SCENARIOS:-ns_c1 ns_c32 st_c1 st_c8}
export LOG_FORMAT=${LOG_FORMAT:-json}  # production's request log lines
PORT=${PORT:-8090}
PY=.venv/bin/python
mkdir -p bench-results "$(dirname "$OUT")"  # a fresh checkout has neither

"$HARNESS/setup.sh" ${PEERS:+--peers}
if [[ $DATABASE_URL == postgres://*/switchyard_bench* ]]; then
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE ${DATABASE_URL##*/}" 2>/dev/null || true
fi
$PY manage.py migrate --noinput -v0
[[ -n ${SCALE:-} ]] && $PY bench/seed_scale.py
KEY=$($PY bench/prepare.py http://127.0.0.1:9000/v1 | tail -n1)

"$HARNESS/start_mock.sh"
setsid taskset -c 1 $PY -m marketplace.serve --port "$PORT" > bench-results/gateway.log 2>&1 &
GW=$!
trap 'kill -- -$GW 2>/dev/null || true; "$HARNESS/peers/stop_peer.sh" mock || true' EXIT
trap 'exit 143' TERM INT  # stopped (a timeout, ^C): still through the EXIT trap, no gateway left
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do
  kill -0 $GW 2>/dev/null || { cat bench-results/gateway.log >&2; exit 1; }  # it did not start
  sleep 0.2
done

# Open the gateway's database connections (a warm-up), then count the database and Redis as
# the gateway's: their CPU is not another job's (each PostgreSQL backend is a process group).
BENCH_KEY=$KEY BENCH_MODEL=bench/mock-model taskset -c 0 wrk -t1 -c32 -d3s \
  -s "$HARNESS/post.lua" "http://127.0.0.1:$PORT/api/v1/chat/completions" > /dev/null
SERVICES=$(ps -o pgid= -C postgres,redis-server | sort -u | tr -d ' ' | tr '\n' ' ')
services_cpu_s() { ps -o cputimes= -C postgres,redis-server | awk '{s += $1} END {print s + 0}'; }
requests() { $PY -c "
from django import setup; import os
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'marketplace.settings'); setup()
from billing.models import Generation; print(Generation.objects.count())"; }

LABEL=direct "$HARNESS/run_bench.sh" http://127.0.0.1:9000 sk-x mock-model
before=$(requests); pg_before=$(services_cpu_s)
GUARD_PGIDS="$GW $SERVICES" LABEL=switchyard "$HARNESS/run_bench.sh" \
  "http://127.0.0.1:$PORT/api/v1/chat/completions" "$KEY" bench/mock-model
after=$(requests); pg_after=$(services_cpu_s)
peers() {  # their own launchers pin them to CPU 1 as well; neither gets our database
  env -u DATABASE_URL -u REDIS_URL "$HARNESS/peers/start_portkey.sh"
  HEADERS="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:9000/v1" \
    LABEL=portkey "$HARNESS/run_bench.sh" http://127.0.0.1:8787 sk-mock-upstream mock-model
  "$HARNESS/peers/stop_peer.sh" portkey
  env -u DATABASE_URL -u REDIS_URL "$HARNESS/peers/start_litellm.sh"
  LABEL=litellm "$HARNESS/run_bench.sh" http://127.0.0.1:4000 sk-bench-master mock-model
  "$HARNESS/peers/stop_peer.sh" litellm
}
[[ -n ${PEERS:-} ]] && { peers || echo "a peer failed to run: see its log under /tmp" >&2; }
python3 "$HARNESS/summarize.py" "$OUT" --table
echo "PostgreSQL + Redis CPU per request: $(echo "scale=1; ($pg_after - $pg_before) * 1000000 / ($after - $before)" | bc) µs over $((after - before)) requests"

if [[ -n ${MEMORY_S:-} ]]; then
  bench/memory.sh "$GW" "http://127.0.0.1:$PORT/api/v1/chat/completions" "$KEY" "$MEMORY_S"
fi
sleep 3  # the idle leases close: their charges reach the ledger
$PY manage.py ledger_check
