"""Replay protection for signed WeChat callbacks.

The signature only proves that WeChat (or whoever holds the token) once signed this timestamp and
nonce; it does not cover a plaintext body. So a request is accepted only when its timestamp is
within ±5 minutes of now and its nonce has not been seen in that window (WeChat sends a new nonce
with every request, retries included). Nonces are kept in the database, so every replica sees the
same ones; rows older than the window are purged as new ones arrive.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma.channels.wechat.models import WechatNonce
from erma.db import utcnow

WINDOW_SECONDS = 300
MAX_NONCE_LENGTH = 64


def timestamp_fresh(timestamp: str | None, now: dt.datetime | None = None) -> bool:
    """True for a Unix timestamp (seconds) within ±WINDOW_SECONDS of now."""
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    now = now or utcnow()
    return abs(now.timestamp() - int(timestamp)) <= WINDOW_SECONDS


def first_use(session: Session, nonce: str | None, now: dt.datetime | None = None) -> bool:
    """Remembers the nonce; False when it was already used within the window (a replay)."""
    if not nonce or len(nonce) > MAX_NONCE_LENGTH:
        return False
    now = now or utcnow()
    # Twice the window: a nonce is refused as long as a request carrying it could still be fresh.
    horizon = now - dt.timedelta(seconds=2 * WINDOW_SECONDS)
    try:
        with session.begin_nested():  # a replay rolls back to here; the caller's unit of work commits
            session.execute(delete(WechatNonce).where(WechatNonce.seen_at < horizon))
            session.add(WechatNonce(nonce=nonce, seen_at=now))
        return True
    except IntegrityError:
        return False


def accept(session: Session, timestamp: str | None, nonce: str | None, now: dt.datetime | None = None) -> bool:
    """The timestamp is fresh and the nonce unused (it is remembered from now on)."""
    return timestamp_fresh(timestamp, now) and first_use(session, nonce, now)
