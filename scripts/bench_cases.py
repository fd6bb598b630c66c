"""Time opening a case and the public status lookup on a real HTTP server against the database of DATABASE_URL.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/erma_bench .venv/bin/python scripts/bench_cases.py
    .venv/bin/python scripts/bench_cases.py --open 200 --lookups 300 --clients 8 --seconds 20

Starts `python -m erma serve` on a free port or `--port` (one process, or `--workers N`), then:
1. opens `--open` cases one after another as the assistant does (`POST /api/v1/cases`, service token,
   a new applicant each time, towns in turn): the least-loaded agent is chosen for each;
2. looks up `--lookups` existing cases' status one after another (`GET /api/v1/cases/{no}/status` with
   the last four digits, the public edge), cases drawn at random from the whole table;
3. runs `--clients` threads doing the same lookups for `--seconds` seconds: lookups per second and p95.
Prints median, p95 and max in milliseconds. Fill the database first with scripts/seed_bench.py; the
cases opened here are added to it.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import bindparam, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pages import free_port, platform_server  # noqa: E402
from seed_bench import id_number  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVICE = {"Authorization": "Bearer " + os.environ.get("ERMA_SERVICE_TOKEN", "dev-service-token")}


def p95(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]


def line(label: str, times: list[float], extra: str = "") -> None:
    print(f"{label:44} n={len(times):<6} median {statistics.median(times):7.1f}  p95 {p95(times):7.1f}  "
          f"max {max(times):7.1f} ms{extra}", flush=True)


def sample_cases(url: str, k: int, rng: random.Random) -> list[tuple[str, str]]:
    """k (case number, ID number's last four) spread over the whole table, read straight from the database."""
    engine = create_engine(url)
    with engine.connect() as conn:
        low, high = conn.execute(text("SELECT MIN(id), MAX(id) FROM cases")).one()
        ids = [rng.randint(low, high) for _ in range(k * 2)]
        rows = conn.execute(text("SELECT case_no, id_last4 FROM cases WHERE id IN :ids")
                            .bindparams(bindparam("ids", expanding=True)), {"ids": ids}).all()
    engine.dispose()
    return [(no, last4) for no, last4 in rows][:k]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, default=200, help="cases to open, one at a time")
    parser.add_argument("--lookups", type=int, default=300, help="sequential status lookups")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="platform processes (`erma serve --workers`)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    url = os.environ.get("DATABASE_URL", "")

    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    with platform_server(port, "bench-cases-server.log", timeout=60, tries=240,
                         workers=args.workers) as (client, _pid):
        if client is None:
            return 1
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.workers} platform "
              f"process(es)", flush=True)
        towns = [t["name"] for t in client.get("/api/v1/towns").json()["items"]]

        # 1. opening cases
        times = []
        for i in range(args.open + 3):
            body = {"service_code": "MX-001", "applicant_name": "杨子妹", "id_number": id_number(rng, "513223"),
                    "phone": f"139{rng.randrange(10 ** 8):08d}", "hukou_town": towns[i % len(towns)],
                    "intake_point": "online", "channel": "web_chat", "conversation_id": "bench-" + uuid.uuid4().hex,
                    "materials_have": [], "repeat_confirmed": True}
            t0 = time.perf_counter()
            r = client.post("/api/v1/cases", json=body, headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex})
            elapsed = (time.perf_counter() - t0) * 1000
            if r.status_code != 201:
                print(f"opening a case: {r.status_code} {r.text[:300]}", file=sys.stderr)
                return 1
            if i >= 3:  # the first few warm the process up
                times.append(elapsed)
        line("open a case (POST /api/v1/cases)", times)

        # 2. status lookups, one at a time
        cases = sample_cases(url, max(args.lookups, 500), rng)

        def lookup(c: httpx.Client, case: tuple[str, str]) -> float:
            t0 = time.perf_counter()
            r = c.get(f"/api/v1/cases/{case[0]}/status", params={"last4": case[1]})
            if r.status_code != 200:
                raise RuntimeError(f"status lookup {case[0]}: {r.status_code} {r.text[:200]}")
            return (time.perf_counter() - t0) * 1000

        for case in cases[:3]:
            lookup(client, case)
        line("status lookup, sequential", [lookup(client, rng.choice(cases)) for _ in range(args.lookups)])

        # 3. status lookups from N clients
        results: list[list[float]] = [[] for _ in range(args.clients)]
        stop = time.monotonic() + args.seconds
        failures: list[str] = []

        def worker(n: int) -> None:
            own = random.Random(args.seed + n)
            with httpx.Client(base_url=base, timeout=60) as c:
                try:
                    while time.monotonic() < stop:
                        results[n].append(lookup(c, own.choice(cases)))
                except Exception as exc:  # noqa: BLE001 - reported below
                    failures.append(repr(exc))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - started
        every = [x for r in results for x in r]
        line(f"status lookup, {args.clients} clients", every, f"  {len(every) / took:6.0f} lookups/s")
        if failures:
            print("failures: " + "; ".join(failures[:3]), file=sys.stderr)
            return 1
        print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 0


if __name__ == "__main__":
    sys.exit(main())
