#!/usr/bin/env bash
# `make run-scaled`: the scaled set-up on this machine (scripts/scaled/stack.sh says what runs where):
# the platform on PostgreSQL (two web processes and the worker), two Rasa replicas (trackers on
# PostgreSQL, locks on Redis), two action servers, and HAProxy in front of each tier.
set -euo pipefail
cd "$(dirname "$0")/../.."
export RASA_TELEMETRY_ENABLED=false
LOG_DIR=var/log/scaled; mkdir -p "$LOG_DIR"
source scripts/services.sh   # wait_for
source scripts/scaled/stack.sh
trap stop_scaled EXIT INT TERM
echo "==> Databases $SCALED_DB and ${SCALED_DB}_tracker on $SCALED_PG (created when missing), Redis db $SCALED_REDIS_DB"
scaled_databases
start_scaled
cat <<MSG

尔玛云 Erma Cloud, scaled set-up, is running (logs in $LOG_DIR/):
  resident chat    http://127.0.0.1:$LB_PLATFORM_PORT/chat    (HAProxy → platform processes :$PLATFORM1_PORT and :$PLATFORM2_PORT)
  staff sign-in    http://127.0.0.1:$LB_PLATFORM_PORT/staff/login   (demo logins as for make run)
  Rasa             http://127.0.0.1:$LB_RASA_PORT   (HAProxy → replicas :$RASA1_PORT and :$RASA2_PORT; trackers in PostgreSQL, locks in Redis)
  action servers   http://127.0.0.1:$LB_ACTIONS_PORT/health   (HAProxy → :$ACTIONS1_PORT and :$ACTIONS2_PORT)
  database         $DATABASE_URL
Press Ctrl-C to stop.
MSG
wait
