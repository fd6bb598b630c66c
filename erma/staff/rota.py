"""The rotating duty lead (轮值组长) on a given day."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.permissions import Role
from erma.staff.models import DutyRota, Staff


def duty_lead_on(session: Session, day: dt.date) -> Staff | None:
    row = session.scalar(select(DutyRota).where(DutyRota.start_date <= day, DutyRota.end_date >= day)
                         .order_by(DutyRota.start_date.desc()))
    if row is not None:
        return session.get(Staff, row.staff_id)
    # No rota entry covers the day: fall back to any active duty lead so nothing is unassigned.
    return session.scalar(select(Staff).where(Staff.role == Role.DUTY_LEAD, Staff.active.is_(True))
                          .order_by(Staff.id))
