"""Fuzzing the platform's HTTP API from its own OpenAPI document (schemathesis + hypothesis), in
process through the ASGI application: no network, no server to start.

`fuzz(app, headers, requests=N)` sends at least N generated requests (valid and deliberately invalid
ones, spread over every operation) with the given credentials and returns what came back. A status
of 500 or more, or an exception escaping the application, is a failure; everything else (401, 403,
404, 409, 413, 422, 429 …) is the application refusing bad input, which is what it should do.
"""
from __future__ import annotations

import collections
import dataclasses
import random
import time

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

# Not fuzzed: they end the caller's own session, after which every other request is merely a 401.
SKIPPED = {("POST", "/api/v1/auth/logout")}
# A generous per-request deadline; the event stream is cut by schemathesis after a few events.
REQUEST_TIMEOUT_SECONDS = 20


@dataclasses.dataclass
class Report:
    requests: int = 0
    statuses: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failures: list[str] = dataclasses.field(default_factory=list)  # one line per 5xx or exception
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        by_class = collections.Counter(f"{s // 100}xx" for s in self.statuses.elements())
        return (f"{self.requests} requests in {self.seconds:.0f}s, {self.server_errors} server errors; "
                f"{dict(sorted(by_class.items()))}")


def load_schema(app) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations(schema, prefix: str) -> list:
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if (op.method.upper(), op.path) not in SKIPPED and op.path.startswith(prefix)]


def _send(case, headers: dict, report: Report) -> None:
    report.requests += 1
    label = f"{case.method.upper()} {case.formatted_path}"
    try:
        response = case.call(headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - an exception escaping the app is what we are looking for
        report.statuses[599] += 1
        report.failures.append(f"{label} query={case.query!r} body={_short(case.body)}: "
                               f"{type(exc).__name__}: {_short(exc)}")
        return
    report.statuses[response.status_code] += 1
    if response.status_code >= 500:
        report.failures.append(f"{label} query={case.query!r} headers={_short(case.headers)} "
                               f"body={_short(case.body)} -> {response.status_code} {_short(response.text)}")


def _short(value: object, limit: int = 300) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def _run_operation(op, mode: GenerationMode, examples: int, headers: dict, report: Report,
                   path_parameters: dict | None = None) -> None:
    @seed(random.getrandbits(64))  # explicit, so hypothesis does not print how to reproduce each run
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(case=op.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case) -> None:
        _send(case, headers, report)

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (an operation without parameters or body)
        pass


def _path_names(op) -> set[str]:
    return {p.name for p in op.path_parameters}


def _plan(operations: list, known: dict) -> list[tuple]:
    """(operation, mode, fixed path parameters or None): every operation with generated path
    parameters, and again with `known` ones (an existing case, conversation …) when it has them all,
    so that generated bodies and queries reach the code behind the 404."""
    plan = []
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            plan.append((op, mode, None))
            names = _path_names(op)
            if names and names <= known.keys():
                plan.append((op, mode, {name: known[name] for name in names}))
    return plan


def fuzz(app, headers: dict, requests: int, *, prefix: str = "/", known: dict | None = None,
         time_limit: float | None = None) -> Report:
    """At least `requests` requests (or until `time_limit` seconds), round after round over every
    operation whose path starts with `prefix`, half of them valid by the schema and half not."""
    operations = _operations(load_schema(app), prefix)
    report = Report()
    started = time.monotonic()
    plan = _plan(operations, known or {})
    per_step = max(2, requests // len(plan))
    # Steps still worth asking for: hypothesis finds nothing invalid to send for an operation whose
    # only parameters are free-form strings, and each attempt costs seconds.
    while report.requests < requests and plan:
        productive = []
        for op, mode, fixed in plan:
            before = report.requests
            _run_operation(op, mode, per_step, headers, report, fixed)
            if report.requests > before:
                productive.append((op, mode, fixed))
            if time_limit is not None and time.monotonic() - started > time_limit:
                report.seconds = time.monotonic() - started
                return report
        plan = productive
    report.seconds = time.monotonic() - started
    return report
