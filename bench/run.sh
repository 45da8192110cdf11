#!/usr/bin/env bash
# Gateway overhead, measured with the shared harness (../shared/bench) in one run:
# the mock upstream called directly, then through Switchyard (auth, metering, generation record).
# Gateway alone on CPU 1; load generator and mock on CPU 0.
#   bench/run.sh                      (PostgreSQL database switchyard_bench on 127.0.0.1)
#   HARNESS=/path/to/shared/bench DATABASE_URL=... REDIS_URL=... bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-$(cd .. && pwd)/shared/bench}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/switchyard_bench}
export OUT=${OUT:-$PWD/bench-results/results.jsonl}
PORT=${PORT:-8090}
PY=.venv/bin/python

"$HARNESS/setup.sh"
if [[ $DATABASE_URL == postgres://*switchyard_bench ]]; then
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE switchyard_bench" 2>/dev/null || true
fi
$PY manage.py migrate --noinput -v0
KEY=$($PY bench/prepare.py http://127.0.0.1:9000/v1 | tail -n1)

"$HARNESS/start_mock.sh"
setsid taskset -c 1 .venv/bin/uvicorn marketplace.asgi:application --port "$PORT" \
  --loop uvloop --http httptools --no-access-log --log-level warning &
GW=$!
trap 'kill -- -$GW 2>/dev/null || true; "$HARNESS/peers/stop_peer.sh" mock || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/api/v1/models" >/dev/null; do sleep 0.2; done

LABEL=direct "$HARNESS/run_bench.sh" http://127.0.0.1:9000 sk-x mock-model
GUARD_PGIDS=$GW LABEL=switchyard "$HARNESS/run_bench.sh" \
  "http://127.0.0.1:$PORT/api/v1/chat/completions" "$KEY" bench/mock-model
python3 "$HARNESS/summarize.py" "$OUT" --table
