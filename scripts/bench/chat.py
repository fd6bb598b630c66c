"""Drives a stock `rasa init` bot and Erma with the same six-message conversations, one after another
and many at a time, and prints each figure with its ratio to the stock bot. `make bench` starts what
this needs (scripts/bench/run.sh); against running processes:

    .venv/bin/python -m scripts.bench.chat --platform http://127.0.0.1:8400 \
        --rasa http://127.0.0.1:5400 --stock http://127.0.0.1:5401 [--quick]

Three targets: the stock bot through Rasa's REST webhook; Erma's Rasa through the same webhook (as the
gateway calls it); Erma through the residents' path, the web chat's API as the browser uses it
(POST /chat/api/conversations for a token, then POST /chat/api/messages with it). One kept
httpx.AsyncClient per target. A conversation is opened before its timed messages (a browser opens it
when the page loads, before the resident types); only messages are timed.

A full run writes its table and the machine into a section of docs/benchmarks.md (other sections
stay); `--quick` is a smoke run and writes only var/bench/last.md unless `--docs` is given.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from scripts.bench import report

ROOT = Path(__file__).resolve().parents[2]

# The stock bot (moodbot) follows its own "sad path 1" story, then a rule (bot challenge), a mood and goodbye.
STOCK_MESSAGES = ["hello", "I am sad", "yes", "are you a bot?", "I am great", "bye"]
# A resident asks what to bring for an item (the platform's catalog through the action server), says what
# they hold (the checklist, a second action), asks whether the service costs anything, asks about a second
# item, thanks: three custom-action turns and three response turns, as in tests/stories (no form is opened).
SCALED_LABEL = "Erma scaled set-up, residents' path through HAProxy"
ERMA_MESSAGES = ["你好", "我妈满80了，高龄津贴要带啥子", "我有身份证和户口本", "代办要不要钱哦", "低保要些啥子资料", "谢谢"]


class RasaWebhook:
    """Rasa's REST channel: one sender id per conversation, the replies in the response."""

    def __init__(self, label: str, url: str, messages: list[str], metadata: dict | None = None):
        self.label, self.messages, self.metadata = label, messages, metadata
        self.client = _client(url)

    async def open(self) -> str:
        return f"bench-{uuid.uuid4().hex}"

    async def send(self, sender: str, text: str) -> list[str]:
        body = {"sender": sender, "message": text, **({"metadata": self.metadata} if self.metadata else {})}
        response = await self.client.post("/webhooks/rest/webhook", json=body)
        response.raise_for_status()
        return [m.get("text") or "[no text]" for m in response.json() if isinstance(m, dict)]


class WebChat:
    """The residents' web chat: a token per conversation, then each message with it (body and bearer)."""

    def __init__(self, label: str, url: str, messages: list[str]):
        self.label, self.messages = label, messages
        self.client = _client(url)

    async def open(self) -> str:
        response = await self.client.post("/chat/api/conversations")
        if response.status_code == 429:
            raise SystemExit("The platform refuses new conversations from this address (at most 120 in 10 "
                             "minutes): restart it, or wait, before the next run.")
        response.raise_for_status()
        return response.json()["token"]

    async def send(self, token: str, text: str) -> list[str]:
        response = await self.client.post(
            "/chat/api/messages", headers={"Authorization": f"Bearer {token}"},
            json={"token": token, "text": text, "client_msg_id": uuid.uuid4().hex})
        response.raise_for_status()
        return [e.get("text") or "[no text]" for e in response.json()["replies"] if e.get("author") != "resident"]


def _client(url: str) -> httpx.AsyncClient:
    # No proxies from the environment: every target is on this machine.
    return httpx.AsyncClient(base_url=url, trust_env=False, timeout=httpx.Timeout(120.0),
                             limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))


