"""Fill the database of DATABASE_URL with N realistic cases for benchmarks (default 100,000).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/erma_bench .venv/bin/python scripts/seed_bench.py
    .venv/bin/python scripts/seed_bench.py -n 20000 --days 180 --seed 7

The cases spread over the county's towns and all 109 items, opened over the last `--days` days,
each walked through the lifecycle as far as its age allows: town review (approve / return for
correction and resubmit / reject), 容缺 with numbered form + pledge on about a third of the listed
items' cases (~10% of all) — supplied on time, late or never — the department, completion on time
or late against the promised date on the official working-day calendar, delivery, 好差评 ratings
(差评 open follow-up tasks), 回访, visits, and gateway conversations with transcripts and handoffs
(plus conversations that opened no case). Personal data is fictitious but valid in form (GB 11643
check digits, mobile numbers) and stored encrypted/hashed/masked like real intake.

Written by COPY on PostgreSQL and executemany on SQLite, in chunks, with progress. No outbox
messages or resident notices are created: a worker started on this database must not send
thousands of stale reminders. Run `python -m erma setup` first (done here unless --no-setup).
Everything is added to what is there; run it on a database of its own.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
import uuid
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from erma import pii  # noqa: E402
from erma.catalog.service import get_item  # noqa: E402
from erma.clock import local_zone, today_local  # noqa: E402
from erma.dashboard.summary import mark_all, refresh  # noqa: E402
from erma.db import get_engine, get_sessionmaker, utcnow  # noqa: E402
from erma.deferral.rules import supplement_deadline  # noqa: E402
from erma.followup.levels import LEVELS  # noqa: E402
from erma.models_registry import metadata  # noqa: E402
from erma.unit_of_work import unit_of_work  # noqa: E402
from erma.places.models import IntakePoint, Town  # noqa: E402
from erma.status.keys import id_last6_hash  # noqa: E402
from erma.cases.timing import expected_completion, shift_for_pause  # noqa: E402
from erma.catalog.models import ServiceItem  # noqa: E402
from erma.staff.models import Staff  # noqa: E402
from erma.working_days import add_working_days  # noqa: E402

SURNAMES = "杨王余马陈周何苏韩罗龙唐胡刘孙赵李张黄吴郑谢高林徐朱"
GIVEN = "子秀英国强晓燕永福德兰明亮春花志刚玉梅树林小琴才桂长生建华文军红平安芳丽勇顺云"
LEVEL_WEIGHTS = {5: 70, 4: 17, 3: 7, 2: 3, 1: 3}
TABLE_ORDER = ("conversations", "transcript_entries", "cases", "case_bindings", "case_events", "review_opinions",
               "deficiency_notices", "deferrals", "ratings", "followup_tasks", "handoff_requests")
ID_TABLES = ("cases", "case_bindings", "case_events", "review_opinions", "deficiency_notices", "deferrals", "ratings",
             "followup_tasks", "handoff_requests", "transcript_entries")


def id_number(rng: random.Random, region: str) -> str:
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 65))
    body = f"{region}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


class County:
    """What the generator needs from the loaded county data."""

    def __init__(self, session):
        self.towns = [t.code for t in session.scalars(select(Town).order_by(Town.code))]
        seat = {t.code for t in session.scalars(select(Town).where(Town.county_seat.is_(True)))}
        self.town_weights = [3 if t in seat else 1 for t in self.towns]
        self.town_name = dict(session.execute(select(Town.code, Town.name)).all())
        points = session.scalars(select(IntakePoint)).all()
        self.online = next(p.code for p in points if p.kind == "online")
        self.counters = {t: [p.code for p in points if p.kind == "county_window" and p.window_for == t]
                         + [p.code for p in points if p.kind == "town_centre" and p.town_code == t] for t in self.towns}
        self.villages = {t: [p.code for p in points if p.kind == "village_point" and p.town_code == t] for t in self.towns}
        staff = session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)).all()
        self.agents = {t: [s for s in staff if s.role == "agent" and t in (s.town_codes or [])] for t in self.towns}
        self.reviewers = {t: next((s for s in staff if s.role == "town_reviewer" and t in (s.town_codes or [])), None)
                          for t in self.towns}
        self.leads = [s for s in staff if s.role == "duty_lead"] or [s for s in staff if s.role == "admin"]
        codes = [c for c, in session.execute(select(ServiceItem.code).order_by(ServiceItem.code))]
        self.items = {c: get_item(session, c) for c in codes}
        self.codes = codes
        # A few items carry most of the volume (低保, 医保, 社保卡 …), the rest a long tail.
        self.item_weights = [40 / (1 + (i % 37)) for i, _ in enumerate(codes)]


class Writer:
    """COPY on PostgreSQL, executemany on SQLite; rows are dicts checked against the table's columns."""

    def __init__(self, engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.columns = {name: [c.name for c in metadata.tables[name].columns] for name in TABLE_ORDER}
        self.json_cols = {name: {c.name for c in metadata.tables[name].columns if c.type.__class__.__name__ == "JSON"}
                          for name in TABLE_ORDER}

    def _value(self, table: str, col: str, value):
        if value is None:
            return None
        if col in self.json_cols[table]:
            return json.dumps(value, ensure_ascii=False)
        if self.pg:
            return value
        if isinstance(value, dt.datetime):  # as SQLAlchemy stores it on SQLite: naive UTC text
            return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value

    def write(self, batches: dict[str, list[dict]]) -> None:
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if not self.pg:
                cur.execute("BEGIN")
            for table in TABLE_ORDER:
                rows = batches.get(table) or []
                if not rows:
                    continue
                cols = self.columns[table]
                missing = set(cols) - set(rows[0]) - {"id"}
                extra = set(rows[0]) - set(cols)
                if missing or extra:
                    raise SystemExit(f"{table}: missing {sorted(missing)}, unknown {sorted(extra)}")
                cols = [c for c in cols if c in rows[0]]
                tuples = [tuple(self._value(table, c, r[c]) for c in cols) for r in rows]
                if self.pg:
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for t in tuples:
                            copy.write_row(t)
                else:
                    cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                    tuples)
            if self.pg:
                raw.commit()
            else:
                cur.execute("COMMIT")
        finally:
            raw.close()


