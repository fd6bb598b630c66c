"""Where a case stands, in plain words, for residents: verified by the last four digits of the
ID number or phone, or asked by the assistant for a conversation the case is bound to
(erma/cases/ownership.py). A resident who lost the case number finds their cases with the last six
characters of the applicant's ID number and the phone's last four digits or the applicant's name
(`find_cases`). A wrong answer looks exactly like an unknown case, and repeated
failures are slowed down (counted in the database, so every platform replica sees them) per case
(per ID-number tail for `find_cases`) and per conversation, or per client address at the public
edge: one resident's guesses lock their own conversation and the case or person guessed at, never
everybody's lookups."""
from __future__ import annotations

import datetime as dt
import hashlib
import re

from sqlalchemy import case as sql_case, delete, func, or_, select
from sqlalchemy.orm import Session

from erma.cases.models import Case, CaseEvent
from erma.cases.ownership import PROVED, bind, is_bound
from erma.cases.presenter import agent_contact, stage_words
from erma.cases.stages import Stage
from erma.cases.timing import promise_is_provisional
from erma.catalog.models import ServiceItem
from erma.catalog.service import get_item
from erma.clock import today_local
from erma.db import as_utc, utcnow
from erma.errors import NotFound, TooManyRequests, ValidationFailed
from erma.pii import mask_name
from erma.places.models import Town
from erma.settings import get_settings
from erma.staff.models import Staff
from erma.status.keys import id_last6_hash, normalize_last6
from erma.status.models import StatusLookupFailure
from erma.unit_of_work import keep_on_refusal

TOWN_HOLDS = {Stage.RECEIVED, Stage.TOWN_REVIEW, Stage.RETURNED, Stage.REJECTED}
# Done: the answer gives the day it was done, not an expected day.
FINISHED = {Stage.COMPLETED, Stage.DELIVERED, Stage.RATED, Stage.FOLLOWED_UP}
ENDED = {Stage.REJECTED, Stage.WITHDRAWN, Stage.TERMINATED}
# Same answer for an unknown case and a wrong verification: no case numbers leak.
CASE_NOT_FOUND = "没有查到这个办件，请核对办件编号和身份证或手机号后四位"
# Same answer for an unknown person and a wrong phone or name: nobody learns whose ID number it is.
PERSON_NOT_FOUND = "没有查到办件。请核对身份证号后六位和手机号后四位（或申请人姓名）"
# At most this many cases answer one lookup by person (open ones first, then the newest).
MAX_FOUND = 5


def _first_reached(stage):
    """When the case (the query's `cases` row) first reached `stage`: a correlated scalar subquery."""
    return (select(func.min(CaseEvent.at)).where(CaseEvent.case_id == Case.id, CaseEvent.to_stage == stage)
            .correlate(Case).scalar_subquery())


def _day_reached(session: Session, case: Case, stage: Stage, reached: dict | None = None) -> str | None:
    """The China date the case first reached `stage` (from its event log; `reached`: read already)."""
    if reached is not None and stage.value in reached:
        at = reached[stage.value]
    else:
        at = session.scalar(select(func.min(CaseEvent.at)).where(CaseEvent.case_id == case.id,
                                                                 CaseEvent.to_stage == stage.value))
    return today_local(as_utc(at)).isoformat() if at is not None else None


def status_view(session: Session, case: Case, reached: dict | None = None) -> dict:
    """`reached`: when the case first reached stages (stage value → moment or None), if read with it."""
    stage_text, next_step = stage_words(session, case)
    item = get_item(session, case.service_code)
    town = session.get(Town, case.hukou_town_code)
    agent = session.get(Staff, case.agent_id) if case.agent_id else None
    stage = Stage(case.stage)
    if stage in TOWN_HOLDS or agent is None:
        holder = {"kind": "town", "name": f"{town.name}审核人员"}
    else:
        holder = {"kind": "agent", **agent_contact(agent)}
    return {"case_no": case.case_no, "service_code": case.service_code,
            "service_name": item.name if item else case.service_code,
            "applicant_masked": mask_name(case.applicant_name),
            "hukou_town": town.name, "stage": case.stage, "stage_text": stage_text, "next_step": next_step,
            "holder": holder, "agent": agent_contact(agent),
            "expected_completion_date": case.expected_completion_date.isoformat(),
            "expected_completion_provisional": stage not in FINISHED | ENDED and promise_is_provisional(case, item),
            "finished_on": _day_reached(session, case, Stage.COMPLETED, reached) if stage in FINISHED else None,
            "ended_on": _day_reached(session, case, stage, reached) if stage in ENDED else None,
            "materials_missing": case.materials_missing}


def _key(kind: str, value: str) -> str:
    """A throttle key that fits the column: long values (conversation ids up to 128) by their hash."""
    key = f"{kind}:{value}"
    return key if len(key) <= 80 else f"{kind}#" + hashlib.sha256(value.encode()).hexdigest()


def throttle_keys(case_no: str, client: str, conversation_id: str | None) -> list[str]:
    """Failures count per case, and per conversation for the assistant (all its lookups come from the
    action server's one address) or per client address at the public edge."""
    who = _key("conversation", conversation_id) if conversation_id else _key("client", client)
    return [_key("case", case_no), who]


def _most_failures(keys: list[str], since: dt.datetime):
    """The most failures any one of `keys` counts since `since` (a scalar subquery; NULL: none)."""
    return (select(func.count(StatusLookupFailure.id))
            .where(StatusLookupFailure.key.in_(keys), StatusLookupFailure.at >= since)
            .group_by(StatusLookupFailure.key).order_by(func.count(StatusLookupFailure.id).desc())
            .limit(1).scalar_subquery())


