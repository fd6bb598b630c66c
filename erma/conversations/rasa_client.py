"""Forwarding a resident's message to Rasa's REST channel (`POST /webhooks/rest/webhook`), and
injecting an intent for a push (`POST /conversations/{id}/trigger_intent`, the rating request).

Configuration (read at call time): `RASA_URL` (default from settings, http://127.0.0.1:5005),
`RASA_AUTH_TOKEN` (sent as `?token=`, Rasa's `--auth-token`), `RASA_TIMEOUT_SECONDS` (default 15;
an answer may include action-server round trips). Any failure raises `RasaUnavailable`, whose
text never contains the URL (the token is in its query string).

Connections are kept (a new client per call cost ~19 ms of a message: a client, an SSL context and
a TCP connection each time): the web chat and the channel API await `send_message` on one
`httpx.AsyncClient` per process and event loop (made on first use, closed by the app's lifespan,
`aclose`); the blocking callers (the WeChat callback in the threadpool, the outbox worker's rating
request) share one `httpx.Client` per process (`send_message_blocking`, `trigger_intent`).
"""
from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx

from erma import log_redaction
from erma.settings import get_settings

DEFAULT_TIMEOUT_SECONDS = 15.0
# Up to this many messages in flight to Rasa from one process; a kept connection each.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=32)
log_redaction.protect_http_client_logs()

_async_client: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None
_blocking_client: httpx.Client | None = None
_blocking_lock = threading.Lock()


class RasaUnavailable(Exception):
    """Rasa did not answer usefully; `reason` is a short Chinese description for the transcript."""

    def __init__(self, kind: str, reason: str):
        super().__init__(kind)
        self.kind = kind
        self.reason = reason


def rasa_url() -> str:
    return (os.environ.get("RASA_URL") or get_settings().rasa_url).rstrip("/")