async def _timed(target, handle: str, text: str, into: report.Measurement) -> list[str]:
    start = time.perf_counter()
    try:
        replies = await target.send(handle, text)
    except (httpx.HTTPError, ValueError, KeyError):
        into.errors += 1
        return []
    elapsed = (time.perf_counter() - start) * 1000
    if not replies:  # no answer at all counts as a failure, not as a fast message
        into.errors += 1
    else:
        into.latencies_ms.append(elapsed)
    return replies


async def untimed(target) -> list[tuple[str, list[str]]]:
    """One untimed conversation (a warm-up, or a sample to show the bot understood); what was said."""
    handle, scratch, said = await target.open(), report.Measurement(), []
    for text in target.messages:
        said.append((text, await _timed(target, handle, text, scratch)))
    return said


async def sequential(target, conversations: int) -> report.Measurement:
    handles = [await target.open() for _ in range(conversations)]
    measured = report.Measurement()
    start = time.perf_counter()
    for handle in handles:
        for text in target.messages:
            await _timed(target, handle, text, measured)
    measured.wall_s = time.perf_counter() - start
    return measured


async def concurrent(target, workers: int, each: int) -> report.Measurement:
    """`workers` conversations at a time, each worker holding `each` conversations one after another."""
    handles = [[await target.open() for _ in range(each)] for _ in range(workers)]
    measured = report.Measurement()

    async def worker(mine: list[str]) -> None:
        for handle in mine:
            for text in target.messages:
                await _timed(target, handle, text, measured)

    start = time.perf_counter()
    await asyncio.gather(*(worker(mine) for mine in handles))
    measured.wall_s = time.perf_counter() - start
    return measured


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> str:
    return report.describe_machine(Path("/proc/cpuinfo").read_text(), os.cpu_count() or 0,
                                   Path("/proc/meminfo").read_text())


def section(args, table: str, load_before: str) -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " with uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no") else ""
    kind = "**quick smoke run — not a measurement**" if args.quick else "full run"
    return "\n".join([
        f"The last `make bench` result, replaced by each run ({kind}); scripts/bench/.",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; commit {commit}{dirty}",
        f"- machine: {machine()}; load average before the run: {load_before}",
        f"- command: `{args.command}`",
        f"- stock bot: `rasa init --no-prompt` (Rasa 3.6.21, its default in-memory tracker store, no action "
        f"server), messages: {' / '.join(STOCK_MESSAGES)}",
        f"- Erma: platform on SQLite, worker, action server, Rasa with its SQLite tracker store (as `make test` "
        f"starts them), messages: {' / '.join(ERMA_MESSAGES)}",
        f"- sequential: {args.sequential} conversations × 6 messages one after another, after a warm-up and a "
        f"sample conversation per target; concurrent: {args.concurrency} conversations at a time, {args.each} after another "
        f"in each ({args.concurrency * args.each * 6} messages); one kept HTTP client per target; "
        "ratios are to the stock bot in the same run",
        *([f"- scaled set-up (`make run-scaled`, scripts/scaled/): HAProxy in front of two platform processes on "
            f"PostgreSQL, two Rasa replicas (trackers in PostgreSQL, locks in Redis) and two action servers; the same "
            f"messages through its web chat"] if args.scaled else []),
        "- Erma's sample conversation: " + ("the same answers through Rasa directly and through the web chat"
                                            if args.same_answers else "**different answers through Rasa directly "
                                            "and through the web chat: a path measured a failure**"),
        "",
        table,
    ])


