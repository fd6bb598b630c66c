"""HTTP for the WeChat Official Account callback (plaintext mode), `/channels/wechat`.

Every request, GET or POST, must carry a valid signature (token `WECHAT_TOKEN`); anything else is
403 and nothing is processed. A POST is answered within WeChat's 5 seconds: the passive reply
when the assistant is quick enough, else `success` while a worker thread finishes the work and
sends the answer through the customer-service API.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from erma.channels.wechat import service, signature
from erma.channels.wechat.messages import BadMessage, Inbound, parse, text_reply
from erma.db import get_sessionmaker
from erma.settings import get_settings

log = logging.getLogger("erma.wechat")
router = APIRouter(prefix="/channels/wechat", tags=["channels"])

# Work that may outlive the request (a slow assistant); bounded so a flood cannot spawn threads.
_workers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="wechat")

SUCCESS = PlainTextResponse("success")


def _verified(signature_value: str | None, timestamp: str | None, nonce: str | None) -> bool:
    return signature.check(get_settings().wechat_token, signature_value, timestamp, nonce)


def _forbidden() -> PlainTextResponse:
    return PlainTextResponse("forbidden", status_code=403)


@router.get("", response_class=PlainTextResponse)
def verify(signature_value: str | None = Query(default=None, alias="signature"), timestamp: str | None = None,
           nonce: str | None = None, echostr: str = "") -> PlainTextResponse:
    """The server-address check WeChat makes when the callback URL is configured."""
    if not _verified(signature_value, timestamp, nonce):
        return _forbidden()
    return PlainTextResponse(echostr)


def _process(inbound: Inbound) -> str | None:
    """Runs in a worker thread: works out the answer, then either hands it to the waiting request
    (state `replied`) or, if that request already answered `success`, pushes it."""
    with get_sessionmaker()() as session:
        try:
            text, conversation_id = service.answer(session, inbound)
        except Exception:
            log.exception("WeChat message processing failed")
            service.release(session, inbound.dedupe_key)
            raise
        if service.finish(session, inbound.dedupe_key, "replied", text, conversation_id):
            return text
        if text:  # the request gave up waiting: this answer goes by the customer-service API
            service.push_text(session, inbound.from_user, text, conversation_id)
        return None


def _reply(inbound: Inbound, text: str | None) -> Response:
    if not text:
        return SUCCESS
    return Response(text_reply(inbound, text), media_type="application/xml")


@router.post("")
async def receive(request: Request, signature_value: str | None = Query(default=None, alias="signature"),
                  timestamp: str | None = None, nonce: str | None = None) -> Response:
    if not _verified(signature_value, timestamp, nonce):
        return _forbidden()
    if request.query_params.get("encrypt_type", "raw") != "raw":
        log.warning("WeChat safe-mode (encrypted) message refused: only plaintext mode is configured")
        return SUCCESS
    try:
        inbound = parse(await request.body())
    except BadMessage:
        return PlainTextResponse("bad request", status_code=400)
    return await run_in_threadpool(_handle, inbound)


def _handle(inbound: Inbound) -> Response:
    with get_sessionmaker()() as session:
        earlier = service.claim(session, inbound)
        if earlier is not None:  # a retry: the same answer once more, or `success` while it is in the works
            return _reply(inbound, earlier.reply_text if earlier.state == "replied" else None)
    future = _workers.submit(_process, inbound)
    try:
        return _reply(inbound, future.result(timeout=get_settings().wechat_reply_timeout_seconds))
    except FutureTimeout:
        pass
    except Exception:  # noqa: BLE001 - logged by the worker; its claim was released
        return PlainTextResponse("error", status_code=500)  # WeChat's retry starts over
    with get_sessionmaker()() as session:
        if service.finish(session, inbound.dedupe_key, "deferred"):
            return SUCCESS  # the worker pushes the answer when it has it
        row = service.stored(session, inbound.dedupe_key)  # the worker finished just now
    return _reply(inbound, row.reply_text if row is not None and row.state == "replied" else None)
