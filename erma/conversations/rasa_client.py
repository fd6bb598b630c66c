"""Forwarding a resident's message to Rasa's REST channel (`POST /webhooks/rest/webhook`), and
injecting an intent for a push (`POST /conversations/{id}/trigger_intent`, the rating request).

Configuration (read at call time): `RASA_URL` (default from settings, http://127.0.0.1:5005),
`RASA_AUTH_TOKEN` (sent as `?token=`, Rasa's `--auth-token`), `RASA_TIMEOUT_SECONDS` (default 15;
an answer may include action-server round trips). Any failure raises `RasaUnavailable`, whose
text never contains the URL (the token is in its query string).
"""
from __future__ import annotations

import os
from urllib.parse import quote

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


def _post(path: str, body: dict, params: dict | None = None):
    token = os.environ.get("RASA_AUTH_TOKEN")
    timeout = _timeout()
    try:
        response = httpx.post(f"{rasa_url()}{path}", params={**(params or {}), **({"token": token} if token else {})},
                              json=body, timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)))
    except httpx.TimeoutException:
        raise RasaUnavailable("timeout", "智能助手响应超时") from None
    except httpx.HTTPError:
        raise RasaUnavailable("unreachable", "连不上智能助手") from None
    if response.status_code != 200:
        raise RasaUnavailable(f"http_{response.status_code}", f"智能助手返回错误（HTTP {response.status_code}）")
    try:
        return response.json()
    except ValueError:
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别") from None


def _messages(data) -> list[dict]:
    if not isinstance(data, list):
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别")
    return [m for m in data if isinstance(m, dict)]


def send_message(sender: str, message: str, metadata: dict | None = None) -> list[dict]:
    """Rasa's replies (each `{"recipient_id", "text"?, "buttons"?, ...}`), in order."""
    return _messages(_post("/webhooks/rest/webhook", {"sender": sender, "message": message, "metadata": metadata or {}}))


def trigger_intent(sender: str, intent: str, entities: dict | None = None) -> list[dict]:
    """Injects an intent (e.g. EXTERNAL_ask_rating) into the conversation, as if the resident had said
    it; returns the assistant's messages. No `output_channel` is named, so Rasa collects the
    messages into its answer (rasa-notes §3) and the platform delivers them; events are not asked for."""
    data = _post(f"/conversations/{quote(sender, safe='')}/trigger_intent",
                 {"name": intent, "entities": entities or {}}, params={"include_events": "NONE"})
    if not isinstance(data, dict):
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别")
    return _messages(data.get("messages", []))
