#!/usr/bin/env bash
# CI's check that the README's first command works: clone this checkout into a temporary folder,
# run `make run` there in the background on spare ports, wait until the assistant answers a
# requirements question through the platform's web-chat API, then stop everything.
# Usage: scripts/smoke_run.sh [seconds to wait for the stack, default 1500]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-1500}
work=$(mktemp -d)
clone="$work/erma"
export ERMA_PORT=${SMOKE_ERMA_PORT:-8700} RASA_PORT=${SMOKE_RASA_PORT:-5705} ACTIONS_PORT=${SMOKE_ACTIONS_PORT:-5755}
unset DATABASE_URL RASA_ENDPOINTS
git clone --quiet "$PWD" "$clone"
echo "==> make run from a fresh clone ($clone), ports $ERMA_PORT / $RASA_PORT / $ACTIONS_PORT"
# Its own process group, so stopping it stops make, run.sh and the four services together.
setsid make -C "$clone" run >"$work/run.log" 2>&1 &
group=$!
cleanup() {
  kill -TERM -- "-$group" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 -- "-$group" 2>/dev/null || break; sleep 1; done
  kill -KILL -- "-$group" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

question="办身份证要带啥子材料"
start=$SECONDS
until grep -q "尔玛云 Erma Cloud is running" "$work/run.log" 2>/dev/null; do
  if ! kill -0 "$group" 2>/dev/null; then
    echo "make run stopped before the stack was up:"; tail -40 "$work/run.log"; exit 1
  fi
  if [ $((SECONDS - start)) -ge "$limit" ]; then
    echo "make run was not up after ${limit}s:"; tail -40 "$work/run.log"; exit 1
  fi
  sleep 5
done
echo "==> up after $((SECONDS - start))s; asking the assistant through the web chat: $question"
"$clone/.venv/bin/python" - "$ERMA_PORT" "$question" <<'PY'
import sys, uuid
import httpx

base, question = f"http://127.0.0.1:{sys.argv[1]}", sys.argv[2]
with httpx.Client(base_url=base, timeout=30) as client:
    opened = client.post("/chat/api/conversations")
    opened.raise_for_status()
    sent = client.post("/chat/api/messages", json={"token": opened.json()["token"], "text": question,
                                                   "client_msg_id": uuid.uuid4().hex})
    sent.raise_for_status()
    replies = [r["text"] for r in sent.json()["replies"] if r["author"] == "assistant"]
    print("\n".join(replies))
    # A requirements answer names the item and lists what to bring.
    assert any("身份证" in r and "材料" in r for r in replies), "no requirements answer from the assistant"
PY
echo "==> make run works from a fresh clone"