class Generator:
    def __init__(self, county: County, rng: random.Random, now: dt.datetime, days: int, next_ids: dict[str, int],
                 case_counters: dict[str, int], form_counters: dict[int, int]):
        self.c, self.rng, self.now, self.days = county, rng, now, days
        self.today = today_local(now)
        self.zone = local_zone()
        self.ids = dict(next_ids)
        self.case_counters = case_counters
        self.form_counters = form_counters
        self.batches: dict[str, list[dict]] = {}

    # ------------------------------------------------------------ helpers
    def next_id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def add(self, table: str, row: dict) -> dict:
        if table in ID_TABLES and "id" not in row:
            row["id"] = self.next_id(table)
        self.batches.setdefault(table, []).append(row)
        return row

    def take(self) -> dict[str, list[dict]]:
        out, self.batches = self.batches, {}
        return out

    def local_date(self, t: dt.datetime) -> dt.date:
        return t.astimezone(self.zone).date()

    def later(self, t: dt.datetime, lo_hours: float, hi_hours: float) -> dt.datetime:
        return t + dt.timedelta(hours=self.rng.uniform(lo_hours, hi_hours))

    def on_day(self, day: dt.date) -> dt.datetime:
        """Office hours on a China date."""
        local = dt.datetime.combine(day, dt.time(8, 30), tzinfo=self.zone) + dt.timedelta(minutes=self.rng.randrange(0, 570))
        return local.astimezone(dt.timezone.utc)

    def opened_at(self) -> dt.datetime:
        while True:
            t = self.now - dt.timedelta(seconds=self.rng.uniform(0, self.days * 86400))
            local = t.astimezone(self.zone)
            # Mostly office hours on weekdays; chat comes in at any hour.
            if (8 <= local.hour < 19 and local.weekday() < 5) or self.rng.random() < 0.15:
                return t

    def event(self, case_id: int, at: dt.datetime, kind: str, actor: str, role: str, frm=None, to=None, note=None):
        self.add("case_events", {"case_id": case_id, "at": at, "kind": kind, "actor": actor, "actor_role": role,
                                 "from_stage": frm, "to_stage": to, "note": note})

    # ------------------------------------------------------------ one case
    def case(self) -> None:
        rng, c = self.rng, self.c
        town = rng.choices(c.towns, c.town_weights)[0]
        code = rng.choices(c.codes, c.item_weights)[0]
        item = c.items[code]
        created = self.opened_at()
        channel = rng.choices(["web_chat", "wechat", "counter", "agent", "phone"], [35, 25, 25, 10, 5])[0]
        if channel in ("web_chat", "wechat", "phone"):
            point = c.online
        elif channel == "counter":
            point = rng.choice(c.counters[town] or [c.online])
        else:
            point = rng.choice(c.villages[town] or c.counters[town] or [c.online])
        conversation_id = self.conversation(channel, created - dt.timedelta(minutes=rng.uniform(3, 30)), town, item) \
            if channel in ("web_chat", "wechat") else None

        day = self.local_date(created)
        key = f"{day:%Y%m%d}"
        self.case_counters[key] = self.case_counters.get(key, 0) + 1
        case_no = f"EM-{key}-{self.case_counters[key]:04d}"
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        idn = id_number(rng, "513223")
        phone = rng.choice(("139", "138", "135", "158", "181", "199")) + f"{rng.randrange(0, 10 ** 8):08d}"
        agents = c.agents[town]
        agent = rng.choice(agents) if agents else None
        required = [m.name for m in item.materials if m.required]
        deferrable = [m.name for m in item.materials if m.deferrable and m.required]
        wants_deferral = item.rongque_listed and deferrable and rng.random() < 0.36
        missing = [rng.choice(deferrable)] if wants_deferral else []
        have = [m for m in required if m not in missing]
        expected = _expected(code, day)
        case_id = self.next_id("cases")
        row = {"id": case_id, "case_no": case_no, "idempotency_key": None, "request_fingerprint": None,
               "service_code": code, "applicant_name": name,
               "id_number_enc": pii.encrypt(idn), "id_number_hash": pii.keyed_hash(idn),
               "id_number_masked": pii.mask_id_number(idn), "id_last4": idn[-4:], "id_last6_hash": id_last6_hash(idn),
               "phone_enc": pii.encrypt(phone), "phone_hash": pii.keyed_hash(phone),
               "phone_masked": pii.mask_phone(phone), "phone_last4": phone[-4:],
               "hukou_town_code": town, "hukou_village": None, "current_location": rng.choice((None, "成都", "茂县县城", "汶川")),
               "intake_point_code": point, "channel": channel, "conversation_id": conversation_id,
               "stage": "received", "stage_changed_at": created, "agent_id": agent.id if agent else None,
               "materials_have": have, "materials_missing": missing, "visits": 1 if channel == "counter" else 0,
               "expected_completion_date": expected, "result": None, "created_at": created, "updated_at": created}
        self.add("cases", row)
        if conversation_id:  # the case belongs to the conversation that opened it (erma/cases/ownership.py)
            opener = self.batches["conversations"][-1]
            assert opener["id"] == conversation_id
            self.add("case_bindings", {"case_id": case_id, "conversation_id": conversation_id, "channel": channel,
                                       "external_user_id": opener["external_user_id"], "how": "opened", "at": created})
        agent_actor = f"staff:{agent.username}" if agent else "staff:admin"
        agent_role = "agent" if agent else "admin"
        reviewer = c.reviewers[town]
        rev_actor = f"staff:{reviewer.username}" if reviewer else "staff:admin"

        def move(to: str, at: dt.datetime, actor: str, role: str, note: str | None = None) -> bool:
            if at > self.now:
                return False
            self.event(case_id, at, "transition", actor, role, row["stage"], to, note)
            row["stage"], row["stage_changed_at"], row["updated_at"] = to, at, at
            return True

        self.event(case_id, created, "transition", "service" if conversation_id else agent_actor,
                   "service" if conversation_id else agent_role, None, "received", "收件")
        move("town_review", created, "system", "system", f"转入{c.town_name[town]}审核队列")
        if agent:
            self.event(case_id, created, "assigned", "system", "system",
                       note=f"分派代办员 {agent.display_name}（{agent.credential_no}）")
        trip = self.later(created, 1, 48)
        if rng.random() < 0.08 and trip < self.now:  # another trip to the service point
            row["visits"] += 1
            self.event(case_id, trip, "visit", agent_actor, agent_role, note=f"群众第{row['visits']}次到现场")

        # Town review: hours to a few days; one reviewer in ten lets cases wait up to two weeks.
        t = self.later(created, 0.5, 60) if rng.random() < 0.9 else self.later(created, 72, 340)
        decision = rng.choices(["approve", "return", "reject"], [85, 10, 5])[0]
        if decision == "reject":
            if move("rejected", t, rev_actor, "town_reviewer", "不符合申请条件"):
                self.opinion(case_id, reviewer, "reject", "不符合申请条件", t)
            return
        if decision == "return":
            if not move("returned_for_correction", t, rev_actor, "town_reviewer", "材料不全"):
                return
            lacking = [rng.choice(required)] if required else ["补充材料"]
            self.opinion(case_id, reviewer, "return", "材料不全，请一次性补齐", t)
            self.add("deficiency_notices", {"case_id": case_id, "seq": 1, "is_repeat": False, "materials": lacking,
                                            "note": "材料不全，请一次性补齐", "issued_by": reviewer.id if reviewer else None, "at": t})
            self.event(case_id, t, "deficiency_notice", rev_actor, "town_reviewer", note="一次性补正通知：" + "、".join(lacking))
            row["materials_missing"] = lacking
            back = self.later(t, 20, 24 * 8)
            if rng.random() < 0.1:
                move("withdrawn", back, "service", "service", "群众撤回")
                return
            if rng.random() < 0.5 and back < self.now:
                row["visits"] += 1
                self.event(case_id, back, "visit", agent_actor, agent_role, note=f"群众第{row['visits']}次到现场")
            paused_from = self.local_date(t)
            if not move("town_review", back, "service", "service", "已补齐材料，重新提交审核"):
                return
            row["expected_completion_date"] = shift_for_pause(row["expected_completion_date"], paused_from,
                                                              self.local_date(back))
            row["materials_missing"] = missing
            t = self.later(back, 0.5, 30)
        if not move("approved", t, rev_actor, "town_reviewer", "同意，材料齐全，请代办员送办。"):
            return
        self.opinion(case_id, reviewer, "approve", "同意，材料齐全，请代办员送办。", t)

        deferral = None
        if wants_deferral:
            t = self.later(t, 0.5, 20)
            if not move("deferral_accepted", t, agent_actor, agent_role, "容缺受理"):
                return
            deferral = self.deferral(case_id, town, code, missing, t, agent)
            self.event(case_id, t, "deferral", agent_actor, agent_role, note=f"一表一书 {deferral['form_no']}")

        t = self.later(t, 2, 40)
        if deferral is not None and deferral["supplied_at"] is None and deferral["deadline"] < self.today \
                and rng.random() < 0.3:
            move("terminated", self.on_day(deferral["deadline"] + dt.timedelta(days=rng.randint(3, 15))),
                 "staff:lead-1", "duty_lead", "逾期未补齐材料，终止办理")
            return
        if not move("at_department", t, agent_actor, agent_role, "已送部门"):
            return
        # Completion: mostly on or before the promised date, one in ten late.
        promised = row["expected_completion_date"]
        start = self.local_date(t)
        if rng.random() < 0.9 and promised >= start:
            day = start + dt.timedelta(days=rng.randint(0, (promised - start).days))
        else:
            day = max(promised, start) + dt.timedelta(days=rng.randint(1, 12))
        done = max(self.on_day(day), self.later(t, 1, 3))
        if not move("completed", done, agent_actor, agent_role, "准予办理"):
            return
        row["result"] = "准予办理"
        delivered = self.later(done, 1, 60)
        if not move("delivered", delivered, "system", "system", "结果已告知"):
            return
        rated_at = self.later(delivered, 0.2, 72)
        level = rng.choices(list(LEVEL_WEIGHTS), list(LEVEL_WEIGHTS.values()))[0]
        if rng.random() < 0.65 and move("rated", rated_at, "service", "service", f"好差评：{LEVELS[level]}"):
            self.add("ratings", {"case_id": case_id, "level": level, "comment": None, "channel": "web_chat",
                                 "at": rated_at})
        else:
            level = None
        if level is not None and level <= 2:
            due = add_working_days(self.local_date(rated_at), 5)
            lead = rng.choice(c.leads)
            followed = self.later(rated_at, 24, 24 * 9)
            done_task = followed < self.now and rng.random() < 0.85
            self.add("followup_tasks", {"kind": "bad_rating", "case_id": case_id, "assignee_id": lead.id, "due_date": due,
                                        "status": "done" if done_task else "open", "reason": "差评回访整改",
                                        "outcome": "已回访，群众表示理解" if done_task else None,
                                        "created_at": rated_at, "done_at": followed if done_task else None})
            if done_task:
                move("followed_up", followed, f"staff:{lead.username}", "duty_lead", "回访完成")
        elif rng.random() < 0.05:
            move("followed_up", self.later(row["stage_changed_at"], 24, 24 * 10), "staff:lead-1", "duty_lead", "抽查回访")

    def opinion(self, case_id: int, reviewer, decision: str, text: str, at: dt.datetime) -> None:
        self.add("review_opinions", {"case_id": case_id, "reviewer_id": reviewer.id if reviewer else None,
                                     "decision": decision, "opinion": text, "at": at, "deferred_materials": None})

    def deferral(self, case_id: int, town: str, code: str, missing: list[str], at: dt.datetime, agent) -> dict:
        rng = self.rng
        day = self.local_date(at)
        deadline = _deadline(code, day)
        self.form_counters[day.year] = self.form_counters.get(day.year, 0) + 1
        seq = self.form_counters[day.year]
        roll = rng.random()
        supplied = None
        if roll < 0.8:  # on time
            supplied = self.on_day(day + dt.timedelta(days=rng.randint(0, max(0, (deadline - day).days))))
        elif roll < 0.9:  # late
            supplied = self.on_day(deadline + dt.timedelta(days=rng.randint(1, 6)))
        if supplied is not None and supplied > self.now:
            supplied = None
        reclaimed = self.later(supplied, 1, 72) if supplied is not None else None
        if reclaimed is not None and reclaimed > self.now:
            reclaimed = None
        overdue = supplied is None and deadline < self.today
        status = "closed" if reclaimed else "supplied" if supplied else "overdue" if overdue else "open"
        row = self.add("deferrals", {
            "case_id": case_id, "form_no": f"RQ-{day.year}-{seq:04d}", "pledge_no": f"BS-{day.year}-{seq:04d}",
            "endorser_town_code": town, "missing_materials": missing, "deadline": deadline, "status": status,
            "supplied_at": supplied, "reclaimed_at": reclaimed,
            "reminded_at": (self.on_day(deadline - dt.timedelta(days=2))
                            if deadline - dt.timedelta(days=2) <= self.today else None),
            "escalated_at": self.on_day(deadline + dt.timedelta(days=1)) if overdue else None,
            "created_by": agent.id if agent else None, "created_at": at, "note": None})
        if overdue:
            # The duty lead has dealt with most escalations that are a few weeks old.
            handled = (self.today - deadline).days > 20 and rng.random() < 0.85
            self.add("followup_tasks", {"kind": "deferral_overdue", "case_id": case_id,
                                        "assignee_id": self.c.leads[0].id, "due_date": deadline + dt.timedelta(days=3),
                                        "status": "done" if handled else "open", "reason": "容缺逾期未补齐",
                                        "outcome": "已督办，群众承诺补齐" if handled else None,
                                        "created_at": self.on_day(deadline + dt.timedelta(days=1)),
                                        "done_at": self.on_day(deadline + dt.timedelta(days=5)) if handled else None})
        return row

    # ------------------------------------------------------------ conversations
    def conversation(self, channel: str, started: dt.datetime, town: str | None, item) -> str:
        rng = self.rng
        conv_id = uuid.uuid4().hex  # not from the seeded generator: a second run must not collide
        handed = rng.random() < 0.15
        recent = (self.now - started) < dt.timedelta(hours=20)
        state = "closed" if (self.now - started) > dt.timedelta(days=1) else "bot"
        seq = 0
        entries = []
        lines = [("resident", f"{item.name}要带啥子材料"),
                 ("assistant", f"办理“{item.name}”需要准备以下材料，我一次给您说全。"),
                 ("resident", "好的，我要申请"),
                 ("assistant", "请告诉我申请人的姓名、身份证号码和手机号码。")]
        at = started
        for author, line in lines[:rng.randint(2, 4)]:
            seq += 1
            at = at + dt.timedelta(seconds=rng.uniform(5, 90))
            entries.append((author, line, at, seq))
        queued_at = None
        if handed:
            seq += 1
            at = at + dt.timedelta(seconds=30)
            entries.append(("system", "转人工排队（居民要求转人工），等待代办员接入", at, seq))
            if recent and rng.random() < 0.4:
                state, queued_at = "queued", at
            # A request's state is read from its conversation (the latest request of a queued one is open).
            self.add("handoff_requests", {"conversation_id": conv_id, "channel": channel,
                                          "reason": rng.choice(("requested", "fallback", "form_abandoned")),
                                          "created_at": at})
        self.add("conversations", {
            "id": conv_id, "channel": channel,
            "external_user_id": "o" + uuid.UUID(int=rng.getrandbits(128)).hex[:27] if channel == "wechat" else None,
            "state": state, "assigned_staff_id": None, "town_code": town if handed else None,
            "queue_reason": "requested" if state == "queued" else None, "queued_at": queued_at,
            "last_seq": seq, "last_resident_message_at": started, "created_at": started, "updated_at": at})
        for author, line, when, n in entries:
            self.add("transcript_entries", {"conversation_id": conv_id, "seq": n, "at": when, "author": author,
                                            "text": line, "buttons": None, "agent_staff_id": None, "client_msg_id": None,
                                            "reply_to_seq": n - 1 if author != "resident" else None, "meta": None})
        return conv_id

    def lone_conversation(self) -> None:
        """A resident who asked and left without opening a case."""
        item = self.c.items[self.rng.choices(self.c.codes, self.c.item_weights)[0]]
        town = self.rng.choice(self.c.towns)
        self.conversation(self.rng.choice(("web_chat", "wechat")), self.opened_at(), town, item)


