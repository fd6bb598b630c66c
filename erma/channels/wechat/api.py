"""The Official Account server API: access_token (shared through the database) and
customer-service text messages.

`GET {base}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…` → {"access_token", "expires_in"}
`POST {base}/cgi-bin/message/custom/send?access_token=…` with {"touser", "msgtype": "text", "text": {"content"}}
Errors come back as HTTP 200 with a non-zero `errcode`. The token and secret travel in query
strings, so neither ever goes into an exception text or a log line.
"""
from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma import log_redaction
from erma.channels.wechat.models import WechatAccessToken
from erma.db import as_utc, utcnow
from erma.settings import get_settings
from erma.unit_of_work import end_step

TOKEN_INVALID = {40001, 40014, 42001}  # invalid credential / invalid token / token expired
OUT_OF_WINDOW = 45015  # the resident has not interacted within the customer-service window
REFRESH_MARGIN = dt.timedelta(minutes=5)
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
log_redaction.protect_http_client_logs()


class WechatApiError(Exception):
    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


def _base() -> str:
    return get_settings().wechat_api_base.rstrip("/")


def _call(method: str, path: str, **kwargs) -> dict:
    try:
        response = httpx.request(method, f"{_base()}{path}", timeout=TIMEOUT, **kwargs)
    except httpx.HTTPError as exc:
        raise WechatApiError(None, f"network: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise WechatApiError(None, f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise WechatApiError(None, "response is not JSON") from None
    if not isinstance(data, dict):
        raise WechatApiError(None, "response is not an object")
    if data.get("errcode"):
        raise WechatApiError(int(data["errcode"]), str(data.get("errmsg") or ""))
    return data


def _fetch_token(session: Session, app_id: str) -> str:
    settings = get_settings()
    data = _call("GET", "/cgi-bin/token", params={"grant_type": "client_credential", "appid": app_id,
                                                  "secret": settings.wechat_app_secret})
    token, expires_in = data.get("access_token"), int(data.get("expires_in") or 7200)
    if not token:
        raise WechatApiError(None, "no access_token in response")
    now = utcnow()
    # Refreshed "shortly before" expiry: a margin of 5 minutes (or a tenth of a short lifetime).
    margin = min(REFRESH_MARGIN, dt.timedelta(seconds=expires_in / 10))
    values = {"access_token": token, "expires_at": now + dt.timedelta(seconds=expires_in) - margin, "fetched_at": now}
    row = session.get(WechatAccessToken, app_id, populate_existing=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(WechatAccessToken(app_id=app_id, **values))
            end_step(session)  # shared with every process at once; nothing stays open during the send
            return token
        except IntegrityError:
            row = session.get(WechatAccessToken, app_id, populate_existing=True)
    for key, value in values.items():
        setattr(row, key, value)
    end_step(session)
    return token


def access_token(session: Session, stale: str | None = None) -> str:
    """The cached token while it is fresh; a new one when expired or when `stale` was just rejected
    (unless another process has already replaced that one)."""
    app_id = get_settings().wechat_app_id
    if not app_id:
        raise WechatApiError(None, "WECHAT_APP_ID is not configured")
    row = session.get(WechatAccessToken, app_id, populate_existing=True)
    end_step(session)  # ends the read: no transaction is open while WeChat is called
    if row is not None and as_utc(row.expires_at) > utcnow() and row.access_token != stale:
        return row.access_token
    return _fetch_token(session, app_id)


def send_text(session: Session, openid: str, content: str) -> None:
    """One customer-service text message; a rejected token is refreshed and the send retried once."""
    body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
    token = access_token(session)
    try:
        _call("POST", "/cgi-bin/message/custom/send", params={"access_token": token}, json=body)
    except WechatApiError as exc:
        if exc.errcode not in TOKEN_INVALID:
            raise
        token = access_token(session, stale=token)
        _call("POST", "/cgi-bin/message/custom/send", params={"access_token": token}, json=body)
