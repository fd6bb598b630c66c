"""The pure parts of `make bench`: percentiles, the figures of one run, the ratio table, the
machine's description and the section of docs/benchmarks.md that holds the last result.

Nothing here does I/O; scripts/bench/chat.py measures and writes, tests/platform/test_bench_harness.py
checks these functions.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

SECTION_TITLE = "Answering residents against a stock Rasa bot (issue 15, `make bench`)"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Measurement:
    """One target driven one way: per-message latencies of the answered messages, the wall time of
    the whole run, and the messages that failed (an HTTP error or no reply at all)."""
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: int = 0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)

    @property
    def throughput(self) -> float:
        """Answered messages per second of wall time."""
        return len(self.latencies_ms) / self.wall_s if self.wall_s > 0 else math.nan


@dataclass
class Row:
    label: str
    sequential: Measurement
    concurrent: Measurement


def _ms(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _ratio(value: float, reference: float) -> str:
    if math.isnan(value) or math.isnan(reference) or reference == 0:
        return ""
    return f" ({value / reference:.2f}×)"


def render_table(rows: list[Row], concurrency: int) -> str:
    """A markdown table; the first row is the reference every other row's ratio is taken against."""
    ref = rows[0]
    lines = [f"| path | sequential p50 | sequential p95 | {concurrency} concurrent: msg/s | "
             f"{concurrency} concurrent: p95 | failed messages |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        is_ref = row is ref
        seq, con = row.sequential, row.concurrent
        throughput = "–" if math.isnan(con.throughput) else f"{con.throughput:.1f} msg/s"
        lines.append(
            f"| {row.label} "
            f"| {_ms(seq.p50)}{'' if is_ref else _ratio(seq.p50, ref.sequential.p50)} "
            f"| {_ms(seq.p95)}{'' if is_ref else _ratio(seq.p95, ref.sequential.p95)} "
            f"| {throughput}{'' if is_ref else _ratio(con.throughput, ref.concurrent.throughput)} "
            f"| {_ms(con.p95)}{'' if is_ref else _ratio(con.p95, ref.concurrent.p95)} "
            f"| {seq.errors + con.errors} |")
    return "\n".join(lines)


def describe_machine(cpuinfo: str, nproc: int, meminfo: str) -> str:
    """E.g. "AMD EPYC, 2 cores (nproc), 23.4 GiB memory" from /proc/cpuinfo and /proc/meminfo texts."""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    total = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo, re.MULTILINE)
    parts = [model.group(1).strip() if model else "unknown CPU", f"{nproc} cores (nproc)"]
    if total:
        parts.append(f"{int(total.group(1)) / 1024 ** 2:.1f} GiB memory")
    return ", ".join(parts)


def replace_section(document: str, title: str, body: str) -> str:
    """`document` with its `## title` section (up to the next `## ` heading) replaced by `body`;
    appended at the end when there is no such section. Every other section stays as it was."""
    heading = f"## {title}"
    lines = document.splitlines()
    section = f"{heading}\n\n{body.strip()}\n"
    try:
        start = lines.index(heading)
    except ValueError:
        return document.rstrip("\n") + "\n\n" + section if document.strip() else section
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before = "\n".join(lines[:start]).rstrip("\n")
    after = "\n".join(lines[end:])
    return (before + "\n\n" if before else "") + section + ("\n" + after + "\n" if after else "")
