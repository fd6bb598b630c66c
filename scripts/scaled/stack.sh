#!/usr/bin/env bash
# The scaled set-up (issue 15), sourced by scripts/scaled/run.sh (`make run-scaled`) and by
# scripts/test.sh (the replica-kill test): the platform on PostgreSQL with two web processes and the
# outbox worker, Rasa twice with its tracker store on PostgreSQL and its lock store on Redis, two action
# servers, and HAProxy (Debian's package) in front of each tier (scripts/scaled/haproxy.cfg).
#
# Everything listens on 127.0.0.1, on ports counted from SCALED_PORT (default 8300):
#   +0 platform (load balancer)  +1, +2 the two platform processes
#   +10 Rasa (load balancer)     +11, +12 the two Rasa replicas
#   +20 actions (load balancer)  +21, +22 the two action servers
# Databases: SCALED_DB (default erma_scaled) for the platform and SCALED_DB_tracker for Rasa, on
# PostgreSQL at SCALED_PG (default postgres@127.0.0.1:5432, created when missing); Redis at
# 127.0.0.1:6379, database SCALED_REDIS_DB (default 1), for Rasa's conversation locks.
# Logs go to SCALED_LOGS (default LOG_DIR, which the caller sets); `scaled_pid NAME` gives a process's pid (the replica-kill test uses it).

