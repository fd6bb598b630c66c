#!/usr/bin/env bash
# `make run`: platform, outbox worker, action server and Rasa on the embedded default (SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
LOG_DIR=var/log; mkdir -p "$LOG_DIR"
if [ "${RASA_INTERFACE:-127.0.0.1}" != "127.0.0.1" ] && [ -z "${RASA_AUTH_TOKEN:-}" ]; then
  echo "Rasa would listen on ${RASA_INTERFACE} without a token: set RASA_AUTH_TOKEN." >&2; exit 1
fi
source scripts/services.sh
trap stop_all EXIT INT TERM
start_platform
wait_for "http://127.0.0.1:$ERMA_PORT/healthz" platform 60
start_assistant
wait_for "http://127.0.0.1:$ACTIONS_PORT/health" "action server" 120
wait_for "http://127.0.0.1:$RASA_PORT/status${RASA_AUTH_TOKEN:+?token=$RASA_AUTH_TOKEN}" Rasa 300
cat <<MSG

尔玛云 Erma Cloud is running (logs in $LOG_DIR/):
  resident chat    http://127.0.0.1:$ERMA_PORT/chat   (mobile web chat; WeChat callback: /channels/wechat)
  staff sign-in    http://127.0.0.1:$ERMA_PORT/staff/login
  platform API     http://127.0.0.1:$ERMA_PORT/docs   (OpenAPI: /openapi.json, health: /healthz)
  Rasa             http://127.0.0.1:$RASA_PORT   (loopback only; the platform's gateway forwards residents' messages)
  action server    http://127.0.0.1:$ACTIONS_PORT/health   (/webhook answers Rasa only: ACTIONS_TOKEN)
  service token    ${ERMA_SERVICE_TOKEN:-dev-service-token}   (Authorization: Bearer …)
  service guide    http://127.0.0.1:$ERMA_PORT/services   (public, no sign-in; Open311: /open311/v2/services.json)

Demo logins at /staff/login (password erma-demo-2026; demo data in catalog/demo_staff.yaml):
  county admin     admin              → /staff/admin, /staff/dashboard
  duty lead        lead-1 (also lead-2, lead-3)  → /staff/lead, /staff/dashboard
  town reviewer    reviewer-chibusu (赤不苏镇; one per town, e.g. reviewer-tumen) → /staff/review
  agent            agent-chibusu-1 (two per town except 凤仪镇) → /staff/inbox, /staff/cases
  counter clerk    clerk-tumen-taian (村便民服务站; also clerk-weimen 镇中心, clerk-county-chibusu 县窗口) → /staff/intake
  API clients: POST /api/v1/auth/login {"username": "...", "password": "..."} → bearer token

Try the assistant: open http://127.0.0.1:$ERMA_PORT/chat and ask “低保要带些啥子”. Residents reach Rasa
only through the platform's gateway, which replaces ID numbers and phones by references first.
Press Ctrl-C to stop.
MSG
wait