def timeout_seconds() -> float:
    """How long the gateway waits for Rasa's answer to one message."""
    try:
        return float(os.environ.get("RASA_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS


# Names the conversation of every call to Rasa, so that a load balancer in front of several Rasa replicas
# can keep a conversation on one replica (its tracker stays in that replica's memory; the scaled set-up's
# HAProxy hashes on it, scripts/scaled/haproxy.cfg). Any replica can still answer any conversation.
CONVERSATION_HEADER = "X-Erma-Conversation"


def _request(path: str, params: dict | None) -> tuple[str, dict, httpx.Timeout]:
    token = os.environ.get("RASA_AUTH_TOKEN")
    timeout = timeout_seconds()
    return (f"{rasa_url()}{path}", {**(params or {}), **({"token": token} if token else {})},
            httpx.Timeout(timeout, connect=min(3.0, timeout)))


def _headers(sender: str) -> dict:
    return {CONVERSATION_HEADER: sender}


def _answer(response: httpx.Response):
    if response.status_code != 200:
        raise RasaUnavailable(f"http_{response.status_code}", f"智能助手返回错误（HTTP {response.status_code}）")
    try:
        return response.json()
    except ValueError:
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别") from None


def _client() -> httpx.AsyncClient:
    """This process's client for the running event loop (a test's TestClient may run several loops)."""
    global _async_client
    loop = asyncio.get_running_loop()
    if _async_client is None or _async_client[0] is not loop or _async_client[1].is_closed:
        _async_client = (loop, httpx.AsyncClient(limits=POOL_LIMITS))
    return _async_client[1]


def _blocking() -> httpx.Client:
    global _blocking_client
    with _blocking_lock:
        if _blocking_client is None or _blocking_client.is_closed:
            _blocking_client = httpx.Client(limits=POOL_LIMITS)
        return _blocking_client


async def aclose() -> None:
    """Closes the kept async client (the app's lifespan, at shutdown)."""
    global _async_client
    kept, _async_client = _async_client, None
    if kept is not None and kept[0] is asyncio.get_running_loop():
        await kept[1].aclose()


@contextmanager
def _unavailable_on_failure() -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException:
        raise RasaUnavailable("timeout", "智能助手响应超时") from None
    except httpx.HTTPError:
        raise RasaUnavailable("unreachable", "连不上智能助手") from None


async def _send(sender: str, method: str, path: str, body: dict | None = None, params: dict | None = None):
    url, query, timeout = _request(path, params)
    with _unavailable_on_failure():
        response = await _client().request(method, url, params=query, json=body, timeout=timeout,
                                           headers=_headers(sender))
    return _answer(response)


def _post_blocking(sender: str, path: str, body: dict, params: dict | None = None):
    url, query, timeout = _request(path, params)
    with _unavailable_on_failure():
        response = _blocking().post(url, params=query, json=body, timeout=timeout, headers=_headers(sender))
    return _answer(response)


def _messages(data) -> list[dict]:
    if not isinstance(data, list):
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别")
    return [m for m in data if isinstance(m, dict)]


def _webhook_body(sender: str, message: str, metadata: dict | None) -> dict:
    return {"sender": sender, "message": message, "metadata": metadata or {}}


async def send_message(sender: str, message: str, metadata: dict | None = None) -> list[dict]:
    """Rasa's replies (each `{"recipient_id", "text"?, "buttons"?, ...}`), in order."""
    return _messages(await _send(sender, "POST", "/webhooks/rest/webhook", _webhook_body(sender, message, metadata)))


def _tracker_path(sender: str) -> str:
    return f"/conversations/{quote(sender, safe='')}/tracker"


_TRACKER_PARAMS = {"include_events": "AFTER_RESTART"}


def _turn(sender: str, data, seq: int) -> list[dict] | None:
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别")
    answer: list[dict] | None = None
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("event") == "user":
            if answer is not None:
                break  # the next message's turn
            if (event.get("metadata") or {}).get("erma_seq") == seq:
                answer = []
        elif event.get("event") == "bot" and answer is not None:
            data = event.get("data") or {}
            answer.append({"recipient_id": sender, "text": event.get("text"),
                           **({"buttons": data["buttons"]} if data.get("buttons") else {})})
    return answer


async def saved_answer(sender: str, seq: int) -> list[dict] | None:
    """The assistant's messages of the turn Rasa saved for the resident's message `seq` (sent with
    metadata `erma_seq`), in send_message's shape; None when Rasa has no such turn."""
    return _turn(sender, await _send(sender, "GET", _tracker_path(sender), params=_TRACKER_PARAMS), seq)


def saved_answer_blocking(sender: str, seq: int) -> list[dict] | None:
    """`saved_answer` for a caller in a worker thread (the WeChat callback)."""
    url, query, timeout = _request(_tracker_path(sender), _TRACKER_PARAMS)
    with _unavailable_on_failure():
        response = _blocking().get(url, params=query, timeout=timeout, headers=_headers(sender))
    return _turn(sender, _answer(response), seq)


def send_message_blocking(sender: str, message: str, metadata: dict | None = None) -> list[dict]:
    """`send_message` for a caller in a worker thread (the WeChat callback)."""
    return _messages(_post_blocking(sender, "/webhooks/rest/webhook", _webhook_body(sender, message, metadata)))


def trigger_intent(sender: str, intent: str, entities: dict | None = None) -> list[dict]:
    """Injects an intent (e.g. EXTERNAL_ask_rating) into the conversation, as if the resident had said
    it; returns the assistant's messages. No `output_channel` is named, so Rasa collects the
    messages into its answer (rasa-notes §3) and the platform delivers them; events are not asked for."""
    data = _post_blocking(sender, f"/conversations/{quote(sender, safe='')}/trigger_intent",
                 {"name": intent, "entities": entities or {}}, params={"include_events": "NONE"})
    if not isinstance(data, dict):
        raise RasaUnavailable("bad_response", "智能助手的回复无法识别")
    return _messages(data.get("messages", []))
