"""Staff and agents as a county admin keeps them: list, add, change towns / credential / phone,
deactivate and reactivate, reset a password (argon2, erma.staff.auth). Every change is audited;
no password or hash ever goes into the audit or an answer. A password reset, a deactivation or a
change of role or towns ends the member's sessions (erma.staff.sessions): what they may do changed,
so they sign in again."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma import pii
from erma.admin.access import refuse, require_admin
from erma.admin.audit import changed_fields, record
from erma.cases.assignment import open_case_counts
from erma.errors import Conflict, NotFound, ValidationFailed
from erma.permissions import ROLE_TEXT, STAFF_ROLES, Permission, Role, may
from erma.phones import validate_mobile
from erma.places.models import IntakePoint, Town
from erma.staff.auth import Principal, hash_password
from erma.staff.models import Staff
from erma.staff.sessions import end_all_sessions

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 8
ROLE_CHOICE_TEXT = {Role.COUNTER_CLERK: "接件员（窗口/便民服务站）"}


def _towns(session: Session) -> dict[str, str]:
    return {t.code: t.name for t in session.scalars(select(Town).order_by(Town.code))}


def _points(session: Session) -> dict[str, IntakePoint]:
    """The counters a staff member can work at (every intake point but the online one)."""
    return {p.code: p for p in session.scalars(select(IntakePoint).where(IntakePoint.kind != "online")
                                               .order_by(IntakePoint.kind, IntakePoint.code))}


def staff_view(staff: Staff, towns: dict[str, str], open_cases: int = 0,
               points: dict[str, IntakePoint] | None = None) -> dict:
    point = (points or {}).get(staff.intake_point_code) if staff.intake_point_code else None
    return {"id": staff.id, "username": staff.username, "display_name": staff.display_name, "role": staff.role,
            "role_text": ROLE_TEXT.get(staff.role, staff.role),
            "towns": [{"code": c, "name": towns.get(c, c)} for c in staff.town_codes or []],
            "intake_point": ({"code": staff.intake_point_code, "name": point.name if point else staff.intake_point_code}
                             if staff.intake_point_code else None),
            "credential_no": staff.credential_no, "phone": staff.phone_masked, "active": staff.active,
            "open_cases": open_cases}


def _snapshot(staff: Staff) -> dict:
    """What the audit keeps of an account: no password hash, the phone masked."""
    return {"display_name": staff.display_name, "role": staff.role, "towns": list(staff.town_codes or []),
            "intake_point": staff.intake_point_code,
            "credential_no": staff.credential_no, "phone": staff.phone_masked, "active": staff.active}


def role_choices() -> list[dict]:
    return [{"value": r, "text": ROLE_CHOICE_TEXT.get(r, ROLE_TEXT.get(r, r))} for r in STAFF_ROLES]


def intake_point_choices(session: Session) -> list[dict]:
    """The counters an account can be set to (the account form's select), grouped by kind."""
    return [{"code": p.code, "name": p.name, "kind": p.kind, "town_code": p.town_code}
            for p in _points(session).values()]


def list_staff(session: Session, principal: Principal, *, role: str | None = None, town: str | None = None,
               include_inactive: bool = True) -> list[dict]:
    require_admin(principal)
    stmt = select(Staff).order_by(Staff.role, Staff.username)
    if role:
        stmt = stmt.where(Staff.role == role)
    if not include_inactive:
        stmt = stmt.where(Staff.active.is_(True))
    rows = [s for s in session.scalars(stmt) if not town or town in (s.town_codes or [])]
    towns, points = _towns(session), _points(session)
    loads = open_case_counts(session, [s.id for s in rows if s.role == Role.AGENT])
    return [staff_view(s, towns, loads.get(s.id, 0), points) for s in rows]


def _get(session: Session, username: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.username == (username or "").strip()))
    if staff is None:
        raise NotFound("staff_not_found", f"没有用户名为“{username}”的人员")
    return staff