SCALED_PORT=${SCALED_PORT:-8300}
SCALED_DB=${SCALED_DB:-erma_scaled}
SCALED_PG=${SCALED_PG:-postgres@127.0.0.1:5432}
SCALED_REDIS_DB=${SCALED_REDIS_DB:-1}
SCALED_DIR=${SCALED_DIR:-var/scaled}
SCALED_LOGS=${SCALED_LOGS:-$LOG_DIR}
mkdir -p "$SCALED_LOGS"
export LB_PLATFORM_PORT=$SCALED_PORT PLATFORM1_PORT=$((SCALED_PORT + 1)) PLATFORM2_PORT=$((SCALED_PORT + 2))
export LB_RASA_PORT=$((SCALED_PORT + 10)) RASA1_PORT=$((SCALED_PORT + 11)) RASA2_PORT=$((SCALED_PORT + 12))
export LB_ACTIONS_PORT=$((SCALED_PORT + 20)) ACTIONS1_PORT=$((SCALED_PORT + 21)) ACTIONS2_PORT=$((SCALED_PORT + 22))
export DATABASE_URL="postgresql+psycopg://$SCALED_PG/$SCALED_DB"
# Rasa's trackers, which the outbox worker purges of events past the retention period (erma/conversations/trackers.py).
export ERMA_TRACKER_URL="postgresql+psycopg://$SCALED_PG/${SCALED_DB}_tracker"
export ACTIONS_TOKEN=${ACTIONS_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
# Every process reaches the others through their load balancer only.
export RASA_URL="http://127.0.0.1:$LB_RASA_PORT"
export ERMA_PLATFORM_URL="http://127.0.0.1:$LB_PLATFORM_PORT"
# A replica that dies holding a conversation's lock (Redis) frees it after this many seconds (Rasa's
# default is 60); a turn takes well under a second.
export TICKET_LOCK_LIFETIME=${TICKET_LOCK_LIFETIME:-10}
# The gateway's wait for an answer: when one Rasa replica is gone the other answers every conversation,
# one message at a time on its event loop, so answers queue for a while (make test's stack waits 60 s too).
export RASA_TIMEOUT_SECONDS=${RASA_TIMEOUT_SECONDS:-60}
# The actions' calls to the platform (default 5 s): while a platform process is down the other one
# carries every call for a while; a slow answer is still an answer, a timeout loses the resident's reply.
export ERMA_PLATFORM_TIMEOUT=${ERMA_PLATFORM_TIMEOUT:-20}
declare -A SCALED_PIDS=()

scaled_pid() { echo "${SCALED_PIDS[$1]:-}"; }

_pg_host() { echo "${SCALED_PG#*@}" | cut -d: -f1; }
_pg_port() { echo "${SCALED_PG##*:}"; }
_pg_user() { echo "${SCALED_PG%%@*}"; }

scaled_databases() {  # [--fresh]: drop them first (the tests start from nothing)
  local db
  for db in "$SCALED_DB" "${SCALED_DB}_tracker"; do
    if [ "${1:-}" = --fresh ]; then
      psql -q -h "$(_pg_host)" -p "$(_pg_port)" -U "$(_pg_user)" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    fi
    if ! psql -tA -h "$(_pg_host)" -p "$(_pg_port)" -U "$(_pg_user)" -d postgres \
         -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      psql -q -h "$(_pg_host)" -p "$(_pg_port)" -U "$(_pg_user)" -d postgres -c "CREATE DATABASE $db"
    fi
  done
  if [ "${1:-}" = --fresh ]; then
    redis-cli -n "$SCALED_REDIS_DB" --scan --pattern "${SCALED_DB//_/}:*" | xargs -r redis-cli -n "$SCALED_REDIS_DB" DEL >/dev/null
  fi
  .venv/bin/python -m erma setup >"$SCALED_LOGS/setup.log" 2>&1 || { cat "$SCALED_LOGS/setup.log" >&2; return 1; }
}

_scaled_endpoints() {
  mkdir -p "$SCALED_DIR"
  cat >"$SCALED_DIR/endpoints.yml" <<YAML
# Written by scripts/scaled/stack.sh: Rasa replicas share their conversations through PostgreSQL and
# their locks through Redis, and call the action servers through the load balancer.
action_endpoint:
  url: "http://127.0.0.1:$LB_ACTIONS_PORT/webhook"
  token: "$ACTIONS_TOKEN"
tracker_store:
  # Rasa's SQL store unchanged on PostgreSQL; naming it loads rasa_plugins (the action-result check).
  type: rasa_plugins.tracker_store.ErmaSQLTrackerStore
  dialect: postgresql
  url: "$(_pg_host)"
  port: $(_pg_port)
  db: "${SCALED_DB}_tracker"
  username: "$(_pg_user)"
lock_store:
  # Rasa's Redis store, its waiting messages keeping their tickets (rasa_plugins/lock_store.py): with
  # Rasa's own, a message resent the instant its replica died waited for ever.
  type: rasa_plugins.lock_store.ErmaRedisLockStore
  url: 127.0.0.1
  port: 6379
  db: $SCALED_REDIS_DB
  key_prefix: "${SCALED_DB//_/}"  # Rasa takes letters and digits only (else its default, shared by all)
YAML
}

start_scaled_platform() {  # NAME PORT
  .venv/bin/python -m erma serve --port "$2" --workers 1 >>"$SCALED_LOGS/$1.log" 2>&1 & SCALED_PIDS[$1]=$!
}

start_scaled_rasa() {  # NAME PORT
  PYTHONPATH=. .venv-rasa/bin/rasa run --enable-api -i 127.0.0.1 --port "$2" --model models/current.tar.gz \
    --endpoints "$SCALED_DIR/endpoints.yml" --credentials credentials.yml >>"$SCALED_LOGS/$1.log" 2>&1 & SCALED_PIDS[$1]=$!
}

start_scaled_actions() {  # NAME PORT
  SANIC_HOST=127.0.0.1 PYTHONPATH=. .venv-rasa/bin/rasa run actions --actions actions --port "$2" \
    >>"$SCALED_LOGS/$1.log" 2>&1 & SCALED_PIDS[$1]=$!
}

start_scaled() {
  command -v haproxy >/dev/null || { echo "haproxy is missing: run scripts/setup_system.sh --scaled" >&2; return 1; }
  _scaled_endpoints
  haproxy -db -f scripts/scaled/haproxy.cfg >"$SCALED_LOGS/haproxy.log" 2>&1 & SCALED_PIDS[haproxy]=$!
  start_scaled_platform platform1 "$PLATFORM1_PORT"
  start_scaled_platform platform2 "$PLATFORM2_PORT"
  .venv/bin/python -m erma worker >"$SCALED_LOGS/worker.log" 2>&1 & SCALED_PIDS[worker]=$!
  wait_for "http://127.0.0.1:$PLATFORM1_PORT/healthz" "platform 1" 60
  wait_for "http://127.0.0.1:$PLATFORM2_PORT/healthz" "platform 2" 60
  start_scaled_actions actions1 "$ACTIONS1_PORT"
  start_scaled_actions actions2 "$ACTIONS2_PORT"
  start_scaled_rasa rasa1 "$RASA1_PORT"
  start_scaled_rasa rasa2 "$RASA2_PORT"
  wait_for "http://127.0.0.1:$ACTIONS1_PORT/health" "action server 1" 120
  wait_for "http://127.0.0.1:$ACTIONS2_PORT/health" "action server 2" 120
  wait_for "http://127.0.0.1:$RASA1_PORT/status" "Rasa 1" 300
  wait_for "http://127.0.0.1:$RASA2_PORT/status" "Rasa 2" 300
  wait_for "http://127.0.0.1:$LB_PLATFORM_PORT/healthz" "the load balancer" 30
}

stop_scaled() {  # waits for its own processes only (the bench stops the single instance itself)
  local pid
  for pid in "${SCALED_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SCALED_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