def _refuse_if_over(failures: int | None) -> None:
    settings = get_settings()
    if (failures or 0) >= settings.status_max_failures:
        raise TooManyRequests("status_too_many_failures", "查询失败次数太多，请过15分钟再试，或联系代办员",
                              retry_after=settings.status_failure_window_seconds)


def _refuse_if_locked(session: Session, keys: list[str], since: dt.datetime) -> None:
    _refuse_if_over(session.scalar(select(_most_failures(keys, since))))


def _case_and_failures(session: Session, case_no: str, keys: list[str],
                       since: dt.datetime) -> tuple[Case | None, int | None, dict]:
    """In one statement: the case with its town, item and agent (kept in the session, so status_view
    reads them without a query), when it was completed and when it entered its present stage (what
    status_view tells of a finished or ended case), and the failures counted against `keys`.
    (None, None, {}) for no such case."""
    row = session.execute(select(Case, Town, ServiceItem, Staff, _first_reached(Stage.COMPLETED.value),
                                 _first_reached(Case.stage), _most_failures(keys, since))
                          .outerjoin(Town, Town.code == Case.hukou_town_code)
                          .outerjoin(ServiceItem, ServiceItem.code == Case.service_code)
                          .outerjoin(Staff, Staff.id == Case.agent_id)
                          .where(Case.case_no == case_no)).first()
    if row is None:
        return None, None, {}
    case, completed_at, entered_at, failures = row[0], row[4], row[5], row[6]
    return case, failures, {Stage.COMPLETED.value: completed_at, case.stage: entered_at}


def _record_failure(session: Session, keys: list[str], now: dt.datetime, since: dt.datetime,
                    message: str = CASE_NOT_FOUND) -> NotFound:
    for key in keys:
        session.add(StatusLookupFailure(key=key, at=now))
    session.execute(delete(StatusLookupFailure).where(StatusLookupFailure.at < since))
    session.flush()
    # The lookup only read before this: the failure is all it wrote, and it must count although the
    # request answers 404 — the unit of work commits it when this refusal ends the step.
    keep_on_refusal(session)
    return NotFound("case_not_found", message)


def lookup_status(session: Session, case_no: str, last4: str, client: str, conversation_id: str | None = None,
                  now: dt.datetime | None = None) -> dict:
    """`conversation_id` is the assistant's conversation (service token), None at the public edge.
    A conversation bound to the case needs no digits; a right answer binds the case to it."""
    now = now or utcnow()
    case_no = (case_no or "").strip().upper()
    keys = throttle_keys(case_no, client, conversation_id)
    since = now - dt.timedelta(seconds=get_settings().status_failure_window_seconds)
    case, failures, reached = _case_and_failures(session, case_no, keys, since)
    if case is not None and conversation_id and is_bound(session, case, conversation_id):
        return status_view(session, case, reached)
    if case is None:
        _refuse_if_locked(session, keys, since)
    else:
        _refuse_if_over(failures)
    last4 = (last4 or "").strip().upper()
    if case is None or len(last4) != 4 or last4 not in (case.id_last4.upper(), case.phone_last4):
        raise _record_failure(session, keys, now, since)
    if conversation_id:
        bind(session, case, conversation_id, PROVED, now)
        session.flush()
    return status_view(session, case, reached)


def find_cases(session: Session, id_last6: str, phone_last4: str | None, applicant_name: str | None, client: str,
               conversation_id: str | None = None, now: dt.datetime | None = None) -> list[dict]:
    """A resident's cases without the case number ("我妈的高龄补贴办到哪了", from another phone): the
    cases whose applicant's ID number ends in `id_last6` and whose phone ends in `phone_last4` or whose
    applicant is `applicant_name` (spaces ignored). Open cases first, then the newest; at most five.
    Each found case is bound to the conversation (`proved`), so its later questions need no proof.
    An unknown person and a wrong phone or name give the same 404; failures count per conversation
    (or client address at the public edge) and per ID-number tail, with the status lookups' limits."""
    now = now or utcnow()
    last6 = normalize_last6(id_last6)
    if last6 is None:
        raise ValidationFailed("id_last6_invalid", "请填写申请人身份证号的后六位（6位，最后一位可以是X）", field="id_last6")
    phone = re.sub(r"\s+", "", phone_last4 or "")
    name = re.sub(r"\s+", "", applicant_name or "")
    if phone and not re.fullmatch(r"\d{4}", phone):
        raise ValidationFailed("phone_last4_invalid", "手机号后四位应是4位数字", field="phone_last4")
    if not phone and not name:
        raise ValidationFailed("proof_missing", "请再提供申请时留的手机号后四位，或申请人的姓名", field="phone_last4")
    last6_hash = id_last6_hash(last6)
    who = _key("conversation", conversation_id) if conversation_id else _key("client", client)
    keys = [who, _key("lookup6", last6_hash)]
    since = now - dt.timedelta(seconds=get_settings().status_failure_window_seconds)
    _refuse_if_locked(session, keys, since)
    proof = ([Case.phone_last4 == phone] if phone else []) + ([Case.applicant_name == name] if name else [])
    done = [s.value for s in FINISHED | ENDED]
    cases = list(session.scalars(
        select(Case).where(Case.id_last6_hash == last6_hash, or_(*proof))
        .order_by(sql_case((Case.stage.in_(done), 1), else_=0), Case.created_at.desc(), Case.id.desc())
        .limit(MAX_FOUND)))
    if not cases:
        raise _record_failure(session, keys, now, since, PERSON_NOT_FOUND)
    if conversation_id:
        for case in cases:
            bind(session, case, conversation_id, PROVED, now)
        session.flush()
    return [status_view(session, case) for case in cases]
