"""Request bodies are bounded before anything parses them.

A pure ASGI middleware: a declared `Content-Length` over the limit is refused at once, and a body
without one (chunked) is read here chunk by chunk, counting, and refused as soon as it passes the
limit. A body within the limit is handed on unchanged. The refusal is 413 in the platform's
Chinese error shape. Nothing the platform accepts comes near these limits: JSON bodies are a few
KB, the staff sign-in form less than one, and a WeChat callback (a text message is at most 2,048
bytes, safe mode adds base64 and the XML envelope) a few KB.
"""
from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from erma.errors import PayloadTooLarge

KB = 1024
JSON_LIMIT = 64 * KB
LIMITS = {"application/json": JSON_LIMIT, "application/x-www-form-urlencoded": 16 * KB,
          "text/xml": 64 * KB, "application/xml": 64 * KB}
DEFAULT_LIMIT = 64 * KB  # any other (or no) content type: the platform parses none of them anyway


def limit_for(content_type: str) -> int:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type.endswith("+json"):
        media_type = "application/json"
    return LIMITS.get(media_type, DEFAULT_LIMIT)


def _too_large(limit: int) -> JSONResponse:
    error = PayloadTooLarge("body_too_large", f"提交的内容太大了，不能超过 {limit // KB} KB", field="body")
    return JSONResponse(error.as_dict(), status_code=error.status_code, headers={"Connection": "close"})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = limit_for(headers.get("content-type", ""))
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        body, messages = await _read_bounded(receive, limit)
        if body is None:
            await _too_large(limit)(scope, receive, send)
            return
        await self.app(scope, _replay(body, messages, receive), send)


async def _read_bounded(receive: Receive, limit: int) -> tuple[bytes | None, list[Message]]:
    """The whole body (None once it passes `limit`), and any non-body message met on the way."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]  # the client went away: let the app see that
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, []
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), []


def _replay(body: bytes, pending: list[Message], receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if pending:
            return pending.pop(0)
        return await receive()  # e.g. waiting for the disconnect of an event stream

    return replay
