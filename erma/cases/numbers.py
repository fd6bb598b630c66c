"""Readable, unique case numbers: EM-YYYYMMDD-NNNN, counted per China date."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma.cases.models import CaseNumberCounter


def next_in_sequence(session: Session, model, key_column, key) -> int:
    """Atomically take the next number of a counter row (row-locked by the UPDATE)."""
    stmt = (update(model).where(key_column == key).values(last=model.last + 1).returning(model.last))
    value = session.execute(stmt).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(model).values({key_column.key: key, "last": 0}))
        except IntegrityError:
            pass  # another transaction created it first
        value = session.execute(stmt).scalar()
    return value


def next_case_no(session: Session, today: dt.date) -> str:
    day = today.strftime("%Y%m%d")
    n = next_in_sequence(session, CaseNumberCounter, CaseNumberCounter.day, day)
    return f"EM-{day}-{n:04d}"
