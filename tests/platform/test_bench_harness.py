"""The pure parts of `make bench` (scripts/bench/report.py): percentiles, the ratio table, the machine's
description and replacing one section of docs/benchmarks.md. No timing here."""
from __future__ import annotations

import math

import pytest

from scripts.bench import report
from scripts.bench.report import Measurement, Row


def test_percentiles_interpolate_between_closest_ranks():
    values = [40.0, 10.0, 30.0, 20.0]  # order does not matter
    assert report.percentile(values, 0) == 10
    assert report.percentile(values, 50) == 25
    assert report.percentile(values, 100) == 40
    assert report.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert report.percentile([7.0], 95) == 7
    assert math.isnan(report.percentile([], 50))
    with pytest.raises(ValueError):
        report.percentile(values, 101)


def test_throughput_counts_answered_messages_over_wall_time():
    assert Measurement([10.0] * 30, wall_s=2.0, errors=3).throughput == 15
    assert math.isnan(Measurement().throughput)


def test_table_gives_each_figure_and_its_ratio_to_the_first_row():
    stock = Row("stock bot", Measurement([20.0, 20.0, 22.0], 1.0), Measurement([100.0] * 50, wall_s=1.0))
    erma = Row("Erma, web chat", Measurement([40.0, 40.0, 44.0], 1.0),
               Measurement([1500.0] * 25, wall_s=1.0, errors=2))
    lines = report.render_table([stock, erma], 16).splitlines()
    assert lines[0] == ("| path | sequential p50 | sequential p95 | 16 concurrent: msg/s | 16 concurrent: p95 "
                        "| failed messages |")
    assert lines[2] == "| stock bot | 20 ms | 22 ms | 50.0 msg/s | 100 ms | 0 |"
    assert lines[3] == ("| Erma, web chat | 40 ms (2.00×) | 44 ms (2.00×) | 25.0 msg/s (0.50×) "
                        "| 1.50 s (15.00×) | 2 |")


def test_table_shows_a_dash_where_nothing_was_answered():
    stock = Row("stock", Measurement([20.0], 1.0), Measurement([20.0], 1.0))
    broken = Row("broken", Measurement([], 1.0, errors=6), Measurement([], 1.0, errors=24))
    assert report.render_table([stock, broken], 4).splitlines()[3] == "| broken | – | – | 0.0 msg/s (0.00×) | – | 30 |"


def test_machine_description_from_proc_files():
    cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    meminfo = "MemTotal:       24522952 kB\nMemFree:        1 kB\n"
    assert report.describe_machine(cpuinfo, 2, meminfo) == "AMD EPYC 7B13, 2 cores (nproc), 23.4 GiB memory"
    assert report.describe_machine("", 4, "") == "unknown CPU, 4 cores (nproc)"


DOC = """# Benchmarks

Intro.

## Reading a message

Old figures.

## Answering residents

Last run: 1.

## Later

Kept.
"""


def test_replacing_a_section_keeps_every_other_section():
    new = report.replace_section(DOC, "Answering residents", "Last run: 2.\n\n| a |")
    assert new == DOC.replace("Last run: 1.", "Last run: 2.\n\n| a |")
    assert report.replace_section(new, "Answering residents", "Last run: 2.\n\n| a |") == new


def test_a_missing_section_is_appended_and_a_last_section_replaced_to_the_end():
    appended = report.replace_section(DOC, "New", "Body.")
    assert appended == DOC + "\n## New\n\nBody.\n"
    assert report.replace_section(appended, "New", "Other.") == DOC + "\n## New\n\nOther.\n"
    assert report.replace_section("", "New", "Body.") == "## New\n\nBody.\n"
