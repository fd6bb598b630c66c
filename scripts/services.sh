#!/usr/bin/env bash
# Starting and stopping the four processes (platform, worker, action server, Rasa).
# Sourced by run.sh and test.sh; they set DATABASE_URL, ports and the log folder first.

ERMA_PORT=${ERMA_PORT:-8000}
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
PIDS=()
# Rasa proves itself to the action server with this (endpoints.yml, actions/access.py).
export ACTIONS_TOKEN=${ACTIONS_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}

start_platform() {
  # The gateway forwards residents' messages to this Rasa (RASA_URL in erma/settings.py).
  export RASA_URL="http://127.0.0.1:$RASA_PORT"
  # Two web processes by default (ERMA_WEB_WORKERS): the residents' path and the actions' API calls do
  # not queue behind one another's CPU work (the understanding, templates).
  .venv/bin/python -m erma serve --port "$ERMA_PORT" --workers "${ERMA_WEB_WORKERS:-2}" \
    >"$LOG_DIR/platform.log" 2>&1 & PIDS+=($!)
  .venv/bin/python -m erma worker >"$LOG_DIR/worker.log" 2>&1 & PIDS+=($!)
}

start_assistant() {
  local auth=() endpoints=${RASA_ENDPOINTS:-}
  if [ -z "$endpoints" ]; then  # the action server's port may not be the default one
    endpoints=var/endpoints.local.yml
    sed -e "s#localhost:5055#127.0.0.1:$ACTIONS_PORT#" endpoints.yml >"$endpoints"
  fi
  if [ -n "${RASA_AUTH_TOKEN:-}" ]; then auth=(--auth-token "$RASA_AUTH_TOKEN"); fi
  # rasa_sdk binds SANIC_HOST (all interfaces by default): only this machine's Rasa may call it.
  SANIC_HOST=${ACTIONS_INTERFACE:-127.0.0.1} ERMA_PLATFORM_URL="http://127.0.0.1:$ERMA_PORT" PYTHONPATH=. .venv-rasa/bin/rasa run actions \
    --actions actions --port "$ACTIONS_PORT" >"$LOG_DIR/actions.log" 2>&1 & PIDS+=($!)
  PYTHONPATH=. .venv-rasa/bin/rasa run --enable-api "${auth[@]}" -i "${RASA_INTERFACE:-127.0.0.1}" \
    --port "$RASA_PORT" --model models/current.tar.gz --endpoints "$endpoints" \
    --credentials credentials.yml >"$LOG_DIR/rasa.log" 2>&1 & PIDS+=($!)
}

wait_for() {  # url, name, seconds
  local url=$1 name=$2 limit=${3:-120} i=0
  printf '==> Waiting for %s ' "$name"
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge "$limit" ]; then echo " not up after ${limit}s; see $LOG_DIR"; return 1; fi
    printf '.'; sleep 1
  done
  echo " up"
}

stop_all() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
