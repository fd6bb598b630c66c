"""Time the heavy staff endpoints on a real HTTP server against the database of DATABASE_URL.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/erma_bench .venv/bin/python scripts/bench_pages.py
    .venv/bin/python scripts/bench_pages.py -n 30 --extra "reviewer-fengyi:/staff/review"

Starts `python -m erma serve` on a free port (one process, as `make run` does), signs the demo staff
in, warms each endpoint up, then requests it N times one after another and prints the median and
95th percentile of the wall-clock time per request in milliseconds, with the response size. Fill the
database first with scripts/seed_bench.py. The budget is 300 ms (issue 5: pages render in under
300 ms with 100,000 cases in PostgreSQL); a figure over it is marked.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "erma-demo-2026"
BUDGET_MS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def platform_server(port: int, log_name: str, timeout: float = 120, tries: int = 120,
                    workers: int = 1) -> Iterator[tuple[httpx.Client | None, int]]:
    """`python -m erma serve` on `port` (`--workers`), logging to var/<log_name>; yields (a client once
    /healthz answers, or None when it never did; the server's pid). Stops the server either way."""
    (ROOT / "var").mkdir(exist_ok=True)  # absent on a fresh clone
    with open(ROOT / "var" / log_name, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "erma", "serve", "--port", str(port),
                                   "--workers", str(workers)], cwd=ROOT,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
                for _ in range(tries):
                    try:
                        if client.get("/healthz").status_code == 200:
                            yield client, server.pid
                            return
                    except httpx.TransportError:
                        pass
                    time.sleep(0.5)
                print(f"the platform did not start; see var/{log_name}", file=sys.stderr)
                yield None, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


class CpuMeter:
    """CPU seconds used so far by the platform process and (PostgreSQL on this machine) the database's
    client backends, read from /proc. None where that cannot be read."""

    def __init__(self, server_pid: int, database_url: str):
        self.server_pid = server_pid
        self.conn = None
        if database_url.startswith("postgresql") and Path("/proc").is_dir():
            try:
                import psycopg

                self.conn = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"),
                                            autocommit=True)
                self.own = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            except Exception:  # noqa: BLE001 - the figure is optional
                self.conn = None

    @staticmethod
    def _proc_ms(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def total(self) -> float | None:
        try:
            ms = self._proc_ms(self.server_pid)
            if self.conn is not None:
                pids = [r[0] for r in self.conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> %s", (self.own,))]
                for pid in pids:
                    try:
                        ms += self._proc_ms(pid)
                    except OSError:
                        pass
            return ms
        except OSError:
            return None


def busiest(client: httpx.Client, token: str, path_fmt: str, towns: list[str]) -> str:
    """The town whose review queue is longest (the worst case a reviewer sees)."""
    sizes = {t: len(client.get(path_fmt.format(town=t), headers={"Authorization": f"Bearer {token}"}).json()["items"])
             for t in towns}
    return max(sizes, key=sizes.get)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--repeat", type=int, default=20)
    parser.add_argument("--extra", action="append", default=[],
                        help="more endpoints as user:/path (e.g. agent-nanxin-1:/staff/workbench)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    port = args.port or free_port()
    with platform_server(port, "bench-server.log", timeout=120, tries=120) as (client, server_pid):
        if client is None:
            return 1
        tokens: dict[str, str] = {}
        cookies: dict[str, httpx.Cookies] = {}

        def token(user: str) -> str:
            if user not in tokens:
                r = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
                r.raise_for_status()
                tokens[user] = r.json()["access_token"]
            return tokens[user]

        def cookie(user: str) -> httpx.Cookies:
            # The page session cookie carries the same signed staff token as the API sign-in.
            if user not in cookies:
                cookies[user] = httpx.Cookies({"erma_session": token(user)})
            return cookies[user]

        towns = [t["code"] for t in client.get("/api/v1/towns").json()["items"]]
        queue_town = busiest(client, token("admin"), "/api/v1/towns/{town}/review-queue", towns)
        year_ago = (dt.date.today() - dt.timedelta(days=364)).isoformat()
        staff = yaml.safe_load((ROOT / "catalog" / "demo_staff.yaml").read_text(encoding="utf-8"))["staff"]
        queue_user = next(s["username"] for s in staff if s["role"] == "town_reviewer" and queue_town in s["towns"])
        agent = next(s for s in staff if s["role"] == "agent")
        agent_user, agent_town = agent["username"], agent["town_code"]
        targets = [
            ("dashboard JSON, county, last 90 days", "lead-1", "/api/v1/dashboard"),
            ("dashboard JSON, county, last 365 days", "lead-1", f"/api/v1/dashboard?from={year_ago}"),
            ("dashboard JSON, one town (reviewer)", queue_user, "/api/v1/dashboard"),
            ("dashboard CSV, county, last 90 days", "lead-1", "/api/v1/dashboard.csv"),
            ("dashboard CSV, county, last 365 days", "lead-1", f"/api/v1/dashboard.csv?from={year_ago}"),
            (f"town review queue ({queue_town}, longest)", queue_user, f"/api/v1/towns/{queue_town}/review-queue"),
            ("agent's case list (GET /cases)", agent_user, "/api/v1/cases"),
            ("agent's case list, town + stage", agent_user, f"/api/v1/cases?town={agent_town}&stage=at_department"),
            ("agent inbox (queued conversations)", agent_user, "/api/v1/agent/inbox"),
            ("conversations with an agent, all the admin sees", "admin", "/api/v1/agent/conversations?mine=0"),
            ("duty lead follow-up tasks", "lead-1", "/api/v1/followup-tasks"),
            ("duty lead: overdue deferrals (lead page)", "lead-1", "/api/v1/lead/overdue-deferrals"),
            ("duty lead: poor-rating follow-ups (lead page)", "lead-1", "/api/v1/lead/followups"),
            ("duty lead: overdue cases (lead page)", "lead-1", "/api/v1/lead/overdue-cases"),
            ("staff page /staff/inbox (HTML)", "cookie:" + agent_user, "/staff/inbox"),
            ("page /staff/dashboard (figures via JSON)", "cookie:lead-1", "/staff/dashboard"),
        ]
        for extra in args.extra:
            user, _, path = extra.partition(":")
            targets.append((f"{path} ({user})", user, path))

        cpu = CpuMeter(server_pid, os.environ.get("DATABASE_URL", ""))
        print(f"{args.repeat} requests each, one at a time, after 2 warm-up requests; budget {BUDGET_MS} ms; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("cpu = CPU time per request of the platform process and its PostgreSQL connections (wall time "
              "on a busy machine includes waiting for a core; parallel query workers are not counted)")
        print(f"{'endpoint':48} {'status':>6} {'median':>8} {'p95':>8} {'max':>8} {'cpu':>8} {'size':>9}")
        over = 0
        for label, user, path in targets:
            if user.startswith("cookie:"):
                kwargs = {"cookies": cookie(user.removeprefix("cookie:"))}
            else:
                kwargs = {"headers": {"Authorization": f"Bearer {token(user)}"}}
            try:
                for _ in range(2):
                    r = client.get(path, **kwargs)
            except httpx.HTTPError as exc:
                print(f"{label:48} failed: {exc!r} (see var/bench-server.log)", flush=True)
                over += 1
                continue
            if r.status_code != 200:  # a broken page is no figure; say so and go on
                print(f"{label:48} {r.status_code:>6} (not timed)", flush=True)
                over += 1
                continue
            times = []
            cpu0 = cpu.total()
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                r = client.get(path, **kwargs)
                times.append((time.perf_counter() - t0) * 1000)
            cpu_ms = (cpu.total() - cpu0) / args.repeat if cpu0 is not None else None
            times.sort()
            med = statistics.median(times)
            p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
            flag = "  <-- over budget" if p95 > BUDGET_MS else ""
            over += bool(flag)
            print(f"{label:48} {r.status_code:>6} {med:8.1f} {p95:8.1f} {times[-1]:8.1f} "
                  f"{'' if cpu_ms is None else f'{cpu_ms:.0f}':>8} {len(r.content):>9}{flag}", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
