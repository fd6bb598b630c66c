"""Responses that may carry personal data are never kept by a browser or a shared cache.

A pure ASGI middleware: every response under the JSON API, the web chat's API and the staff pages
gets `Cache-Control: no-store` (the staff pages' static files excepted), whatever the route set.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIVATE_PREFIXES = ("/api/v1", "/chat/api", "/staff")
PUBLIC_PREFIXES = ("/staff/static/",)


def is_private(path: str) -> bool:
    return path.startswith(PRIVATE_PREFIXES) and not path.startswith(PUBLIC_PREFIXES)


class NoStoreMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_private(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, send_no_store)
