#!/usr/bin/env bash
# `make test`: every test. Platform tests on SQLite and on PostgreSQL; the assistant's data
# validation, test stories, held-out NLU evaluation, and end-to-end tests against real processes; the
# scaled set-up's replica-kill test. `scripts/test.sh platform|rasa|scaled` runs one part.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
what=${1:-all}
PG_URL=${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
mkdir -p var test-artifacts

if [ "$what" = all ] || [ "$what" = platform ]; then
  echo "==> Platform tests on SQLite"
  DATABASE_URL="sqlite:///$PWD/var/test-platform.db" .venv/bin/python -m pytest tests/platform -q -p no:cacheprovider
  echo "==> Platform tests on PostgreSQL ($PG_URL)"
  DATABASE_URL="$PG_URL" .venv/bin/python -m pytest tests/platform -q -p no:cacheprovider
fi

if [ "$what" = all ] || [ "$what" = rasa ]; then
  echo "==> Rasa data validation"
  PYTHONPATH=. .venv-rasa/bin/rasa data validate --fail-on-warning --domain domain.yml --data data --config config.yml
  scripts/train.sh
  echo "==> Assistant unit tests (actions, NLU components)"
  PYTHONPATH=. .venv-rasa/bin/python -m pytest tests/rasa -q -p no:cacheprovider

  # A real platform on a fresh SQLite database, the action server and Rasa, for what follows.
  LOG_DIR=test-artifacts/logs; mkdir -p "$LOG_DIR"
  export ERMA_PORT=${TEST_ERMA_PORT:-8100} RASA_PORT=${TEST_RASA_PORT:-5105} ACTIONS_PORT=${TEST_ACTIONS_PORT:-5155}
  rm -f var/test-e2e.db* var/test-tracker.db
  export DATABASE_URL="sqlite:///$PWD/var/test-e2e.db"
  # The worker purges this tracker file (nothing in it is old enough); the first answers of a fresh model can be slow.
  export ERMA_TRACKER_DB=var/test-tracker.db RASA_TIMEOUT_SECONDS=60
  .venv/bin/python -m erma setup >/dev/null
  export RASA_ENDPOINTS=tests/endpoints.test.yml
  sed -e "s#localhost:5055#127.0.0.1:$ACTIONS_PORT#; s#var/rasa_tracker.db#var/test-tracker.db#" endpoints.yml > "$RASA_ENDPOINTS"
  source scripts/services.sh
  trap 'stop_all; rm -f "$RASA_ENDPOINTS"' EXIT
  start_platform
  wait_for "http://127.0.0.1:$ERMA_PORT/healthz" platform 60
  start_assistant
  wait_for "http://127.0.0.1:$ACTIONS_PORT/health" "action server" 120
  wait_for "http://127.0.0.1:$RASA_PORT/status" Rasa 300

  echo "==> Test stories (rasa test, failing on any prediction error)"
  PYTHONPATH=. .venv-rasa/bin/rasa test core --model models/current.tar.gz --stories tests/stories \
    --endpoints "$RASA_ENDPOINTS" --out test-artifacts/rasa-core --fail-on-prediction-errors
  echo "==> Held-out NLU evaluation (intent ≥ 0.93, service item top-1 ≥ 0.90)"
  PYTHONPATH=. .venv-rasa/bin/python scripts/eval_nlu.py --model models/current.tar.gz \
    --platform-url "http://127.0.0.1:$ERMA_PORT" --report test-artifacts/nlu-eval.json
  echo "==> End-to-end: web chat → gateway → Rasa → actions → platform (and no ID number or phone left in clear)"
  ERMA_PLATFORM_URL="http://127.0.0.1:$ERMA_PORT" RASA_URL="http://127.0.0.1:$RASA_PORT" \
    E2E_LOG_DIR="$LOG_DIR" E2E_TRACKER_DB=var/test-tracker.db \
    .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
  echo "==> Browser tests: headless Chromium at 360 px and desktop width (screenshots in test-artifacts/screenshots)"
  rm -rf test-artifacts/screenshots
  ERMA_PLATFORM_URL="http://127.0.0.1:$ERMA_PORT" RASA_URL="http://127.0.0.1:$RASA_PORT" \
    .venv/bin/python -m pytest tests/browser -q -p no:cacheprovider
  echo "==> Blind evaluation through the gateway (tests/nlu_blind/blind_v3.jsonl; behaviour ≥ 0.93, item top-1 ≥ 0.93,"
  echo "    out of scope abstained ≥ 0.95, a wrong list or application ≤ 2 % of messages)"
  .venv/bin/python scripts/eval_blind.py --platform "http://127.0.0.1:$ERMA_PORT" --rasa "http://127.0.0.1:$RASA_PORT" \
    --gate --report test-artifacts/blind-eval.json
fi
if [ "$what" = all ] || [ "$what" = scaled ]; then
  # The scaled set-up (scripts/scaled/stack.sh) on fresh databases of its own, on spare ports, and the
  # replica-kill test against it (tests/scaled). In a subshell: its processes stop when it ends.
  [ -f models/current.tar.gz ] || scripts/train.sh
  (
    echo "==> Scaled set-up: PostgreSQL, Redis, two platform processes, two Rasa replicas, two action servers, HAProxy"
    export LOG_DIR=test-artifacts/logs/scaled; rm -rf "$LOG_DIR"; mkdir -p "$LOG_DIR"
    export SCALED_PORT=${TEST_SCALED_PORT:-8500} SCALED_DB=erma_scaled_test SCALED_REDIS_DB=2 SCALED_DIR=var/scaled-test
    PIDS=()
    source scripts/services.sh   # wait_for
    source scripts/scaled/stack.sh
    trap stop_scaled EXIT
    scaled_databases --fresh
    start_scaled
    echo "==> Replica-kill test: 50 conversations; one Rasa replica and one platform process killed mid-way"
    SCALED_URL="http://127.0.0.1:$LB_PLATFORM_PORT" SCALED_DATABASE_URL="$DATABASE_URL" \
      SCALED_TRACKER_URL="postgresql+psycopg://$SCALED_PG/${SCALED_DB}_tracker" \
      SCALED_KILL="rasa1=$(scaled_pid rasa1),platform1=$(scaled_pid platform1)" \
      .venv/bin/python -m pytest tests/scaled -q -s -p no:cacheprovider
  )
fi
echo "==> All tests passed"