async def main(args) -> int:
    load_before = Path("/proc/loadavg").read_text().split()[0]
    targets = [RasaWebhook("stock `rasa init` bot, Rasa webhook", args.stock, STOCK_MESSAGES),
               RasaWebhook("Erma, Rasa webhook directly", args.rasa, ERMA_MESSAGES, {"channel": "web_chat"}),
               WebChat("Erma, residents' path `POST /chat/api/messages`", args.platform, ERMA_MESSAGES)]
    if args.scaled:
        targets.append(WebChat(SCALED_LABEL, args.scaled, ERMA_MESSAGES))
    try:
        print("==> Warm-up: one conversation per target", flush=True)
        for target in targets:  # the first answers after a start are slow (models and caches load)
            await untimed(target)
        samples = {}
        for target in targets:
            print(f"==> Sample conversation: {target.label}")
            samples[target.label] = await untimed(target)
            for text, replies in samples[target.label]:
                print(f"    {text} → {(replies[0] if replies else '(no reply)')[:60]!r}"
                      + (f" (+{len(replies) - 1})" if len(replies) > 1 else ""))
        # The same bot through both paths must say the same: else one path measures a failure.
        args.same_answers = samples[targets[1].label] == samples[targets[2].label]
        if not args.same_answers:
            print("WARNING: Erma answered the sample conversation differently through Rasa and through the "
                  "web chat; look at var/bench/logs before trusting the figures")
        seq = {}
        for target in targets:
            print(f"==> Sequential, {args.sequential} conversations: {target.label}", flush=True)
            seq[target.label] = await sequential(target, args.sequential)
        rows = []
        for target in targets:
            print(f"==> {args.concurrency} concurrent × {args.each}: {target.label}", flush=True)
            rows.append(report.Row(target.label, seq[target.label],
                                   await concurrent(target, args.concurrency, args.each)))
    finally:
        for target in targets:
            await target.client.aclose()
    table = report.render_table(rows, args.concurrency)
    if args.scaled:
        single, scaled = rows[2].concurrent, rows[3].concurrent
        table += (f"\n\nThe scaled set-up against the single instance (residents' path, {args.concurrency} concurrent): "
                  f"{scaled.throughput:.1f} ÷ {single.throughput:.1f} msg/s = "
                  f"**{scaled.throughput / single.throughput:.2f}×** (target ≥ 1.3×).")
    print()
    print(table)
    text = section(args, table, load_before)
    last = ROOT / "var/bench/last.md"
    last.parent.mkdir(parents=True, exist_ok=True)
    last.write_text(f"## {report.SECTION_TITLE}\n\n{text}\n", encoding="utf-8")
    docs = args.docs or (None if args.quick else ROOT / "docs/benchmarks.md")
    if docs:
        docs = Path(docs)
        docs.write_text(report.replace_section(docs.read_text(encoding="utf-8") if docs.exists() else "",
                                               report.SECTION_TITLE, text), encoding="utf-8")
        print(f"\nWritten to {docs} (and {last.relative_to(ROOT)})")
    else:
        print(f"\nWritten to {last.relative_to(ROOT)} (a quick run leaves docs/benchmarks.md alone)")
    return 1 if any(r.sequential.errors or r.concurrent.errors for r in rows) else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", default="http://127.0.0.1:8400", help="Erma's platform (web chat)")
    parser.add_argument("--rasa", default="http://127.0.0.1:5400", help="Erma's Rasa")
    parser.add_argument("--stock", default="http://127.0.0.1:5401", help="the stock rasa init bot")
    parser.add_argument("--scaled", help="the scaled set-up's platform (its load balancer), a fourth target")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 conversations sequential, 4 concurrent × 1; docs left alone")
    parser.add_argument("--sequential", type=int, help="conversations one after another (10; quick 2)")
    parser.add_argument("--concurrency", type=int, help="conversations at a time (16; quick 4)")
    parser.add_argument("--each", type=int, help="conversations per concurrent worker (4; quick 1)")
    parser.add_argument("--docs", help="markdown file whose bench section is replaced (docs/benchmarks.md)")
    parser.add_argument("--command", default="make bench", help="the command recorded with the result")
    args = parser.parse_args(argv)
    defaults = (2, 4, 1) if args.quick else (10, 16, 4)
    args.sequential = args.sequential or defaults[0]
    args.concurrency = args.concurrency or defaults[1]
    args.each = args.each or defaults[2]
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
