"""Forwarding a resident's message to Rasa's REST channel (`POST /webhooks/rest/webhook`).

Configuration (read at call time): `RASA_URL` (default from settings, http://127.0.0.1:5005),
`RASA_AUTH_TOKEN` (sent as `?token=`, Rasa's `--auth-token`), `RASA_TIMEOUT_SECONDS` (default 15;
an answer may include action-server round trips). Any failure raises `RasaUnavailable`, whose
text never contains the URL (the token is in its query string).
"""
from __future__ import annotations

import os

import httpx

from erma import log_redaction
from erma.settings import get_settings

DEFAULT_TIMEOUT_SECONDS = 15.0
log_redaction.protect_http_client_logs()


class RasaUnavailable(Exception):
    """Rasa did not answer usefully; `reason` is a short Chinese description for the transcript."""

    def __init__(self, kind: str, reason: str):
        super().__init__(kind)
        self.kind = kind
        self.reason = reason


def rasa_url() -> str:
    return (os.environ.get("RASA_URL") or get_settings().rasa_url).rstrip("/")


def _timeout() -> float:
    try:
        return float(os.environ.get("RASA_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS


def send_message(sender: str, message: str, metadata: dict | None = None) -> list[dict]:
    """Rasa's replies (each `{"recipient_id", "text"?, "buttons"?, ...}`), in order."""
    token = os.environ.get("RASA_AUTH_TOKEN")
    timeout = _timeout()
    try:
        response = httpx.post(f"{rasa_url()}/webhooks/rest/webhook",
                              params={"token": token} if token else None,
                              json={"sender": sender, "message": message, "metadata": metadata or {}},
                              timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)))
    except httpx.TimeoutException:
        raise RasaUnavailable("timeout", "智能助手响应超时") from None
    except httpx.HTTPError:
        raise RasaUnavailable("unreachable", "连不上智能助手") from None
    if response.status_code != 200:
        raise RasaUnavailable(f"http_{response.status_code}", f"智能助手返回错误（HTTP {response.status_code}）")
    try:
        data = response.json()
    except ValueError:
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别") from None
    if not isinstance(data, list):
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别")
    return [m for m in data if isinstance(m, dict)]
