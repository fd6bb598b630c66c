"""The action server's only HTTP code: calls to the Erma platform API (docs/platform-api.md).

Async (aiohttp) so a slow platform never blocks the action server's event loop. Every call has
a timeout. Failures come back as two exceptions the actions understand:

* ``PlatformUnavailable`` — timeout, connection refused, 5xx, a rejected service token or an
  unreadable answer. The resident is told the system cannot be reached right now.
* ``PlatformError`` — a 4xx answer with the platform's Chinese ``message`` (and ``code``,
  ``field``), which the actions may show to the resident as is.

Logs carry the route template, status and timing only — never bodies or query strings, so no
ID number, phone or last-four digits reach a log line.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TOKEN = "dev-service-token"
DEFAULT_TIMEOUT_SECONDS = 5.0
# The platform names its catalog's version on every catalog and understanding answer; a change drops
# the items kept here. An item is also read again after this long, so a turn that reads only kept
# items (nothing else asked of the platform) is never older than that.
CATALOG_VERSION_HEADER = "X-Erma-Catalog-Version"
ITEM_CACHE_SECONDS = 60.0


class PlatformUnavailable(Exception):
    """The platform did not answer usefully (timeout, refused, 5xx, bad token, bad JSON)."""


class PlatformError(Exception):
    """The platform answered 4xx with a Chinese message meant for people."""

    def __init__(self, status: int, code: str, message: str, field: Optional[str] = None,
                 extra: Optional[Dict[str, Any]] = None):
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra or {}  # the rest of the platform's error (e.g. ``open_case``)


def _segment(value: str) -> str:
    return quote(str(value), safe="")


class PlatformClient:
    def __init__(self, base_url: Optional[str] = None, token: Optional[str] = None,
                 timeout_seconds: Optional[float] = None):
        self.base_url = (base_url or os.environ.get("ERMA_PLATFORM_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("ERMA_SERVICE_TOKEN") or DEFAULT_TOKEN
        self.timeout_seconds = float(timeout_seconds or os.environ.get("ERMA_PLATFORM_TIMEOUT")
                                     or DEFAULT_TIMEOUT_SECONDS)
        self._session: Optional[aiohttp.ClientSession] = None
        self._session_loop: Optional[asyncio.AbstractEventLoop] = None
        # Catalog items (GET /api/v1/services/{code}) as last read: code → (catalog version, read at, item).
        self.catalog_version: Optional[str] = None
        self._items: Dict[str, Tuple[Optional[str], float, Dict[str, Any]]] = {}

    async def _get_session(self) -> aiohttp.ClientSession:
        """One pooled session per event loop (the action server has one; tests have several)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
                headers={"Authorization": f"Bearer {self.token}"},
            )
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        """Closes the connections and forgets the kept items."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        self._items.clear()
        self.catalog_version = None

    def _heard_catalog_version(self, version: Optional[str]) -> None:
        """A new catalog version from the platform drops every kept item."""
        if version and version != self.catalog_version:
            self.catalog_version = version
            self._items.clear()

    async def _request(self, method: str, route: str, path: str, *,
                       params: Optional[Dict[str, Any]] = None, body: Optional[Dict[str, Any]] = None,
                       headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        """``route`` is the template used in logs; ``path`` the real path (may hold identifiers)."""
        started = time.monotonic()
        status: Any = "-"
        try:
            session = await self._get_session()
            async with session.request(method, self.base_url + path, params=params, json=body,
                                       headers=headers) as response:
                status = response.status
                self._heard_catalog_version(response.headers.get(CATALOG_VERSION_HEADER))
                if status >= 500:
                    raise PlatformUnavailable(f"{method} {route} answered {status}")
                if status in (401, 403):
                    logger.error("platform rejected the service token on %s %s (%s); "
                                 "check ERMA_SERVICE_TOKEN", method, route, status)
                    raise PlatformUnavailable(f"{method} {route} answered {status}")
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    raise PlatformUnavailable(f"{method} {route} answered {status} without JSON") from None
                if status >= 400:
                    error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
                    raise PlatformError(status, error.get("code", "error"),
                                        error.get("message") or "请求没有成功", error.get("field"),
                                        {k: v for k, v in error.items() if k not in ("code", "message", "field")})
                if not isinstance(data, dict):
                    raise PlatformUnavailable(f"{method} {route} answered {status} with unexpected JSON")
                return data
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            status = type(exc).__name__
            raise PlatformUnavailable(f"{method} {route}: {status}") from exc
        finally:
            logger.info("platform %s %s -> %s in %.0f ms", method, route, status,
                        (time.monotonic() - started) * 1000)

    # --- catalog -----------------------------------------------------------------------------
    async def resolve_item(self, text: str, phrase: Optional[str] = None, *, answer: bool = False,
                           town: Optional[str] = None, fact: Optional[str] = None) -> Dict[str, Any]:
        """Which item a service phrase means, read with the message it came in (the platform's rule):
        ``item`` (and ``name``) for one item, ``choices`` for a close call, neither for nothing.
        ``answer=True``: one item found comes with ``answer``, its one-time answer for ``town`` and
        ``fact`` (as ``requirements_answer``), in the same call."""
        body: Dict[str, Any] = {"text": text or ""}
        if phrase:
            body["phrase"] = phrase
        if answer:
            body.update({"answer": True, **{k: v for k, v in (("town", town), ("fact", fact)) if v}})
        return await self._request("POST", "/api/v1/understand/resolve", "/api/v1/understand/resolve", body=body)

    async def get_service(self, code: str) -> Dict[str, Any]:
        """The item, kept for this catalog version (and at most ITEM_CACHE_SECONDS)."""
        key = str(code).strip().upper()
        kept = self._items.get(key)
        if kept is not None and kept[0] == self.catalog_version and time.monotonic() - kept[1] < ITEM_CACHE_SECONDS:
            return kept[2]
        item = await self._request("GET", "/api/v1/services/{code}", f"/api/v1/services/{_segment(code)}")
        self._items[key] = (self.catalog_version, time.monotonic(), item)
        return item

    async def requirements_answer(self, code: str, town: Optional[str] = None,
                                  fact: Optional[str] = None) -> Dict[str, Any]:
        """The item's one-time answer as the platform words it (the guide page shows the same text):
        ``code``, ``name``, ``text``, ``lead``, ``guide_url`` and ``message`` (what the chat prints)."""
        params = {k: v for k, v in (("town", town), ("fact", fact)) if v}
        return await self._request("GET", "/api/v1/services/{code}/answer",
                                   f"/api/v1/services/{_segment(code)}/answer", params=params or None)

    async def checklist(self, code: str, text: str) -> Dict[str, Any]:
        return await self._request("POST", "/api/v1/services/{code}/checklist",
                                   f"/api/v1/services/{_segment(code)}/checklist", body={"text": text})

    # --- form fields -------------------------------------------------------------------------
    async def validate_field(self, field: str, value: str, conversation_id: Optional[str] = None) -> Dict[str, Any]:
        """``conversation_id`` (the sender id): where a reference in ``value`` (〔身份证#…〕) was made."""
        body: Dict[str, Any] = {"field": field, "value": value}
        if conversation_id:
            body["conversation_id"] = conversation_id
        return await self._request("POST", "/api/v1/validation", "/api/v1/validation", body=body)

    # --- cases -------------------------------------------------------------------------------
    async def create_case(self, body: Dict[str, Any], idempotency_key: str) -> Dict[str, Any]:
        return await self._request("POST", "/api/v1/cases", "/api/v1/cases", body=body,
                                   headers={"Idempotency-Key": idempotency_key})

    async def case_status(self, case_no: str, last4: str, conversation_id: str) -> Dict[str, Any]:
        """For the conversation asking: the platform counts failed tries per conversation, and a right
        answer lets that conversation follow the case from then on."""
        return await self._request("GET", "/api/v1/cases/{case_no}/status",
                                   f"/api/v1/cases/{_segment(case_no)}/status",
                                   params={"last4": last4, "conversation_id": conversation_id})

    async def find_cases(self, id_last6: str, conversation_id: str, phone_last4: Optional[str] = None,
                         applicant_name: Optional[str] = None) -> List[Dict[str, Any]]:
        """A resident's cases without the case number: the ID number's last six plus the phone's last
        four (or the applicant's name). Throttled by the platform; found cases follow the conversation."""
        body = {"id_last6": id_last6, "phone_last4": phone_last4, "applicant_name": applicant_name,
                "conversation_id": conversation_id}
        data = await self._request("POST", "/api/v1/cases/lookup", "/api/v1/cases/lookup", body=body)
        return list(data.get("items") or [])

    async def conversation_cases(self, conversation_id: str) -> List[Dict[str, Any]]:
        data = await self._request("GET", "/api/v1/conversations/{id}/cases",
                                   f"/api/v1/conversations/{_segment(conversation_id)}/cases")
        return list(data.get("items") or [])

    async def rating_levels(self) -> List[Dict[str, Any]]:
        """The 好差评 levels as the platform offers them, best first: ``level``, ``text``, ``bad``."""
        data = await self._request("GET", "/api/v1/ratings/levels", "/api/v1/ratings/levels")
        return list(data.get("items") or [])

    async def rate_case(self, case_no: str, level: Any, conversation_id: str, channel: str,
                        said: Optional[str] = None) -> Dict[str, Any]:
        """``level``: the resident's words for it (or a button's level); ``said``: the whole typed
        message. The platform reads the level (422 ``rating_level_invalid`` when it names none) and
        keeps what the message says beyond it."""
        body: Dict[str, Any] = {"conversation_id": conversation_id, "channel": channel}
        if level:
            body["level"] = level
        if said:
            body["said"] = said
        return await self._request("POST", "/api/v1/cases/{case_no}/rating",
                                   f"/api/v1/cases/{_segment(case_no)}/rating", body=body)

    # --- people ------------------------------------------------------------------------------
    async def request_handoff(self, conversation_id: str, channel: str, reason: str) -> Dict[str, Any]:
        return await self._request("POST", "/api/v1/handoffs", "/api/v1/handoffs",
                                   body={"conversation_id": conversation_id, "channel": channel, "reason": reason})

    async def intake_points(self) -> Dict[str, Any]:
        return await self._request("GET", "/api/v1/intake-points", "/api/v1/intake-points")


_clients: Dict[tuple, PlatformClient] = {}


def get_client() -> PlatformClient:
    """The client for the current environment (a new one if ERMA_PLATFORM_* changed, e.g. in tests)."""
    key = (os.environ.get("ERMA_PLATFORM_URL"), os.environ.get("ERMA_SERVICE_TOKEN"),
           os.environ.get("ERMA_PLATFORM_TIMEOUT"))
    if key not in _clients:
        _clients[key] = PlatformClient()
    return _clients[key]
