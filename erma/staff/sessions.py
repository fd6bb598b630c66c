"""Server-side staff sessions: each sign-in opens a row, the signed token carries its random key,
and every authenticated request finds the row by the key's hash (one unique-index lookup, joined
to the account). Signing out revokes the row; a password reset, deactivation or a change of role
or towns revokes all of the member's rows, so old tokens and cookies stop working at once."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from erma.db import utcnow
from erma.staff.models import Staff, StaffSession

SESSION_SECONDS = 12 * 3600


def _hash(key: str) -> str:
    # The key is 256 random bits: a plain digest is enough, and keeps the per-request lookup cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def open_session(session: Session, staff: Staff, now: dt.datetime | None = None) -> str:
    """Records a new session for `staff` (not committed) and returns its key for the token."""
    now = now or utcnow()
    # Expired rows can never be used again; clearing them at sign-in keeps the table small.
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    key = secrets.token_urlsafe(32)
    session.add(StaffSession(key_hash=_hash(key), staff_id=staff.id, created_at=now,
                             expires_at=now + dt.timedelta(seconds=SESSION_SECONDS)))
    session.flush()
    return key


def find_session(session: Session, key: str) -> tuple[StaffSession, Staff] | None:
    """The session with this key and its account, whatever their state (the caller judges)."""
    row = session.execute(select(StaffSession, Staff).join(Staff, Staff.id == StaffSession.staff_id)
                          .where(StaffSession.key_hash == _hash(key))).first()
    return (row[0], row[1]) if row is not None else None


def end_session(session: Session, session_id: int, now: dt.datetime | None = None) -> None:
    """Revokes one session (sign-out); not committed."""
    session.execute(update(StaffSession).where(StaffSession.id == session_id, StaffSession.revoked_at.is_(None))
                    .values(revoked_at=now or utcnow()))


def end_all_sessions(session: Session, staff_id: int, *, keep: int | None = None,
                     now: dt.datetime | None = None) -> int:
    """Revokes every live session of a member, except `keep` (the admin's own, changing their own
    password); not committed. Returns how many were ended."""
    stmt = update(StaffSession).where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(StaffSession.id != keep)
    return session.execute(stmt.values(revoked_at=now or utcnow())).rowcount or 0