_ITEMS: dict[str, object] = {}


# The platform's own date rules, cached on what they depend on (the calendar lookups are the slow part).
def _expected(code: str, day: dt.date) -> dt.date:
    item = _ITEMS[code]
    return _expected_for(getattr(item, "time_limit_unit", "working_days"), item.promised_working_days, day)


@lru_cache(maxsize=None)
def _expected_for(unit: str, days: int, day: dt.date) -> dt.date:
    return expected_completion(SimpleNamespace(time_limit_unit=unit, promised_working_days=days), day)


def _deadline(code: str, day: dt.date) -> dt.date:
    item = _ITEMS[code]
    return _deadline_for(item.promised_working_days, getattr(item, "deferral_max_working_days", None), day)


@lru_cache(maxsize=None)
def _deadline_for(promised: int, deferral_max: int | None, day: dt.date) -> dt.date:
    return supplement_deadline(SimpleNamespace(promised_working_days=promised, deferral_max_working_days=deferral_max), day)


def _next_ids(session) -> dict[str, int]:
    out = {}
    for table in ID_TABLES:
        t = metadata.tables[table]
        out[table] = (session.scalar(select(func.max(t.c.id))) or 0) + 1
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--cases", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365, help="cases opened over this many past days")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--lone-conversations", type=float, default=0.4,
                        help="conversations without a case, per case (default 0.4)")
    parser.add_argument("--no-setup", action="store_true", help="skip migrate + load")
    args = parser.parse_args(argv)

    if not args.no_setup:
        from erma.__main__ import load, migrate

        migrate()
        load()
    engine = get_engine()
    started = time.monotonic()
    now = utcnow()
    with get_sessionmaker()() as session:
        county = County(session)
        _ITEMS.update(county.items)
        next_ids = _next_ids(session)
        case_counters = dict(session.execute(text("SELECT day, last FROM case_number_counters")).all())
        form_counters = dict(session.execute(text("SELECT year, last FROM deferral_form_counters")).all())
    gen = Generator(county, random.Random(args.seed), now, args.days, next_ids, case_counters, form_counters)
    writer = Writer(engine)
    print(f"{engine.dialect.name}: {args.cases} cases over {args.days} days, chunks of {args.chunk}", flush=True)
    done = 0
    while done < args.cases:
        size = min(args.chunk, args.cases - done)
        for _ in range(size):
            gen.case()
            if gen.rng.random() < args.lone_conversations:
                gen.lone_conversation()
        batches = gen.take()
        writer.write(batches)
        done += size
        rows = sum(len(v) for v in batches.values())
        print(f"  {done:>7}/{args.cases} cases  (+{rows} rows)  {time.monotonic() - started:6.1f} s", flush=True)

    with engine.begin() as conn:
        upsert = ("INSERT INTO case_number_counters (day, last) VALUES (:k, :v) "
                  "ON CONFLICT (day) DO UPDATE SET last = excluded.last")
        # An empty parameter list is no statement at all (a small seed may open no 容缺 form).
        if gen.case_counters:
            conn.execute(text(upsert), [{"k": k, "v": v} for k, v in gen.case_counters.items()])
        if gen.form_counters:
            conn.execute(text("INSERT INTO deferral_form_counters (year, last) VALUES (:k, :v) "
                              "ON CONFLICT (year) DO UPDATE SET last = excluded.last"),
                         [{"k": k, "v": v} for k, v in gen.form_counters.items()])
        if engine.dialect.name == "postgresql":
            for table in ID_TABLES:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
    # COPY bypassed the ORM, so the dashboard's daily summary knows nothing of these cases yet.
    with unit_of_work(get_sessionmaker()) as session:
        days = mark_all(session)
    print(f"  dashboard daily summary: {days} days ...", flush=True)
    summary_started = time.monotonic()
    with unit_of_work(get_sessionmaker()) as session:
        refresh(session)
    print(f"  dashboard daily summary rebuilt in {time.monotonic() - summary_started:.1f} s", flush=True)
    if engine.dialect.name == "postgresql":
        # VACUUM too: COPY leaves the visibility map empty, and index-only scans (an agent's open
        # cases at intake, the dashboard's covering indexes) would visit every row until autovacuum ran.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in TABLE_ORDER}
    print(f"done in {time.monotonic() - started:.1f} s: " + ", ".join(f"{t} {n}" for t, n in counts.items()))


if __name__ == "__main__":
    main()
