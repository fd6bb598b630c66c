"""Reminders and overdue escalation fire once each, even with two worker processes racing."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from erma.deferral.models import Deferral
from erma.followup.models import FollowUpTask
from erma.pushes.models import Notice
from erma.outbox.models import OutboxMessage
from erma.outbox.worker import run_once
from tests.platform.conftest import holder

ROOT = Path(__file__).resolve().parents[2]
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"


def _deferred_cases(client, login, open_case, n):
    reviewer = login("reviewer-chibusu")
    for _ in range(n):
        no = open_case(service_code="MX-013")["case_no"]
        client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json={"decision": "approve"})
        r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login(holder(no)))
        assert r.status_code == 201, r.text


def _count(db, stmt):
    with db() as s:
        return s.scalar(stmt)


def test_reminder_then_escalation_to_the_duty_lead(client, login, open_case, db):
    _deferred_cases(client, login, open_case, 1)
    with db() as s:
        deferral = s.scalar(select(Deferral))
        reminder_due = s.scalar(select(OutboxMessage.due_at).where(OutboxMessage.kind == "deferral_reminder"))
    before = dt.datetime.now(dt.timezone.utc)
    assert run_once(db, now=before) == 0, "nothing is due yet"
    assert run_once(db, now=reminder_due.replace(tzinfo=dt.timezone.utc) + dt.timedelta(minutes=1)) == 1
    assert _count(db, select(func.count(Notice.id)).where(Notice.kind == "deferral_reminder")) == 2  # resident + agent
    after_deadline = dt.datetime.combine(deferral.deadline + dt.timedelta(days=2), dt.time(12), tzinfo=dt.timezone.utc)
    assert run_once(db, now=after_deadline) == 1
    with db() as s:
        task = s.scalar(select(FollowUpTask))
        assert s.get(Deferral, deferral.id).status == "overdue"
    assert task.kind == "deferral_overdue" and task.assignee_id is not None
    assert run_once(db, now=after_deadline + dt.timedelta(days=5)) == 0, "each fires once"


def test_no_escalation_when_supplied_in_time(client, login, open_case, db):
    _deferred_cases(client, login, open_case, 1)
    with db() as s:
        no = s.execute(select(Deferral.deadline)).scalar()
    from erma.cases.models import Case

    case_no = _count(db, select(Case.case_no))
    client.post(f"/api/v1/cases/{case_no}/deferral/supplement", json={}, headers=login(holder(case_no)))
    far = dt.datetime.combine(no + dt.timedelta(days=30), dt.time(12), tzinfo=dt.timezone.utc)
    run_once(db, now=far)
    assert _count(db, select(func.count(FollowUpTask.id))) == 0
    assert _count(db, select(func.count(Notice.id)).where(Notice.kind == "deferral_reminder")) == 0
    assert _count(db, select(func.count(OutboxMessage.id)).where(OutboxMessage.status != "done")) == 0


def _race(migrated, now: dt.datetime) -> list[int]:
    """Two worker processes drain the outbox at the same time; returns what each handled."""
    code = ("import datetime as dt, sys\n"
            "from erma.db import get_sessionmaker\nfrom erma.outbox.worker import run_once\n"
            "from erma.wiring import wire\nwire()\n"  # as `python -m erma worker` does
            f"now = dt.datetime.fromisoformat({now.isoformat()!r})\n"
            "total = 0\n"
            "for _ in range(30):\n"
            "    total += run_once(get_sessionmaker(), me=sys.argv[1], now=now, batch=2)\n"
            "print(total)\n")
    env = {**os.environ, "DATABASE_URL": migrated, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, f"w{i}"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return [int(out.strip().splitlines()[-1]) for out, _ in outs]


def test_two_worker_processes_fire_each_message_once(client, login, open_case, db, migrated):
    n = 12
    _deferred_cases(client, login, open_case, n)
    with db() as s:
        reminder_due = max(s.scalars(select(OutboxMessage.due_at).where(OutboxMessage.kind == "deferral_reminder")))
        deadline = s.scalar(select(func.max(Deferral.deadline)))
    reminders = _race(migrated, reminder_due.replace(tzinfo=dt.timezone.utc) + dt.timedelta(minutes=1))
    assert sum(reminders) == n, reminders
    assert _count(db, select(func.count(Notice.id)).where(Notice.kind == "deferral_reminder")) == 2 * n
    assert _count(db, select(func.count(FollowUpTask.id))) == 0
    overdue = _race(migrated, dt.datetime.combine(deadline + dt.timedelta(days=3), dt.time(12), tzinfo=dt.timezone.utc))
    assert sum(overdue) == n, overdue
    assert _count(db, select(func.count(FollowUpTask.id)).where(FollowUpTask.kind == "deferral_overdue")) == n
    assert _count(db, select(func.count(Notice.id)).where(Notice.kind == "deferral_reminder")) == 2 * n
    assert _count(db, select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "done")) == 2 * n
    with db() as s:
        assert set(s.scalars(select(OutboxMessage.claimed_by))) <= {"w0", "w1"}
