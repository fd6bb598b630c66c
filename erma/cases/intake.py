"""Opening a case: validate every field, route to the household town, assign an agent.

Nothing is written unless every field is valid; the same Idempotency-Key returns the same case.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma import pii
from erma.cases.assignment import least_loaded_agent
from erma.cases.materials import case_gap, known_materials, material_states, record_receipts
from erma.cases.lifecycle import transition
from erma.cases.models import Case, CaseEvent
from erma.cases.numbers import next_case_no
from erma.cases.ownership import OPENED, bind, is_bound
from erma.cases.visits import record_visit
from erma.cases.stages import OPEN_STAGES, STAGE_TEXT, Stage
from erma.bounds import MAX_LIST_ITEMS, MAX_MATERIAL_NAME
from erma.cases.timing import expected_completion
from erma.catalog.service import get_item
from erma.clock import today_local
from erma.db import as_utc
from erma.errors import Conflict, DomainError, ValidationFailed
from erma.id_numbers import validate_id_number
from erma.phones import validate_mobile
from erma.pii_refs import service as references
from erma.places.models import IntakePoint, Town
from erma.permissions import Role
from erma.places.service import get_intake_point, resolve_place
from erma.staff.auth import SYSTEM, Principal
from erma.staff.models import Staff
from erma.status.keys import id_last6_hash

CHANNELS = {"web_chat": "网页聊天", "wechat": "微信公众号", "counter": "窗口", "agent": "代办员代录",
            "phone": "电话"}
# The channel where the resident stood at a counter: the intake is one trip (a hand_in visit).
COUNTER_CHANNEL = "counter"
_NAME_RE = re.compile(r"^[\u4e00-\u9fff·•A-Za-z ]{2,30}$")


class MaterialIn(BaseModel):
    name: str = Field(max_length=MAX_MATERIAL_NAME)
    form: Literal["original", "copy"]


class CaseCreate(BaseModel):
    # Bounded by the columns they are stored in (erma/cases/models.py); too long is a 422, never a 500.
    service_code: str = Field(max_length=32)
    applicant_name: str = Field(max_length=64)
    id_number: str = Field(max_length=32)  # the number, or a reference (〔身份证#…〕) from `conversation_id`
    phone: str = Field(max_length=32)  # the number, or a reference (〔手机#…〕) from `conversation_id`
    hukou_town: str = Field(max_length=64)
    hukou_village: str | None = Field(default=None, max_length=64)
    current_location: str | None = Field(default=None, max_length=128)
    intake_point: str = Field(default="online", max_length=64)
    channel: str = Field(default="web_chat", max_length=20)
    conversation_id: str | None = Field(default=None, max_length=128)
    materials_have: list[Annotated[str, Field(max_length=MAX_MATERIAL_NAME)]] = Field(default_factory=list,
                                                                                     max_length=MAX_LIST_ITEMS)
    # Counter intake: the materials handed in, as seen by the clerk (materials_have: only declared).
    materials_received: list[MaterialIn] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    # True once the resident was told of their open case for the same item and still wants a new one.
    repeat_confirmed: bool = False


def _fingerprint(body: CaseCreate) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def validate_name(raw: str) -> str:
    name = re.sub(r"\s+", "", raw or "")
    if not _NAME_RE.match(name):
        raise ValidationFailed("applicant_name_invalid", "请填写申请人的真实姓名（2到30个字）", field="applicant_name")
    return name


def create_case(session: Session, body: CaseCreate, principal: Principal,
                idempotency_key: str | None, now: dt.datetime | None = None) -> tuple[Case, bool]:
    """Returns (case, created). Raises ValidationFailed listing every bad field."""
    fingerprint = _fingerprint(body)
    if idempotency_key:
        existing = session.scalar(select(Case).where(Case.idempotency_key == idempotency_key))
        if existing is not None:
            return _same_request(existing, fingerprint), False

    errors: list[DomainError] = []

    def check(fn, *args):
        try:
            return fn(*args)
        except ValidationFailed as exc:
            errors.append(exc)
            return None

    name = check(validate_name, body.applicant_name)
    id_number = check(_personal, session, body, "id_number", validate_id_number)
    phone = check(_personal, session, body, "phone", validate_mobile)
    item = check(_known_item, session, body.service_code)
    place = check(resolve_place, session, body.hukou_town, body.hukou_village)
    point = check(_intake_point, session, body, principal)
    channel = COUNTER_CHANNEL if principal.role == Role.COUNTER_CLERK else check(_known_channel, body.channel)
    if item:
        check(known_materials, item, body.materials_have)
        check(known_materials, item, [m.name for m in body.materials_received], "materials_received")
    if errors:
        first = errors[0]
        raise ValidationFailed(first.code, first.message, field=first.field,
                               errors=[{"code": e.code, "message": e.message, "field": e.field} for e in errors])

    if not body.repeat_confirmed:
        _refuse_unconfirmed_repeat(session, item, pii.keyed_hash(id_number), principal, body.conversation_id)
    today = today_local(now)
    case = Case(
        case_no=next_case_no(session, today), idempotency_key=idempotency_key,
        request_fingerprint=fingerprint, service_code=item.code, applicant_name=name,
        id_number_enc=pii.encrypt(id_number), id_number_hash=pii.keyed_hash(id_number),
        id_number_masked=pii.mask_id_number(id_number), id_last4=id_number[-4:],
        id_last6_hash=id_last6_hash(id_number),
        phone_enc=pii.encrypt(phone), phone_hash=pii.keyed_hash(phone),
        phone_masked=pii.mask_phone(phone), phone_last4=phone[-4:],
        hukou_town_code=place.town.code, hukou_village=place.village,
        current_location=(body.current_location or "").strip() or None,
        intake_point_code=point.code, channel=channel, conversation_id=body.conversation_id,
        stage=Stage.RECEIVED, materials_have=[], materials_missing=[], visits=0,
        expected_completion_date=expected_completion(item, today),
    )
    if now is not None:
        case.created_at = case.stage_changed_at = now
    agent = least_loaded_agent(session, place.town.code)
    case.agent_id = agent.id if agent else None
    session.add(case)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its case.
        session.rollback()
        existing = session.scalar(select(Case).where(Case.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return _same_request(existing, fingerprint), False

    if body.conversation_id:
        bind(session, case, body.conversation_id, OPENED, now or case.created_at, new_case=True)
    _intake_records(session, case, body, principal, point, now or case.created_at)
    point_text = f"{point.name}（{CHANNELS[channel]}）"
    # The resident is told by the answer (and the receipt), not by a push per move.
    # Announced to nobody: the two moves and the assignment are written by the one flush below.
    transition(session, case, Stage.RECEIVED, principal, f"收件：{point_text}", now=now or case.created_at,
               announce=False, opened=True, flush=False)
    transition(session, case, Stage.TOWN_REVIEW, SYSTEM, f"转入{place.town.name}审核队列",
               now=now or case.created_at, announce=False, flush=False)
    if agent:
        session.add(CaseEvent(case_id=case.id, case=case, kind="assigned", actor=SYSTEM.actor,
                              actor_role=SYSTEM.role, note=f"分派代办员 {agent.display_name}（{agent.credential_no}）",
                              at=now or case.created_at))
    session.flush()
    return case, True


def _refuse_unconfirmed_repeat(session: Session, item, id_hash: str, principal: Principal,
                               conversation_id: str | None) -> None:
    """The same applicant (ID number) already has an open case for the item: the answer says so, and
    a new case is opened only when asked again with `repeat_confirmed` (some items allow several).

    Staff, and the conversation the case is bound to, are told which case it is. Any other conversation
    is not: anybody may type somebody else's ID number (erma/cases/ownership.py), so it learns neither
    the case number nor its stage, and is told how the applicant finds them (a status lookup proves
    ownership)."""
    open_case = session.scalar(select(Case).where(Case.id_number_hash == id_hash, Case.service_code == item.code,
                                                  Case.stage.in_([s.value for s in OPEN_STAGES]))
                               .order_by(Case.created_at.desc(), Case.id.desc()).limit(1))
    if open_case is None:
        return
    if principal.role == Role.SERVICE and not is_bound(session, open_case, conversation_id):
        raise Conflict("open_case_exists",
                       f"这个身份证号已经有一件“{item.name}”在办。如果是您家的申请，说“查进度”，"
                       "核对身份证号后六位和手机号后四位就能查到办件号和进度。",
                       open_case={"service_name": item.name})
    stage_text = STAGE_TEXT[Stage(open_case.stage)]
    raise Conflict("open_case_exists",
                   f"这个身份证号已经有一件“{item.name}”在办：办件号 {open_case.case_no}，{stage_text}。",
                   open_case={"case_no": open_case.case_no, "service_name": item.name,
                              "stage": open_case.stage, "stage_text": stage_text,
                              "opened_on": today_local(as_utc(open_case.created_at)).isoformat()})


def _same_request(case: Case, fingerprint: str) -> Case:
    if case.request_fingerprint and case.request_fingerprint != fingerprint:
        raise Conflict("idempotency_key_reused", "这个请求编号已经用于另一份不同的申请，请勿重复使用")
    return case


def _personal(session: Session, body: CaseCreate, field: str, validate):
    """An ID number or phone: the value itself (staff at a counter), or the reference the gateway put
    in the resident's text, resolved only within the case's own conversation."""
    return validate(references.resolve(session, body.conversation_id, getattr(body, field), field))


def _known_item(session: Session, code: str):
    item = get_item(session, (code or "").strip().upper())
    if item is None:
        raise ValidationFailed("service_unknown", f"没有编号为“{code}”的办理事项", field="service_code")
    return item


def _known_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValidationFailed("channel_unknown", f"不认识的接件渠道“{channel}”", field="channel")
    return channel


def _intake_point(session: Session, body: CaseCreate, principal: Principal):
    """A counter clerk takes residents in at the counter of their account; everyone else names the point."""
    if principal.role != Role.COUNTER_CLERK:
        return get_intake_point(session, body.intake_point)
    code = principal.staff.intake_point_code if principal.staff else None
    if not code:
        raise ValidationFailed("intake_point_missing", "您的账号没有登记所在的接件点，请联系管理员设置后再收件",
                               field="intake_point")
    return get_intake_point(session, code)


def _intake_records(session: Session, case: Case, body: CaseCreate, principal: Principal, point,
                    now: dt.datetime) -> None:
    """What came in at intake (seen by staff: original/copy; said online: declared) and, at a counter,
    the resident's trip."""
    seen = [(m.name, m.form) for m in body.materials_received]
    seen_names = {name for name, _ in seen}
    said = [(name, "declared") for name in body.materials_have if name not in seen_names]
    record_receipts(session, case, principal, said + seen, "intake", point.code, now)
    if case.channel == COUNTER_CHANNEL:
        record_visit(session, case, principal, "hand_in", None if point.kind == "online" else point.code,
                     now=now, at_intake=True)


def intake_receipt(session: Session, case: Case) -> dict:
    """The 收件凭证 of a case: what was handed in, what is missing, who carries it (ID number masked)."""
    item = get_item(session, case.service_code)
    states = material_states(session, case)
    gap = case_gap(session, case, states)
    agent = session.get(Staff, case.agent_id) if case.agent_id else None
    town = session.get(Town, case.hukou_town_code)
    point = session.get(IntakePoint, case.intake_point_code)
    return {"case_no": case.case_no, "service_name": item.name if item else case.service_code,
            "applicant_name": case.applicant_name, "id_number": case.id_number_masked,
            "hukou_town": town.name if town else case.hukou_town_code,
            "intake_point_name": point.name if point else case.intake_point_code,
            "received": [s.name for s in states if s.status == "received"],
            "declared": [s.name for s in states if s.status == "declared"],
            "missing": gap.missing, "can_defer": gap.deferrable,
            "agent": None if agent is None else {"display_name": agent.display_name,
                                                 "credential_no": agent.credential_no,
                                                 "phone_masked": agent.phone_masked},
            "expected_completion_date": case.expected_completion_date.isoformat(), "visits": case.visits}
