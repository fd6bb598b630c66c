#!/usr/bin/env bash
# `make bench [BENCH_ARGS=--quick]`: Erma against a stock `rasa init` bot on the same Rasa.
# 1. The stock bot is created and trained once under var/bench/stock (again only if its model is missing).
# 2. The project's stack (platform on a fresh SQLite database var/bench/erma.db, worker, action server,
#    Rasa) starts as `make test` starts it, unless it already answers on the bench's ports.
# 3. scripts/bench/chat.py drives every target and writes the result (docs/benchmarks.md).
# Everything started here is stopped on exit. Ports: BENCH_ERMA_PORT (8400), BENCH_RASA_PORT (5400),
# BENCH_ACTIONS_PORT (5450), BENCH_STOCK_PORT (5401); the folder: BENCH_DIR (var/bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
export RASA_TELEMETRY_ENABLED=false
BENCH=${BENCH_DIR:-var/bench}  # another folder two levels down (var/bench-2) lets two benches run side by side
STOCK=$BENCH/stock
export LOG_DIR=$BENCH/logs
export ERMA_PORT=${BENCH_ERMA_PORT:-8400} RASA_PORT=${BENCH_RASA_PORT:-5400} ACTIONS_PORT=${BENCH_ACTIONS_PORT:-5450}
STOCK_PORT=${BENCH_STOCK_PORT:-5401}
mkdir -p "$LOG_DIR"

answers() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! compgen -G "$STOCK/models/*.tar.gz" >/dev/null; then
  echo "==> Creating and training a stock 'rasa init' bot in $STOCK (once; a few minutes; $LOG_DIR/stock-init.log)"
  rm -rf "$STOCK" && mkdir -p "$STOCK"
  .venv-rasa/bin/rasa init --no-prompt --init-dir "$STOCK" >"$LOG_DIR/stock-init.log" 2>&1
fi
[ -f models/current.tar.gz ] || { echo "No models/current.tar.gz: run scripts/train.sh (or make train) first" >&2; exit 1; }

source scripts/services.sh
stop_bench() {
  stop_all  # SIGTERM to every process started here, then wait for them
  rm -f "$BENCH/endpoints.yml"
  for port in "$ERMA_PORT" "$RASA_PORT" "$ACTIONS_PORT" "$STOCK_PORT"; do
    if [ "${STARTED[$port]:-}" ] && listening "$port"; then echo "warning: something still listens on port $port" >&2; fi
  done
}
declare -A STARTED=()
trap stop_bench EXIT

if answers "http://127.0.0.1:$STOCK_PORT/status"; then
  echo "==> Using the stock bot already running on port $STOCK_PORT"
else
  # The stock project as `rasa init` wrote it: its endpoints (no action server, in-memory trackers) and credentials (rest).
  (cd "$STOCK" && exec ../../../.venv-rasa/bin/rasa run --enable-api -i 127.0.0.1 --port "$STOCK_PORT" --model models \
     --endpoints endpoints.yml --credentials credentials.yml) >"$LOG_DIR/stock.log" 2>&1 & PIDS+=($!)
  STARTED[$STOCK_PORT]=1
fi

platform_up=0; rasa_up=0
answers "http://127.0.0.1:$ERMA_PORT/healthz" && platform_up=1
answers "http://127.0.0.1:$RASA_PORT/status" && rasa_up=1
if [ $platform_up = 1 ] && [ $rasa_up = 1 ]; then
  echo "==> Using the project's stack already running (platform $ERMA_PORT, Rasa $RASA_PORT)"
elif [ $platform_up = 1 ] || [ $rasa_up = 1 ] || answers "http://127.0.0.1:$ACTIONS_PORT/health"; then
  echo "Part of a stack answers on ports $ERMA_PORT/$RASA_PORT/$ACTIONS_PORT: stop it or choose other BENCH_*_PORT" >&2
  exit 1
else
  rm -f "$BENCH"/erma.db* "$BENCH"/tracker.db*
  export DATABASE_URL="sqlite:///$PWD/$BENCH/erma.db"
  export ERMA_TRACKER_DB=$BENCH/tracker.db RASA_TIMEOUT_SECONDS=60
  echo "==> Setting up the platform's database ($BENCH/erma.db)"
  .venv/bin/python -m erma setup >"$LOG_DIR/setup.log" 2>&1
  export RASA_ENDPOINTS=$BENCH/endpoints.yml
  sed -e "s#localhost:5055#127.0.0.1:$ACTIONS_PORT#; s#var/rasa_tracker.db#$BENCH/tracker.db#" endpoints.yml >"$RASA_ENDPOINTS"
  start_platform
  STARTED[$ERMA_PORT]=1
  wait_for "http://127.0.0.1:$ERMA_PORT/healthz" platform 120
  start_assistant
  STARTED[$RASA_PORT]=1; STARTED[$ACTIONS_PORT]=1
  wait_for "http://127.0.0.1:$ACTIONS_PORT/health" "action server" 180
  wait_for "http://127.0.0.1:$RASA_PORT/status" Rasa 400
fi
wait_for "http://127.0.0.1:$STOCK_PORT/status" "stock bot" 300

# 4. The scaled set-up (scripts/scaled/stack.sh) on a fresh PostgreSQL database of its own, a fourth target
#    (BENCH_SCALED=0 leaves it out; ports from BENCH_SCALED_PORT, 8600).
SCALED_ARGS=()
if [ "${BENCH_SCALED:-1}" = 1 ]; then
  export SCALED_PORT=${BENCH_SCALED_PORT:-8600} SCALED_DB=erma_scaled_bench SCALED_REDIS_DB=3 SCALED_DIR=$BENCH/scaled \
    SCALED_LOGS=$LOG_DIR/scaled
  source scripts/scaled/stack.sh   # after the single instance started: it exports the scaled set-up's URLs
  trap 'stop_scaled; stop_bench' EXIT
  echo "==> Starting the scaled set-up (logs in $SCALED_LOGS)"
  scaled_databases --fresh
  start_scaled
  SCALED_ARGS=(--scaled "http://127.0.0.1:$LB_PLATFORM_PORT")
fi

.venv/bin/python -m scripts.bench.chat --platform "http://127.0.0.1:$ERMA_PORT" --rasa "http://127.0.0.1:$RASA_PORT" \
  --stock "http://127.0.0.1:$STOCK_PORT" "${SCALED_ARGS[@]}" --command "make bench${*:+ BENCH_ARGS=\"$*\"}" "$@"
