"""Slows down password guessing on staff sign-in: after too many failures for one username from one
client address, for one username from anywhere, or from one client address within the window,
further attempts are refused for the lock time, even with the right password.

The trade-off (README, "Staff pages"): a username is locked for everybody only after many failures
from many addresses (distributed guessing); a few failures from one address lock that address out
of that account, so one stranger cannot lock an admin out by typing five wrong passwords. Counted in the database, so every platform process sees the same
failures. An unknown username is counted and refused exactly like a real one, so the answer
never tells whether an account exists."""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from erma.db import as_utc
from erma.errors import TooManyRequests
from erma.settings import get_settings
from erma.staff.models import SignInFailure


def _user_key(username: str) -> str:
    return f"user:{(username or '').strip().lower()}"[:80]


def _user_at_client_key(username: str, client: str) -> str:
    return f"{_user_key(username)[:50]}@{client}"[:80]


def _client_key(client: str) -> str:
    return f"client:{client}"[:80]


def _locked_until(times: list[dt.datetime], limit: int, window: dt.timedelta,
                  lock: dt.timedelta) -> dt.datetime | None:
    """The end of the latest lock: `limit` failures within `window` lock for `lock` after the last of them."""
    times = sorted(times)
    until = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= window:
            until = times[i] + lock
    return until


def seconds_locked(session: Session, username: str, client: str, now: dt.datetime) -> int:
    """How long sign-in stays refused for this username or client address (0 = not locked)."""
    settings = get_settings()
    window = dt.timedelta(seconds=settings.sign_in_failure_window_seconds)
    lock = dt.timedelta(seconds=settings.sign_in_lock_seconds)
    limits = {_user_at_client_key(username, client): settings.sign_in_max_failures_per_username,
              _user_key(username): settings.sign_in_max_failures_per_username_anywhere,
              _client_key(client): settings.sign_in_max_failures_per_client}
    times: dict[str, list[dt.datetime]] = {key: [] for key in limits}
    for key, at in session.execute(select(SignInFailure.key, SignInFailure.at)
                                   .where(SignInFailure.key.in_(list(limits)), SignInFailure.at >= now - window - lock)):
        times[key].append(as_utc(at))
    wait = 0.0
    for key, limit in limits.items():
        until = _locked_until(times[key], limit, window, lock)
        if until is not None and until > now:
            wait = max(wait, (until - now).total_seconds())
    return math.ceil(wait)


def refuse_if_locked(session: Session, username: str, client: str, now: dt.datetime) -> None:
    wait = seconds_locked(session, username, client, now)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        raise TooManyRequests("sign_in_throttled",
                              f"登录失败次数太多，为了账号安全，请{minutes}分钟后再试。忘记密码请联系县级管理员。",
                              retry_after=wait)


def record_failure(session: Session, username: str, client: str, now: dt.datetime) -> None:
    """Counts a failed sign-in (not committed) and drops failures too old to matter any more."""
    settings = get_settings()
    horizon = now - dt.timedelta(seconds=settings.sign_in_failure_window_seconds + settings.sign_in_lock_seconds)
    session.execute(delete(SignInFailure).where(SignInFailure.at < horizon))
    session.add_all([SignInFailure(key=key, at=now) for key in
                     (_user_at_client_key(username, client), _user_key(username), _client_key(client))])
    session.flush()


def clear_username(session: Session, username: str, client: str) -> None:
    """A successful sign-in forgets the username's failures (not the address's: one good account
    must not reset the count of someone guessing others from the same place)."""
    session.execute(delete(SignInFailure).where(SignInFailure.key.in_(
        [_user_key(username), _user_at_client_key(username, client)])))
