"""The FastAPI application: routers, error shape, health."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool

from erma import log_redaction
from erma.admin.views import router as admin_router
from erma.body_limit import BodyLimitMiddleware
from erma.calendar.sync import keep_fresh
from erma.calendar.views import router as calendar_admin_router
from erma.catalog.views import router as catalog_router
from erma.channels.wechat.views import router as wechat_router
from erma.console.admin import router as admin_page_router
from erma.console.dashboard import router as dashboard_page_router
from erma.console.intake import router as intake_page_router
from erma.console.lead import router as lead_page_router
from erma.console.review import router as review_page_router
from erma.console.views import router as console_router
from erma.console.workbench import router as workbench_router
from erma.conversations import rasa_client
from erma.conversations.handoff_views import router as handoff_router
from erma.conversations.views import router as conversations_router
from erma.cases.views import router as cases_router
from erma.dashboard.views import router as dashboard_router
from erma.deferral.views import router as deferral_router
from erma.errors import DomainError
from erma.followup.views import router as followup_router
from erma.guide.views import router as guide_router
from erma.lead.views import router as lead_router
from erma.no_store import NoStoreMiddleware
from erma.open311.views import router as open311_router
from erma.places.views import router as places_router
from erma.review.views import router as review_router
from erma.settings import get_settings
from erma.staff.views import router as staff_router
from erma.staff.views import towns_router as town_agents_router
from erma.understanding.views import router as understanding_router
from erma.understanding.service import warm_up
from erma.unit_of_work import database_answers, unit_of_work
from erma.validation_views import router as validation_router
from erma.webchat.views import router as webchat_router
from erma.wiring import wire

log = logging.getLogger("erma")

FIELD_NAMES = {"service_code": "办理事项", "applicant_name": "姓名", "id_number": "身份证号码", "phone": "手机号码",
               "hukou_town": "户籍所在镇", "hukou_village": "户籍所在村", "materials_have": "已有材料",
               "level": "评价等级", "decision": "审核结论", "current_location": "现居住地",
               "conversation_id": "会话编号", "Idempotency-Key": "请求编号", "client_msg_id": "消息编号",
               "text": "内容", "note": "备注", "opinion": "审核意见", "comment": "评价内容", "outcome": "处理结果",
               "deficiencies": "补正材料", "missing": "容缺材料", "after_seq": "消息序号", "task_id": "任务编号",
               "agent_id": "代办员", "channel": "渠道", "reason": "原因", "username": "用户名", "password": "密码",
               "id_last6": "身份证号后六位", "phone_last4": "手机号后四位", "repeat_confirmed": "确认重复申请",
               # the county admins' forms (erma/admin/views.py)
               "display_name": "姓名", "role": "角色", "towns": "所属镇", "credential_no": "代办员证号",
               "mobile": "手机号", "alias": "老地名", "town_code": "镇", "confirmed": "核实", "item": "事项内容",
               "updated_at": "版本"}
TOO_LONG = {"string_too_long", "too_long", "bytes_too_long"}
OUT_OF_RANGE = {"less_than_equal", "less_than", "greater_than_equal", "greater_than", "int_from_float"}


def field_message(error: dict) -> tuple[str, str, str]:
    """(code, Chinese message, field) for one pydantic error."""
    field = next((str(p) for p in reversed(error["loc"]) if isinstance(p, str) and p != "body"), "body")
    label = FIELD_NAMES.get(field, field)
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "field_missing", f"缺少“{label}”", field
    if kind in TOO_LONG:
        limit = ctx.get("max_length")
        unit = "项" if kind == "too_long" else "个字"
        return "field_too_long", f"“{label}”太长了" + (f"，最多 {limit} {unit}" if limit is not None else ""), field
    if kind in OUT_OF_RANGE:
        return "field_out_of_range", f"“{label}”超出范围", field
    return "field_invalid", f"“{label}”格式不对", field


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Admins' holiday overrides: loaded now, then checked in the background (never inside a request).
    keep_fresh(get_settings().calendar_poll_seconds)
    # The understanding models are read now, before this process answers, not by the first resident's
    # message: every web process pays it once, and a cold first answer misses WeChat's reply window.
    await run_in_threadpool(_warm_understanding)
    yield
    await rasa_client.aclose()  # the gateway's kept connections to Rasa


def _warm_understanding() -> None:
    try:
        with unit_of_work() as session:
            warm_up(session)
    except Exception:  # noqa: BLE001 - an optimisation: the first message loads them instead
        log.exception("could not load the understanding models at start-up")


def create_app() -> FastAPI:
    """The web application, one of the two production entry points (with `python -m erma worker`):
    it subscribes every listener (erma.wiring.wire) before serving anything."""
    wire()
    app = FastAPI(title="尔玛云 Erma Cloud platform", version="1.0", lifespan=_lifespan,
                  description="茂县“尔玛云”便民代办：事项目录、办件、户籍地镇审核、容缺办理、代办员与好差评")
    log_redaction.install()
    app.add_middleware(NoStoreMiddleware)  # responses that may carry personal data are not cached
    app.add_middleware(BodyLimitMiddleware)  # outermost: an oversized body is refused before parsing

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {}
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        return JSONResponse(exc.as_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [dict(zip(("code", "message", "field"), field_message(e))) for e in exc.errors()]
        first = errors[0] if errors else {"code": "request_invalid", "message": "请求格式不对", "field": None}
        return JSONResponse({"error": {**first, "errors": errors}}, status_code=422)

    @app.exception_handler(DataError)
    async def data_error(_: Request, exc: DataError) -> JSONResponse:
        # The safety net behind the API models' bounds: PostgreSQL refused a value too long or too large.
        log.warning("database refused a value: %s", exc.orig.__class__.__name__ if exc.orig else exc)
        return JSONResponse({"error": {"code": "value_out_of_range", "message": "填写的内容太长或数值超出范围"}},
                            status_code=422)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        database_answers()
        return {"status": "ok"}

    # Routes are matched in the order they are included, one by one: the residents' messages (the web
    # chat) and the assistant's reading of them (understanding) are the busiest, so they are tried first.
    # No other router has their paths, so the order decides nothing else.
    app.include_router(webchat_router)  # the residents' page /chat and its API
    for router in (understanding_router, catalog_router, cases_router, review_router, deferral_router, followup_router,
                   places_router, validation_router, staff_router, handoff_router, conversations_router, wechat_router):
        app.include_router(router)
    app.include_router(dashboard_router)  # county dashboard figures and CSV export
    app.include_router(dashboard_page_router)  # /staff/dashboard: the county dashboard page
    app.include_router(console_router)  # staff web pages: sign-in and the agents' inbox
    app.include_router(workbench_router)  # staff web pages: the agent workbench /staff/cases
    app.include_router(review_page_router)  # /staff/review: the town reviewer's queue and case pages
    app.include_router(intake_page_router)  # /staff/intake: registering a walk-in resident at a counter
    app.include_router(lead_router)  # the duty lead's lists
    app.include_router(town_agents_router)  # a town's agents, for reassigning (改派) a case
    app.include_router(lead_page_router)  # /staff/lead: the duty lead's page
    app.include_router(admin_router)  # county admins: catalog items, staff, town aliases, audit
    app.include_router(calendar_admin_router)  # county admins: holiday overrides (节假日调整)
    app.include_router(admin_page_router)  # /staff/admin: the county admin's page
    app.include_router(guide_router)  # /services: the public service guide (no sign-in)
    app.include_router(open311_router)  # /open311/v2: read-only Open311 GeoReport v2 façade
    return app