def _clean(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _check_profile(session: Session, staff_id: int | None, body: dict, towns: dict[str, str],
                   problems: list[tuple[str, str]]) -> dict:
    """display_name, role, towns, credential_no, mobile — checked together, every problem reported."""
    name = _clean(body.get("display_name"))
    if not name:
        problems.append(("display_name", "请填写姓名"))
    elif len(name) > 32:
        problems.append(("display_name", "姓名不能超过32个字"))

    role = _clean(body.get("role"))
    if role not in STAFF_ROLES:
        problems.append(("role", "请选择角色：镇审核人、代办员、轮值组长、县级管理员或接件员"))

    raw_towns = body.get("towns") or []
    codes = [c.strip() for c in raw_towns if isinstance(c, str) and c.strip()] if isinstance(raw_towns, list) else []
    unknown = [c for c in codes if c not in towns]
    codes = list(dict.fromkeys(codes))
    if unknown:
        problems.append(("towns", f"没有这个镇：{'、'.join(unknown)}"))
    elif role == Role.AGENT and len(codes) != 1:
        problems.append(("towns", "代办员属于一个镇，请只选一个镇"))
    elif role == Role.TOWN_REVIEWER and not codes:
        problems.append(("towns", "镇审核人至少要负责一个镇"))
    elif role in STAFF_ROLES and may(role, Permission.ALL_TOWNS) and codes:
        problems.append(("towns", "轮值组长和县级管理员管全县，不用选镇"))
    elif role == Role.COUNTER_CLERK and codes:
        problems.append(("towns", "接件员接待各镇的群众，不用选镇，请选接件点"))
    point = _check_intake_point(session, body, role, problems)

    credential = _clean(body.get("credential_no")) or None
    if role == Role.AGENT and not credential:
        problems.append(("credential_no", "代办员要亮证上岗，请填写代办员证号（如 茂代字2026-021）"))
    elif role != Role.AGENT and credential:
        problems.append(("credential_no", "只有代办员有代办员证号，其他角色请留空"))
    elif credential and len(credential) > 32:
        problems.append(("credential_no", "代办员证号不能超过32个字"))
    elif credential:
        holder = session.scalar(select(Staff).where(Staff.credential_no == credential))
        if holder is not None and holder.id != staff_id:
            problems.append(("credential_no", f"证号“{credential}”已经是{holder.display_name}（{holder.username}）的"))

    mobile_raw = _clean(body.get("mobile"))
    mobile = None
    if mobile_raw:
        try:
            mobile = validate_mobile(mobile_raw)
        except ValidationFailed as exc:
            problems.append(("mobile", exc.message))
    elif role == Role.AGENT:
        problems.append(("mobile", "代办员的工作手机号要告诉居民，请填写"))
    return {"display_name": name, "role": role, "towns": codes, "intake_point": point, "credential_no": credential,
            "mobile": mobile}


def _check_intake_point(session: Session, body: dict, role: str, problems: list[tuple[str, str]]) -> str | None:
    """A clerk needs the counter they work at; an agent may have one (their window, for walk-ins)."""
    code = _clean(body.get("intake_point")) or None
    if code is None:
        if role == Role.COUNTER_CLERK:
            problems.append(("intake_point", "接件员要选所在的接件点（村便民服务站、镇便民服务中心或县城代办点窗口）"))
        return None
    if not may(role, Permission.WORKS_AT_COUNTER):
        problems.append(("intake_point", "只有接件员和代办员设接件点，其他角色请不选"))
    elif code not in _points(session):
        problems.append(("intake_point", f"没有“{code}”这个接件点，请从列表里选"))
    return code


def _check_password(password, username: str, problems: list[tuple[str, str]], field: str = "password") -> str:
    password = password if isinstance(password, str) else ""
    if len(password) < MIN_PASSWORD:
        problems.append((field, f"密码至少{MIN_PASSWORD}位"))
    elif not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        problems.append((field, "密码要同时有字母和数字"))
    elif password.lower() == username.lower():
        problems.append((field, "密码不能和用户名一样"))
    return password


def _apply(staff: Staff, profile: dict) -> None:
    staff.display_name, staff.role = profile["display_name"], profile["role"]
    staff.town_codes, staff.credential_no = profile["towns"], profile["credential_no"]
    staff.intake_point_code = profile["intake_point"]
    if profile["mobile"]:
        staff.phone_enc, staff.phone_masked = pii.encrypt(profile["mobile"]), pii.mask_phone(profile["mobile"])
    else:
        staff.phone_enc = staff.phone_masked = None


def create_staff(session: Session, principal: Principal, body: dict, now: dt.datetime | None = None) -> dict:
    require_admin(principal)
    towns = _towns(session)
    problems: list[tuple[str, str]] = []
    username = _clean(body.get("username")).lower()
    if not USERNAME.match(username):
        problems.append(("username", "用户名用3到64位小写字母、数字、点、横线或下划线，以字母开头（如 agent-chibusu-3）"))
    elif session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        problems.append(("username", f"用户名“{username}”已经有人用了"))
    profile = _check_profile(session, None, body, towns, problems)
    password = _check_password(body.get("password"), username, problems)
    refuse(problems, "staff_invalid")
    staff = Staff(username=username, password_hash=hash_password(password), active=True)
    _apply(staff, profile)
    session.add(staff)
    session.flush()
    record(session, principal, "staff", username, "create",
           f"新增{ROLE_TEXT.get(staff.role, staff.role)} {staff.display_name}（{username}）", None, _snapshot(staff), now=now)
    session.flush()
    return staff_view(staff, towns, points=_points(session))


def update_staff(session: Session, principal: Principal, username: str, body: dict,
                 now: dt.datetime | None = None) -> dict:
    """Changes name, role, towns, credential number or phone; fields left out keep their values."""
    require_admin(principal)
    staff = _get(session, username)
    towns = _towns(session)
    current = {"display_name": staff.display_name, "role": staff.role, "towns": list(staff.town_codes or []),
               "intake_point": staff.intake_point_code or "", "credential_no": staff.credential_no or "",
               "mobile": pii.decrypt(staff.phone_enc) if staff.phone_enc else ""}
    merged = {**current, **{k: v for k, v in body.items() if k in current and v is not None}}
    problems: list[tuple[str, str]] = []
    if principal.staff is not None and principal.staff.id == staff.id and merged["role"] != staff.role:
        problems.append(("role", "不能修改自己的角色，请另一位管理员操作"))
    profile = _check_profile(session, staff.id, merged, towns, problems)
    refuse(problems, "staff_invalid")
    before = _snapshot(staff)
    _apply(staff, profile)
    after = _snapshot(staff)
    changed = changed_fields(before, after)
    if changed:
        words = {"display_name": "姓名", "role": "角色", "towns": "所属镇", "intake_point": "接件点",
                 "credential_no": "代办员证号", "phone": "手机号"}
        record(session, principal, "staff", staff.username, "update",
               f"修改人员 {staff.display_name}（{staff.username}）：{'、'.join(words[k] for k in changed)}",
               {k: before[k] for k in changed}, {k: after[k] for k in changed}, now=now)
    if {"role", "towns", "intake_point"} & set(changed):  # what they may see changed: sign in again
        end_all_sessions(session, staff.id, now=now)
    session.flush()
    return staff_view(staff, towns, open_case_counts(session, [staff.id]).get(staff.id, 0), _points(session))


def set_active(session: Session, principal: Principal, username: str, active: bool,
               now: dt.datetime | None = None) -> dict:
    """Deactivating signs the account out everywhere (its sessions end) and
    takes an agent out of new-case assignment; cases already held are named for reassignment."""
    require_admin(principal)
    staff = _get(session, username)
    if not active and principal.staff is not None and principal.staff.id == staff.id:
        raise Conflict("cannot_deactivate_self", "不能停用自己的账号")
    towns = _towns(session)
    held = open_case_counts(session, [staff.id]).get(staff.id, 0)
    if staff.active != active:
        before = _snapshot(staff)
        staff.active = active
        if not active:
            end_all_sessions(session, staff.id, now=now)
        record(session, principal, "staff", staff.username, "activate" if active else "deactivate",
               f"{'启用' if active else '停用'}人员 {staff.display_name}（{staff.username}）", before, _snapshot(staff), now=now)
        session.flush()
    view = staff_view(staff, towns, held, _points(session))
    if active:
        view["notice"] = f"已启用 {staff.display_name} 的账号"
    else:
        view["notice"] = f"已停用 {staff.display_name} 的账号，不能再登录，也不再分到新办件" + (
            f"。还有 {held} 件在办的办件，请轮值组长转给本镇其他代办员" if held else "")
    return view


def reset_password(session: Session, principal: Principal, username: str, password, now: dt.datetime | None = None) -> dict:
    require_admin(principal)
    staff = _get(session, username)
    problems: list[tuple[str, str]] = []
    password = _check_password(password, staff.username, problems)
    refuse(problems, "password_invalid")
    staff.password_hash = hash_password(password)
    # An admin resetting their own password stays signed in on this device only.
    own = principal.session_id if principal.staff is not None and principal.staff.id == staff.id else None
    end_all_sessions(session, staff.id, keep=own, now=now)
    record(session, principal, "staff", staff.username, "reset_password",
           f"重置 {staff.display_name}（{staff.username}）的密码", now=now)
    session.flush()
    view = staff_view(staff, _towns(session), points=_points(session))
    view["notice"] = f"已重置 {staff.display_name} 的密码，请当面或电话告诉本人"
    return view
