"""Seeding the staff accounts and the duty rota from the county's staff file (catalog/demo_staff.yaml)
into the database: an upsert, so the county can replace the file. Reading the county's other facts
(places, the service point, office hours) is erma.county_data's (reference layer); accounts belong
to the staff domain, so loading them lives here."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from erma import pii
from erma.county_data import CountyDataError, read_yaml
from erma.permissions import STAFF_ROLES, Role
from erma.phones import validate_mobile
from erma.places.models import IntakePoint
from erma.staff.auth import hash_password, verify_password
from erma.staff.models import DutyRota, Staff
from erma.staff.sessions import end_all_sessions


def load_staff(session: Session, path: Path, keep_usernames: frozenset[str] = frozenset()) -> None:
    """Accounts in `keep_usernames` (changed by a county admin) stay as they are."""
    data = read_yaml(path)
    default_password = data.get("demo_password")
    by_username: dict[str, Staff] = {}
    for i, s in enumerate(data.get("staff", []), start=1):
        where = f"{path} 第 {i} 个人员（{s.get('username')}）"
        if s.get("role") not in STAFF_ROLES:
            raise CountyDataError(f"{where} 的 role 无效：{s.get('role')}")
        password = s.get("password") or default_password
        if not password:
            raise CountyDataError(f"{where} 没有密码")
        try:
            phone = validate_mobile(str(s["mobile"])) if s.get("mobile") else None
        except Exception:  # noqa: BLE001 - reported with the entry's name below
            raise CountyDataError(f"{where} 的手机号码无效") from None
        point = _intake_point(session, s, where)
        staff = session.scalar(select(Staff).where(Staff.username == s["username"])) or Staff(username=s["username"])
        if staff.id is not None and staff.username in keep_usernames:
            by_username[staff.username] = staff
            continue
        before = ((staff.role, list(staff.town_codes or []), staff.intake_point_code, staff.active)
                  if staff.id is not None else None)
        password_changed = not staff.password_hash or not verify_password(staff.password_hash, password)
        if password_changed:
            staff.password_hash = hash_password(password)
        staff.display_name = s["display_name"]
        staff.role = s["role"]
        staff.town_codes = list(s.get("towns") or ([s["town_code"]] if s.get("town_code") else []))
        staff.intake_point_code = point
        staff.credential_no = s.get("credential_no")
        staff.phone_enc = pii.encrypt(phone) if phone else None
        staff.phone_masked = pii.mask_phone(phone) if phone else None
        staff.active = bool(s.get("active", True))
        # Like an admin's change: a new password, role or towns, or deactivation ends the sessions.
        if before is not None and (password_changed or before[:3] != (staff.role, staff.town_codes, point)
                                   or (before[3] and not staff.active)):
            end_all_sessions(session, staff.id)
        session.add(staff)
        by_username[staff.username] = staff
    session.flush()
    session.execute(delete(DutyRota))
    for r in data.get("duty_rota", []):
        lead = by_username.get(r["username"])
        if lead is None:
            raise CountyDataError(f"{path} 轮值表中的 {r['username']} 不在人员名单里")
        session.add(DutyRota(staff_id=lead.id, start_date=_date(r["start_date"]), end_date=_date(r["end_date"])))
    session.flush()


def _intake_point(session: Session, entry: dict, where: str) -> str | None:
    """The counter an entry works at (`intake_point`, a code from places.yaml); a clerk must have one."""
    code = entry.get("intake_point")
    if not code:
        if entry.get("role") == Role.COUNTER_CLERK:
            raise CountyDataError(f"{where} 是接件员，要写 intake_point（所在接件点的编码）")
        return None
    point = session.get(IntakePoint, str(code))
    if point is None or point.kind == "online":
        raise CountyDataError(f"{where} 的 intake_point 不是已知的线下接件点：{code}")
    return point.code


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
