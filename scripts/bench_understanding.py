"""What reading a message costs the resident's path (issue 11: latency may grow ≤ 10 %).

Against a running stack, in one run: each message goes through the gateway (channel API → the
platform reads it → Rasa → actions → replies), one at a time, and the same message is read by the
platform alone (`POST /api/v1/understand`), and an empty text through the same endpoint (the same
HTTP round trip, sign-in check and catalog lookup, without the reading) as the reference: the
reading costs the difference. Prints the medians and what the reading adds to an answer.

    .venv/bin/python scripts/bench_understanding.py --platform http://127.0.0.1:8000 [--n 200]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "catalog" / "resident_voice" / "retired_blind_v1.jsonl"  # training text: any will do


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", default=os.environ.get("ERMA_PLATFORM_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    base = args.platform.rstrip("/")
    auth = {"Authorization": f"Bearer {os.environ.get('ERMA_SERVICE_TOKEN', 'dev-service-token')}"}
    texts = [json.loads(line)["text"] for line in MESSAGES.read_text(encoding="utf-8").splitlines()
             if line.strip()][: args.n]
    whole, reading, empty = [], [], []
    with httpx.Client(timeout=60) as client:
        for i, text in enumerate(texts):
            cid = client.post(f"{base}/api/v1/conversations", json={"channel": "web_chat"}, headers=auth).json()["id"]
            started = time.perf_counter()
            r = client.post(f"{base}/api/v1/conversations/{cid}/messages",
                            json={"text": text, "client_msg_id": uuid.uuid4().hex}, headers=auth)
            whole.append(time.perf_counter() - started)
            r.raise_for_status()
            started = time.perf_counter()
            client.post(f"{base}/api/v1/understand", json={"text": text}, headers=auth).raise_for_status()
            reading.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.post(f"{base}/api/v1/understand", json={"text": ""}, headers=auth).raise_for_status()
            empty.append(time.perf_counter() - started)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{len(texts)}", flush=True)
    w, u, e = statistics.median(whole), statistics.median(reading), statistics.median(empty)
    cost = max(u - e, 0.0)
    print(json.dumps({"messages": len(texts), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                      "median_answer_ms": round(w * 1000, 1), "median_understand_call_ms": round(u * 1000, 1),
                      "median_empty_call_ms": round(e * 1000, 1), "reading_ms": round(cost * 1000, 1),
                      "growth_of_an_answer": round(cost / (w - cost), 3)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
