"""HTTP for the WeChat Official Account callback, `/channels/wechat` (plaintext, compatible or safe mode).

Every request, GET or POST, must carry a valid signature (token `WECHAT_TOKEN`), a timestamp
within ±5 minutes and a nonce not used before (replay.py); anything else is 403 and nothing is
processed. A POST is answered within WeChat's 5 seconds: the passive reply
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

from erma.channels.wechat import replay, service, signature
from erma.channels.wechat.crypto import CryptoError, MessageCrypto
from erma.channels.wechat.messages import BadMessage, Inbound, encrypted_part, parse, split_text, text_reply
from erma.settings import get_settings
from erma.unit_of_work import unit_of_work

log = logging.getLogger("erma.wechat")
router = APIRouter(prefix="/channels/wechat", tags=["channels"])

# Work that may outlive the request (a slow assistant); bounded so a flood cannot spawn threads.
_workers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="wechat")

SUCCESS = PlainTextResponse("success")


def _verified(signature_value: str | None, timestamp: str | None, nonce: str | None) -> bool:
    """Signed with our token, fresh, and not seen before (the nonce is remembered from now on)."""
    if not signature.check(get_settings().wechat_token, signature_value, timestamp, nonce):
        return False
    if not replay.timestamp_fresh(timestamp):
        log.warning("WeChat request refused: timestamp outside the accepted window")
        return False
    with unit_of_work() as session:
        first = replay.first_use(session, nonce)
    if not first:
        log.warning("WeChat request refused: nonce already used (a replay)")
    return first


# The query parameters WeChat signs with (never logged: erma/log_redaction.py masks them).
Signature = Query(default=None, alias="signature", max_length=128)
Timestamp = Query(default=None, max_length=20)
Nonce = Query(default=None, max_length=replay.MAX_NONCE_LENGTH)


def _forbidden() -> PlainTextResponse:
    return PlainTextResponse("forbidden", status_code=403)


@router.get("", response_class=PlainTextResponse)
def verify(signature_value: str | None = Signature, timestamp: str | None = Timestamp,
           nonce: str | None = Nonce, echostr: str = Query(default="", max_length=128)) -> PlainTextResponse:
    """The server-address check WeChat makes when the callback URL is configured."""
    if not _verified(signature_value, timestamp, nonce):
        return _forbidden()
    return PlainTextResponse(echostr)


def _process(inbound: Inbound) -> str | None:
    """Runs in a worker thread: works out the answer, then either hands it to the waiting request
    (state `replied`) or, if that request already answered `success`, pushes it. Each step is a unit
    of work of its own: the answer, the outcome (seen by the waiting request), then the pushes."""
    try:
        with unit_of_work() as session:
            text, conversation_id = service.answer(session, inbound)
    except Exception:
        log.exception("WeChat message processing failed")
        with unit_of_work() as session:
            service.release(session, inbound.dedupe_key)
        raise
    pieces = split_text(text) if text else []
    if len(pieces) > 1:
        # Too long for one message: all of it goes by the customer-service API, in order
        # (a passive first piece could arrive after the pushed rest).
        with unit_of_work() as session:
            service.finish(session, inbound.dedupe_key, "replied", "", conversation_id)
        with unit_of_work() as session:
            for piece in pieces:
                if not service.push_text(session, inbound.from_user, piece, conversation_id):
                    break
        return None
    with unit_of_work() as session:
        replied = service.finish(session, inbound.dedupe_key, "replied", text, conversation_id)
    if replied:
        return text
    if text:  # the request gave up waiting: this answer goes by the customer-service API
        with unit_of_work() as session:
            service.push_text(session, inbound.from_user, text, conversation_id)
    return None


def _reply(inbound: Inbound, text: str | None) -> Response:
    if not text:
        return SUCCESS
    return Response(text_reply(inbound, text), media_type="application/xml")


@router.post("")
async def receive(request: Request, signature_value: str | None = Signature, timestamp: str | None = Timestamp,
                  nonce: str | None = Nonce, encrypt_type: str = Query(default="raw", max_length=16),
                  msg_signature: str | None = Query(default=None, max_length=128)) -> Response:
    if not await run_in_threadpool(_verified, signature_value, timestamp, nonce):
        return _forbidden()
    body = await request.body()
    sealer = None
    if encrypt_type == "aes":
        settings = get_settings()
        if not settings.wechat_encoding_aes_key:
            log.warning("WeChat safe-mode message refused: WECHAT_ENCODING_AES_KEY is not configured")
            return _forbidden()
        try:
            sealer = MessageCrypto(settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_app_id)
            encrypted = encrypted_part(body)
            # msg_signature covers the encrypted message itself: its sender, time and text.
            if not sealer.check(msg_signature, timestamp, nonce, encrypted):
                return _forbidden()
            body = sealer.decrypt(encrypted)
        except BadMessage:
            return PlainTextResponse("bad request", status_code=400)
        except CryptoError as exc:
            log.warning("WeChat safe-mode message refused: %s", exc)
            return _forbidden()
    try:
        inbound = parse(body)
    except BadMessage:
        return PlainTextResponse("bad request", status_code=400)
    response = await run_in_threadpool(_handle, inbound)
    if sealer is not None and response.media_type == "application/xml":
        # Safe mode: the passive reply goes back encrypted, signed with the request's nonce.
        response = Response(sealer.wrap_reply(response.body.decode(), nonce or ""), media_type="application/xml")
    return response


def _handle(inbound: Inbound) -> Response:
    with unit_of_work() as session:
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
    with unit_of_work() as session:
        deferred = service.finish(session, inbound.dedupe_key, "deferred")
    if deferred:
        return SUCCESS  # the worker pushes the answer when it has it
    with unit_of_work() as session:
        row = service.stored(session, inbound.dedupe_key)  # the worker finished just now
    return _reply(inbound, row.reply_text if row is not None and row.state == "replied" else None)
