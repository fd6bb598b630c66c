"""A logging filter that masks ID numbers and mobile numbers in every log line.

Services mask what they log themselves; this is the safety net for anything that slips
through (exception messages, request logs, third-party libraries).
"""
from __future__ import annotations

import logging
import re

from erma.pii import mask_id_number, mask_phone

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d{9})(?!\d)")


# Status lookups carry the last four digits in the query string; access logs must not keep them.
_LAST4_RE = re.compile(r"(last4=)[0-9Xx]{1,4}")
# Credentials travel in query strings (Rasa's ?token=, WeChat's access_token= and secret=).
_SECRET_RE = re.compile(r"((?:token|access_token|secret)=)[^&\s\"']+")
# WeChat's callback signs with these: a logged triple could be replayed (see channels/wechat/replay.py).
_WECHAT_SIGNED_RE = re.compile(r"(?<![A-Za-z0-9_])((?:signature|msg_signature|timestamp|nonce|echostr)=)[^&\s\"']*")


# PostgreSQL puts row values in an error's DETAIL ("Failing row contains (…杨子妹…雅都村…)",
# "Key (x)=(…) already exists"); SQLAlchemy adds "[parameters: …]" unless hide_parameters is set.
_SQL_DETAIL_RE = re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE)
_SQL_PARAMETERS_RE = re.compile(r"\[parameters: [^\n]*")
_TRACEBACK = logging.Formatter()


def redact(text: str) -> str:
    text = _SQL_DETAIL_RE.sub(r"\1 (values hidden)", text)
    text = _SQL_PARAMETERS_RE.sub("[parameters hidden]", text)
    text = _LAST4_RE.sub(r"\1****", text)
    text = _SECRET_RE.sub(r"\1***", text)
    text = _WECHAT_SIGNED_RE.sub(r"\1***", text)
    text = _ID_RE.sub(lambda m: mask_id_number(m.group(1)), text)
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(1)), text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            # Formatters print the cached traceback text: cache it redacted.
            record.exc_text = _TRACEBACK.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        message = record.getMessage()
        redacted = redact(message)
        if redacted == message:
            return True
        if isinstance(record.args, tuple):
            # Keep the arguments' shape: formatters such as uvicorn's access log unpack them.
            msg, args = record.msg, record.args
            record.msg = redact(msg) if isinstance(msg, str) else msg
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
            if record.getMessage() == redacted:
                return True
            record.msg, record.args = msg, args
        record.msg, record.args = redacted, None
        return True


def protect_http_client_logs() -> None:
    """httpx logs every request URL at INFO: keep credentials and personal data out of it."""
    lg = logging.getLogger("httpx")
    if not any(isinstance(f, RedactingFilter) for f in lg.filters):
        lg.addFilter(RedactingFilter())


def install(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of the root logger (and uvicorn's)."""
    targets = [logger] if logger else [logging.getLogger(), logging.getLogger("uvicorn"),
                                       logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
    for lg in targets:
        for handler in lg.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
        if not any(isinstance(f, RedactingFilter) for f in lg.filters):
            lg.addFilter(RedactingFilter())
