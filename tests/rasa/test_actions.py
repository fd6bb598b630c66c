"""Actions against a fake platform (an aiohttp test server): error handling, timeouts, outages.

Run with the Rasa environment from the repository root:
    PYTHONPATH=. <rasa venv>/bin/python -m pytest tests/rasa/test_actions.py -q

Integration against the real platform lives elsewhere; here the platform is a stub whose
answers follow docs/platform-api.md, so every failure mode can be produced on purpose.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import messages, platform_client
from actions.apply_form import PAUSE_KEPT_SECONDS, ActionAskIdNumber, ActionAskServiceCode, ValidateApplyForm
from actions.apply_submit import (ActionAskCorrection, ActionCorrectField, ActionPauseApplication,
                                  ActionReviewApplication, ActionSubmitCase, idempotency_key)
from actions.handoff import NO_CONNECTION, ActionHandoff
from actions.platform_client import PlatformClient, PlatformError, PlatformUnavailable
from actions.rating import ActionAskRating, ActionRate
from actions.requirements import NOT_FOUND, ActionChecklist, ActionRequirements
from actions.service_info import ActionOpeningHours, ActionServicePoints
from actions.status import ASK_BOTH, ActionCheckStatus

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

ID_NUMBER = "513223194403150027"
PHONE = "13812345678"

ITEM = {
    "code": "MX-013", "name": "高龄津贴（高龄老人生活补贴）申请", "category": "老年人福利",
    "department": "县民政局", "promised_working_days": 20, "time_limit_unit": "working_days",
    "agent_handled": True, "agent_mode": "全程代办", "in_person_required": False, "rongque_listed": True,
    "materials": [
        {"name": "申请人居民身份证", "form": "原件及复印件", "count": 1, "deferrable": False, "required": True},
        {"name": "户口簿", "form": "原件及复印件", "count": 1, "deferrable": False, "required": True},
        {"name": "银行卡或社保卡", "form": "复印件", "count": 1, "deferrable": True, "required": True},
    ],
}


# A few items of the catalog: code → (name, words the fake search matches, score).
# The fake's decision stands in for the platform's (docs/platform-api.md §Catalog): several items
# found is a close call, unless the query holds a word that names one of them (CUES).
CATALOG = {
    "MX-001": ("最低生活保障申请（城乡低保）", ("低保",), 0.9),
    "MX-005": ("临时救助申请（急难型）", ("临时救助", "救急"), 0.9),
    "MX-013": (ITEM["name"], ("高龄",), 0.92),
    "MX-014": ("老年人优待证办理", ("老年证", "优待证"), 0.9),
    "MX-019": ("残疾人证新办（残疾评定）", ("残疾证",), 0.81),
    "MX-020": ("残疾人证换领、迁移、挂失补办", ("残疾证",), 0.77),
    "MX-024": ("城乡居民基本养老保险参保登记", ("养老保险",), 0.9),
    "MX-032": ("城乡居民基本医疗保险参保登记（含新生儿参保）", ("医保",), 0.9),
    "MX-039": ("失业登记", ("失业",), 0.9),
}
CUES = {"MX-020": ("丢", "补")}
# The platform's 好差评 levels and a few readings of residents' words (the real ones: erma/followup/levels.py).
LEVEL_TEXT = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
READS = {**{text: level for level, text in LEVEL_TEXT.items()}, "5": 5, "还可以吧": 3, "很满意": 5,
         "不满意，星期天转人工半天都没人理": 2}
TOWNS = ("凤仪镇", "南新镇", "叠溪镇", "富顺镇", "土门镇", "洼底镇", "沙坝镇", "渭门镇", "黑虎镇", "沟口镇", "赤不苏镇")


def id_check_digit_ok(number: str) -> bool:
    """GB 11643 check character (the real rule lives in the platform; this is the test double)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    if not number[:17].isdigit():
        return False
    return "10X98765432"[sum(int(d) * w for d, w in zip(number[:17], weights, strict=True)) % 11] == number[17].upper()


class FakePlatform:
    """Answers like the platform; ``fail`` makes a route answer an error status or hang."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.fail: Dict[str, Any] = {}  # route name → status code, or "hang"
        self.search_answer: Optional[Dict[str, Any]] = None  # None: search CATALOG by words
        self.cases: Dict[str, Dict[str, Any]] = {}  # Idempotency-Key → case
        self.validation_answers: Dict[str, Dict[str, Any]] = {}
        self.handoff_message = "已为您转接人工客服，前面还有0位，请稍等。"
        self.open_case: Optional[Dict[str, Any]] = None  # the applicant's open case for the item (repeat)
        self.catalog_version = "v1"  # X-Erma-Catalog-Version on catalog answers

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/understand/resolve", self._wrap("resolve", self.resolve))
        app.router.add_get("/api/v1/services/{code}", self._wrap("service", self.service))
        app.router.add_get("/api/v1/services/{code}/answer", self._wrap("answer", self.answer))
        app.router.add_post("/api/v1/services/{code}/checklist", self._wrap("checklist", self.checklist))
        app.router.add_post("/api/v1/validation", self._wrap("validation", self.validation))
        app.router.add_post("/api/v1/cases", self._wrap("cases", self.create_case))
        app.router.add_get("/api/v1/cases/{case_no}/status", self._wrap("status", self.status))
        app.router.add_post("/api/v1/cases/lookup", self._wrap("lookup", self.lookup))
        app.router.add_get("/api/v1/conversations/{cid}/cases", self._wrap("conversation_cases", self.own_cases))
        app.router.add_post("/api/v1/cases/{case_no}/rating", self._wrap("rating", self.rating))
        app.router.add_get("/api/v1/ratings/levels", self._wrap("rating_levels", self.rating_levels))
        app.router.add_post("/api/v1/handoffs", self._wrap("handoffs", self.handoff))
        app.router.add_get("/api/v1/intake-points", self._wrap("intake_points", self.intake_points))
        return app

    def _wrap(self, name, handler):
        async def wrapped(request: web.Request) -> web.StreamResponse:
            body = await request.json() if request.can_read_body else None
            self.requests.append({"route": name, "path": request.path, "query": dict(request.query),
                                  "headers": dict(request.headers), "body": body})
            failure = self.fail.get(name)
            if failure == "hang":
                await asyncio.sleep(5)
            elif failure == "not_json":
                return web.Response(text="<html>proxy error</html>", status=200)
            elif isinstance(failure, int):
                return web.json_response({"error": {"code": "boom", "message": "出错了"}}, status=failure)
            return await handler(request, body)
        return wrapped

    @staticmethod
    def error(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"error": {"code": code, "message": message}}, status=status)

    def _found(self, q: str) -> Dict[str, Any]:
        if self.search_answer is not None:
            return self.search_answer
        found = sorted(({"code": code, "name": name, "category": "", "score": score}
                        for code, (name, words, score) in CATALOG.items() if any(w in q for w in words)),
                       key=lambda i: -i["score"])
        named = [i for i in found if any(cue in q for cue in CUES.get(i["code"], ()))]
        if len(found) > 1 and len(named) == 1:
            found = named + [i for i in found if i is not named[0]]
        ambiguous = len(found) > 1 and len(named) != 1
        return {"items": found, "ambiguous": ambiguous, "choices": found[:4] if ambiguous else []}

    async def resolve(self, request, body):
        """The platform's decision (erma/understanding/resolve.py) over the word-matching stand-in:
        an item code is that item; the whole message first; the phrase alone only when the message
        names nothing."""
        resolved = self._resolve(body)
        if body.get("answer") and resolved["item"]:  # the item's one-time answer in the same call
            resolved["answer"] = self._answer(resolved["item"], body.get("town"), body.get("fact"))
        return web.json_response(resolved, headers=self.version_header())

    def version_header(self) -> Dict[str, str]:
        return {"X-Erma-Catalog-Version": self.catalog_version}

    def _resolve(self, body) -> Dict[str, Any]:
        text, phrase = (body.get("text") or "").strip(), (body.get("phrase") or "").strip()
        if phrase.upper() in CATALOG:
            return self._resolved(phrase.upper(), source="code")
        text = text or phrase
        for words, source in ((text, "message"), (phrase, "phrase")):
            if not words or words.startswith("/") or (source == "phrase" and words == text):
                continue
            found = self._found(words)
            if found["ambiguous"] and found["choices"]:
                return self._resolved(choices=found["choices"], source=source)
            if found["items"]:
                return self._resolved(found["items"][0]["code"], source=source)
        return self._resolved()

    @staticmethod
    def _resolved(code: Optional[str] = None, choices: Optional[List[Dict[str, Any]]] = None,
                  source: Optional[str] = None) -> Dict[str, Any]:
        return {"item": code, "name": CATALOG[code][0] if code else None,
                "choices": [{"code": c["code"], "name": c["name"], "score": c["score"]} for c in choices or []],
                "source": source if code or choices else None}

    async def service(self, request, body):
        code = request.match_info["code"]
        if code not in CATALOG:
            return self.error(404, "service_unknown", "没有这个事项")
        return web.json_response(ITEM if code == "MX-013" else {**ITEM, "code": code, "name": CATALOG[code][0]},
                                 headers=self.version_header())

    async def answer(self, request, body):
        """The platform's one-time answer (worded by erma/catalog/answer.py; a stand-in text here)."""
        code = request.match_info["code"]
        if code not in CATALOG:
            return self.error(404, "service_not_found", "没有找到编号为 %s 的办事事项，请核对编号。" % code)
        return web.json_response(self._answer(code, request.query.get("town"), request.query.get("fact")),
                                 headers=self.version_header())

    @staticmethod
    def _answer(code: str, town: Optional[str], fact: Optional[str]) -> Dict[str, Any]:
        lead = {"time": "办理时间：承诺20个工作日内办好。"}.get(fact or "")
        text = "\n".join([f"办“{CATALOG[code][0]}”要带这些材料（一次说全）：",
                          *(f"{i}. {m['name']}" for i, m in enumerate(ITEM["materials"], start=1)),
                          f"交到哪里：……（找{town or '您户口所在镇的'}窗口）"])
        url = f"https://erma.example.cn/services/{code}"
        return {"code": code, "name": CATALOG[code][0], "text": text, "lead": lead, "guide_url": url,
                "message": "\n".join([*([lead] if lead else []), text, f"办事指南：{url}"])}

    async def checklist(self, request, body):
        text = body.get("text", "")
        have = [m["name"] for m in ITEM["materials"] if m["name"][-3:] in text or m["name"] in text]
        if "身份证" in text:
            have.append("申请人居民身份证")
        missing = [m for m in ITEM["materials"] if m["name"] not in have]
        code = request.match_info["code"]
        if code not in CATALOG:
            return self.error(404, "service_not_found", "没有找到编号为 %s 的办事事项，请核对编号。" % code)
        return web.json_response({"code": code, "name": CATALOG[code][0], "rongque_listed": ITEM["rongque_listed"],
                                  "have": sorted(set(have)), "missing": missing}, headers=self.version_header())

    async def validation(self, request, body):
        field, value = body["field"], body["value"]
        if field in self.validation_answers:
            return web.json_response(self.validation_answers[field])
        if field == "id_number":
            if len(value) != 18:
                return web.json_response({"valid": False, "code": "id_number_format",
                                          "message": f"身份证号码应为18位，您输入的是{len(value)}位，请核对后重新输入"})
            if not id_check_digit_ok(value):
                return web.json_response({"valid": False, "code": "id_number_check_digit",
                                          "message": "身份证号码最后一位对不上，请核对后重新输入"})
            return web.json_response({"valid": True, "value": value, "display": value[:6] + "*" * 8 + value[-4:]})
        if field == "phone":
            return web.json_response({"valid": True, "value": value, "display": "138****5678"})
        if field == "hukou_town":
            town = next((t for t in TOWNS if t[:-1] in value), None)
            if town is None:
                return web.json_response({"valid": False, "code": "hukou_town_unknown",
                                          "message": f"没有找到“{value}”这个地方。请说户口所在的镇名，比如赤不苏镇"})
            rest = value.split(town[:-1], 1)[1].lstrip("镇乡") or None
            return web.json_response({"valid": True, "value": town, "display": town + (rest or ""),
                                      "town_code": "5132231xx", "town_name": town, "village": rest})
        return web.json_response({"valid": True, "value": value, "display": value})

    async def create_case(self, request, body):
        key = request.headers.get("Idempotency-Key")
        if key in self.cases:
            return web.json_response(self.cases[key], status=200)
        if self.open_case and not body.get("repeat_confirmed"):
            named = (f"办件号 {self.open_case['case_no']}，{self.open_case['stage_text']}。"
                     if self.open_case.get("case_no") else "如果是您家的申请，说“查进度”。")
            return web.json_response({"error": {
                "code": "open_case_exists", "open_case": self.open_case,
                "message": f"这个身份证号已经有一件“{self.open_case['service_name']}”在办：{named}"}}, status=409)
        case = {"case_no": f"EM-20261126-{len(self.cases) + 1:04d}", "stage": "town_review",
                "stage_text": "户籍镇审核中", "hukou_town": {"code": "513223114", "name": "赤不苏镇"},
                "agent": {"name": "尔玛代办员甲", "credential_no": "MXDB-114-01", "phone": "13900000001"},
                "materials_missing": ["银行卡或社保卡"], "expected_completion_date": "2026-12-24",
                "next_step": "赤不苏镇审核人员在网上审核", "id_number": "513223********0027",
                "phone": "138****5678"}
        self.cases[key] = case
        return web.json_response(case, status=201)

    async def status(self, request, body):
        if request.query.get("last4") != "0027":
            return self.error(404, "case_not_found", "没有查到这个办件，请核对办件编号和身份证或手机号后四位")
        return web.json_response(self.status_view(request.match_info["case_no"]))

    @staticmethod
    def status_view(case_no: str) -> Dict[str, Any]:
        return {"case_no": case_no, "service_name": ITEM["name"], "stage": "town_review",
                "stage_text": "户籍镇审核中", "next_step": "审核通过后交县民政局办理",
                "holder": {"kind": "town", "name": "赤不苏镇审核人员"},
                "expected_completion_date": "2026-12-24"}

    async def own_cases(self, request, body):
        if request.match_info["cid"] == "has-case":
            return web.json_response({"items": [self.status_view("EM-20261126-0001")]})
        return web.json_response({"items": []})

    async def lookup(self, request, body):
        """Finds the applicant by the ID number's last six plus the phone's last four or the name."""
        if body.get("id_last6") == "150027" and (body.get("phone_last4") == "5678" or body.get("applicant_name") == "杨子妹"):
            return web.json_response({"items": [  # the platform's order: open cases first
                {**self.status_view("EM-20261126-0001"), "applicant_masked": "杨*妹"},
                {**self.status_view("EM-20261101-0003"), "finished_on": "2026-11-20", "applicant_masked": "杨*妹"}]})
        return self.error(404, "case_not_found", "没有查到办件")

    async def rating(self, request, body):
        """The platform reads the level from the words (erma/followup/levels.py; a stand-in table here)."""
        level = next((READS[w] for w in (body.get("level"), body.get("said")) if w in READS), None)
        if level is None:
            return web.json_response({"error": {"code": "rating_level_invalid", "field": "level",
                                                "message": "请从 非常满意、满意、基本满意、不满意、非常不满意 中选一个"}},
                                     status=422)
        if request.match_info["case_no"] == "EM-20261126-0009":
            return self.error(409, "already_rated", "这件事您已经评价过了，谢谢")
        return web.json_response({"level": level, "level_text": LEVEL_TEXT[level], "follow_up": level <= 2})

    async def rating_levels(self, request, body):
        return web.json_response({"items": [{"level": level, "text": text, "bad": level <= 2}
                                            for level, text in sorted(LEVEL_TEXT.items(), reverse=True)]})

    async def handoff(self, request, body):
        return web.json_response({"state": "queued", "message": self.handoff_message})

    async def intake_points(self, request, body):
        return web.json_response({
            "items": [
                {"code": "county:window:513223114", "kind": "county_window",
                 "name": "尔玛云便民服务代办点赤不苏镇窗口", "town_code": "513223100", "window_for": "513223114"},
                {"code": "town:513223114", "kind": "town_centre", "name": "赤不苏镇便民服务中心",
                 "town_code": "513223114", "window_for": None},
                {"code": "village:513223114:雅都村", "kind": "village_point", "name": "赤不苏镇雅都村便民服务站",
                 "town_code": "513223114", "window_for": None}],
            "service_point": {"name": "尔玛云便民服务代办点", "address": "茂县凤仪镇 尔玛云便民服务代办点",
                              "opening_hours": {"text": "工作日 9:00–12:00，14:00–17:30（法定节假日休息）"}}})


# --- fixtures ------------------------------------------------------------------------------------
@pytest_asyncio.fixture
async def platform(monkeypatch):
    fake = FakePlatform()
    server = TestServer(fake.app())
    await server.start_server()
    monkeypatch.setenv("ERMA_PLATFORM_URL", str(server.make_url("")).rstrip("/"))
    monkeypatch.setenv("ERMA_PLATFORM_TIMEOUT", "0.5")
    yield fake
    await platform_client.get_client().close()
    await server.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


@pytest_asyncio.fixture
async def platform_down(monkeypatch):
    monkeypatch.setenv("ERMA_PLATFORM_URL", closed_port_url())
    monkeypatch.setenv("ERMA_PLATFORM_TIMEOUT", "0.5")
    yield
    await platform_client.get_client().close()


FILLED = {
    "service_code": "MX-013", "service_name": ITEM["name"], "applicant_name": "杨子妹",
    "id_number": ID_NUMBER, "id_number_display": "513223********0027", "phone": PHONE,
    "phone_display": "138****5678", "hukou_town": "赤不苏镇", "hukou_village": "雅都村",
    "current_location": "成都", "materials_have": ["申请人居民身份证", "户口簿"],
    "materials_missing": ["银行卡或社保卡"], "confirm_turn": "9",
}


def make_tracker(text: str = "", intent: str = "inform", entities: Optional[List[Dict[str, Any]]] = None,
                 slots: Optional[Dict[str, Any]] = None, events: Optional[List[Dict[str, Any]]] = None,
                 active_loop: Optional[str] = None, sender_id: str = "conv-1") -> Tracker:
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots["requested_slot"] = None
    all_slots.update(slots or {})
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities or []}
    return Tracker(sender_id, all_slots, latest, events or [{"event": "user", "text": text, "parse_data": latest}],
                   False, None, {"name": active_loop} if active_loop else {}, "action_listen")


def form_tracker(slot: str, value: Any, slots: Optional[Dict[str, Any]] = None, text: Optional[str] = None,
                 intent: str = "inform") -> Tracker:
    """The tracker Rasa sends validate_apply_form: the candidate SlotSet comes last."""
    text = value if text is None else text
    base = {"requested_slot": slot, **(slots or {})}
    latest = {"text": text, "intent": {"name": intent}, "entities": []}
    events = [{"event": "user", "text": text, "parse_data": latest},
              {"event": "action", "name": "apply_form"},
              {"event": "slot", "name": slot, "value": value}]
    tracker = make_tracker(text, intent, slots={**base, slot: value}, events=events, active_loop="apply_form")
    return tracker


async def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return dispatcher.messages, events


def slot_events(events) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(msgs) -> str:
    return "\n".join(m.get("text") or "" for m in msgs)


# --- the client ------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_client_sends_the_service_token(platform, monkeypatch):
    monkeypatch.setenv("ERMA_SERVICE_TOKEN", "secret-token")
    await platform_client.get_client().intake_points()
    assert platform.requests[-1]["headers"]["Authorization"] == "Bearer secret-token"
    await platform_client.get_client().close()


@pytest.mark.asyncio
async def test_client_connection_refused_is_unavailable(platform_down):
    with pytest.raises(PlatformUnavailable):
        await platform_client.get_client().intake_points()


@pytest.mark.asyncio
async def test_client_timeout_is_unavailable(platform):
    platform.fail["intake_points"] = "hang"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PlatformUnavailable):
        await platform_client.get_client().intake_points()
    assert loop.time() - started < 2  # the 0.5 s timeout, not the server's 5 s


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 502, 503, 401, 403])
async def test_client_server_errors_and_bad_token_are_unavailable(platform, status):
    platform.fail["intake_points"] = status
    with pytest.raises(PlatformUnavailable):
        await platform_client.get_client().intake_points()


@pytest.mark.asyncio
async def test_client_answer_without_json_is_unavailable(platform):
    platform.fail["intake_points"] = "not_json"
    with pytest.raises(PlatformUnavailable):
        await platform_client.get_client().intake_points()


@pytest.mark.asyncio
async def test_client_4xx_carries_the_platform_message(platform):
    with pytest.raises(PlatformError) as raised:
        await platform_client.get_client().get_service("MX-999")
    assert raised.value.status == 404 and raised.value.message == "没有这个事项"


def test_client_reads_its_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("ERMA_PLATFORM_URL", "http://platform.example:9000/")
    monkeypatch.delenv("ERMA_SERVICE_TOKEN", raising=False)
    monkeypatch.delenv("ERMA_PLATFORM_TIMEOUT", raising=False)
    client = PlatformClient()
    assert client.base_url == "http://platform.example:9000"
    assert client.token == "dev-service-token" and client.timeout_seconds == 5.0


# --- requirements and checklist ----------------------------------------------------------------------
@pytest.mark.asyncio
async def test_requirements_lists_everything_in_one_message(platform):
    msgs, events = await run(ActionRequirements(), make_tracker(
        "高龄津贴要带啥子", "ask_requirements", [{"entity": "service", "value": "高龄津贴"}]))
    first = msgs[0]["text"]
    # The platform's words as they are (the guide page shows the same), ending with the guide's link;
    # one platform call: the item found comes with its answer.
    assert [(r["route"], r["body"]) for r in platform.requests] == [
        ("resolve", {"text": "高龄津贴要带啥子", "phrase": "高龄津贴", "answer": True})]
    for material in ITEM["materials"]:
        assert material["name"] in first
    assert first.splitlines()[-1].endswith("https://erma.example.cn/services/MX-013")
    assert [b["payload"] for b in msgs[1]["buttons"]] == ["/affirm", "/apply"]
    assert slot_events(events)["service_code"] == "MX-013"


@pytest.mark.asyncio
async def test_requirements_close_matches_become_buttons(platform):
    platform.search_answer = {
        "items": [{"code": "MX-019", "name": "残疾人证新办（残疾评定）", "score": 0.80},
                  {"code": "MX-099", "name": "“残疾人服务一件事”联办", "score": 0.79},
                  {"code": "MX-020", "name": "残疾人证换领、迁移、挂失补办", "score": 0.78}],
        "ambiguous": True,
        "choices": [{"code": "MX-019", "name": "残疾人证新办（残疾评定）", "score": 0.80},
                    {"code": "MX-020", "name": "残疾人证换领、迁移、挂失补办", "score": 0.78}]}
    msgs, events = await run(ActionRequirements(), make_tracker(
        "残疾证", "ask_requirements", [{"entity": "service", "value": "残疾证"}]))
    # The buttons are the platform's choices, not the items it ranked.
    assert [(b["title"], b["payload"]) for b in msgs[0]["buttons"]] == [
        ("残疾人证新办（残疾评定）", '/ask_requirements{"service_code": "MX-019"}'),
        ("残疾人证换领、迁移、挂失补办", '/ask_requirements{"service_code": "MX-020"}'),
        ("都不是，转人工", "/request_human")]
    assert events == []


@pytest.mark.asyncio
async def test_requirements_takes_the_platform_decision_whatever_the_scores(platform):
    # Close scores, but the platform settled it ("低保" names MX-001): no question, no rule here.
    platform.search_answer = {
        "items": [{"code": "MX-001", "name": "最低生活保障申请（城乡低保）", "score": 0.72},
                  {"code": "MX-100", "name": "最低生活保障、特困人员证件（救助证）补办", "score": 0.71},
                  {"code": "MX-002", "name": "最低生活保障家庭成员及收入变更申报", "score": 0.70}],
        "ambiguous": False, "choices": []}
    msgs, events = await run(ActionRequirements(), make_tracker(
        "低保要带啥子", "ask_requirements", [{"entity": "service", "value": "低保"}]))
    assert "buttons" not in msgs[0] or not msgs[0]["buttons"]
    assert slot_events(events)["service_code"] == "MX-001"
    assert [r["route"] for r in platform.requests].count("resolve") == 1  # one call settles the item

    # Far-apart scores, but the platform says ambiguous: the resident is asked.
    platform.search_answer = {
        "items": [{"code": "MX-030", "name": "社会保障卡申领", "score": 0.9},
                  {"code": "MX-031", "name": "社会保障卡挂失、补换", "score": 0.4}],
        "ambiguous": True,
        "choices": [{"code": "MX-030", "name": "社会保障卡申领", "score": 0.9},
                    {"code": "MX-031", "name": "社会保障卡挂失、补换", "score": 0.4}]}
    msgs, events = await run(ActionRequirements(), make_tracker("社保卡", "ask_requirements"))
    assert [b["payload"] for b in msgs[0]["buttons"]][:2] == ['/ask_requirements{"service_code": "MX-030"}',
                                                             '/ask_requirements{"service_code": "MX-031"}']
    assert events == []


@pytest.mark.asyncio
async def test_the_whole_message_settles_what_the_phrase_left_open(platform):
    # NLU entity "残疾证" alone is a close call; the whole message "残疾证搞丢了" names MX-020,
    # and the platform reads it first.
    msgs, events = await run(ActionRequirements(), make_tracker(
        "残疾证搞丢了", "ask_requirements", [{"entity": "service", "value": "残疾证"}]))
    # One platform call with the message and the phrase; the platform read the whole message.
    assert [r["body"] for r in platform.requests if r["route"] == "resolve"] == [
        {"text": "残疾证搞丢了", "phrase": "残疾证", "answer": True}]
    assert slot_events(events)["service_code"] == "MX-020"
    assert "buttons" not in msgs[0] or not msgs[0]["buttons"]


@pytest.mark.asyncio
async def test_the_whole_message_decides_before_a_vague_phrase(platform):
    _, events = await run(ActionRequirements(), make_tracker(
        "老人家的高龄津贴要带啥", "ask_requirements", [{"entity": "service", "value": "老人家的那个"}]))
    assert [r["body"]["text"] for r in platform.requests if r["route"] == "resolve"] == ["老人家的高龄津贴要带啥"]
    assert slot_events(events)["service_code"] == "MX-013"


def test_actions_hold_no_matching_rule_of_their_own():
    from actions import requirements

    source = (ROOT / "actions" / "requirements.py").read_text(encoding="utf-8")
    assert "erma_nlu" not in source and "ERMA_CLOSE_SCORE_GAP" not in source
    assert not hasattr(requirements, "CLOSE_SCORE_GAP")
    # No choosing between the platform's reading and a catalog search here: one call, its answer.
    for policy in ("_search", "_decision", "_understood"):
        assert not hasattr(requirements, policy)
    for word in ("ambiguous", "search_services", "understand("):
        assert word not in source
    client_source = (ROOT / "actions" / "platform_client.py").read_text(encoding="utf-8")
    assert "search_services" not in client_source and '"/api/v1/understand"' not in client_source


@pytest.mark.asyncio
async def test_close_items_in_the_form_are_asked_with_buttons_in_one_message(platform):
    msgs, events = await run(ValidateApplyForm(), form_tracker("service_code", "残疾证"))
    slots = slot_events(events)
    assert slots["service_code"] is None and [c["code"] for c in slots["service_choices"]] == ["MX-019", "MX-020"]
    assert msgs == [] and "retry_slot" not in slots  # not a wrong answer
    ask, _ = await run(ActionAskServiceCode(), make_tracker(slots={"service_choices": slots["service_choices"]}))
    assert len(ask) == 1 and ask[0]["buttons"][0]["payload"] == '/ask_requirements{"service_code": "MX-019"}'


@pytest.mark.asyncio
async def test_requirements_button_payload_picks_the_item(platform):
    msgs, _ = await run(ActionRequirements(), make_tracker(
        '/ask_requirements{"service_code":"MX-013"}', "ask_requirements",
        [{"entity": "service_code", "value": "MX-013"}]))
    assert ITEM["name"] in msgs[0]["text"]
    assert not any(r["route"] == "resolve" for r in platform.requests)


@pytest.mark.asyncio
async def test_requirements_nothing_found(platform):
    platform.search_answer = {"items": [], "ambiguous": False, "choices": []}
    msgs, events = await run(ActionRequirements(), make_tracker("那个啥子证", "ask_requirements"))
    assert msgs[0]["text"] == NOT_FOUND and "转人工" in NOT_FOUND
    assert events == []


@pytest.mark.asyncio
async def test_requirements_mid_form_uses_the_form_item(platform):
    msgs, events = await run(ActionRequirements(), make_tracker(
        "等一下，要带啥子？", "ask_requirements", slots={"service_code": "MX-013"}, active_loop="apply_form"))
    assert ITEM["name"] in msgs[0]["text"] and len(msgs) == 1  # no checklist offer inside the form
    assert events == []
    assert not any(r["route"] == "resolve" for r in platform.requests)


@pytest.mark.asyncio
async def test_requirements_outage(platform_down):
    msgs, events = await run(ActionRequirements(), make_tracker("低保要带啥", "ask_requirements",
                                                                [{"entity": "service", "value": "低保"}]))
    assert msgs[0]["text"] == messages.OUTAGE and events == []


@pytest.mark.asyncio
async def test_checklist_says_exactly_what_is_missing(platform):
    msgs, events = await run(ActionChecklist(), make_tracker(
        "我有身份证和户口簿", "inform_materials", slots={"service_code": "MX-013"}))
    assert "银行卡或社保卡" in msgs[0]["text"] and "还差" in msgs[0]["text"]
    assert platform.requests[-1]["body"] == {"text": "我有身份证和户口簿"}
    assert slot_events(events)["materials_missing"] == ["银行卡或社保卡"]


# --- the form ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_the_form_checks_a_reference_within_its_own_conversation_and_keeps_only_the_reference(platform):
    # The gateway replaced the number by a reference: the form sends it with the sender id and the
    # slot holds the reference the platform answers with, never the number.
    reference = "〔身份证#K7Q2M〕"
    platform.validation_answers["id_number"] = {"valid": True, "value": reference, "display": "513223********0027"}
    tracker = form_tracker("id_number", "〔身份证#k7q2m〕", text="我的身份证是〔身份证#k7q2m〕")
    msgs, events = await run(ValidateApplyForm(), tracker)
    sent = [r["body"] for r in platform.requests if r["route"] == "validation"][-1]
    assert sent == {"field": "id_number", "value": "〔身份证#k7q2m〕", "conversation_id": tracker.sender_id}
    slots = slot_events(events)
    assert slots["id_number"] == reference and slots["id_number_display"] == "513223********0027"


@pytest.mark.asyncio
async def test_valid_id_keeps_the_number_and_the_masked_display(platform):
    msgs, events = await run(ValidateApplyForm(), form_tracker("id_number", ID_NUMBER))
    slots = slot_events(events)
    assert slots["id_number"] == ID_NUMBER and slots["id_number_display"] == "513223********0027"
    assert msgs == []


@pytest.mark.asyncio
async def test_invalid_id_is_asked_again_in_the_platform_words(platform):
    _, events = await run(ValidateApplyForm(), form_tracker("id_number", "513223194403150028"))
    slots = slot_events(events)
    assert slots["id_number"] is None and slots["retry_slot"] == "id_number" and slots["retry_count"] == 1
    # The form's question for the slot now shows the platform's re-ask text.
    ask_msgs, _ = await run(ActionAskIdNumber(), make_tracker(slots={
        "retry_slot": "id_number", "reask_message": slots["reask_message"]}))
    assert ask_msgs[0]["text"] == "身份证号码最后一位对不上，请核对后重新输入"


@pytest.mark.asyncio
async def test_second_invalid_id_ends_the_form_and_queues_for_a_person(platform):
    filled = {k: FILLED[k] for k in ("service_code", "service_name", "applicant_name")}
    tracker = form_tracker("id_number", "513223194403150028",
                           slots={**filled, "retry_slot": "id_number", "retry_count": 1.0})
    msgs, events = await run(ValidateApplyForm(), tracker)
    slots = slot_events(events)
    assert slots["form_abandoned"] is True and slots["requested_slot"] is None and slots["id_number"] is None
    assert not set(filled) & set(slots)  # nothing already filled in is touched
    assert "身份证号码最后一位对不上" in texts(msgs)
    # The rule runs action_handoff next, with the slots as the form left them.
    handoff_msgs, handoff_events = await run(ActionHandoff(), make_tracker(
        "513223194403150028", slots={**filled, **slots}))
    assert platform.requests[-1]["route"] == "handoffs"
    assert platform.requests[-1]["body"]["reason"] == "form_abandoned"
    assert "填好的信息都还在" in texts(handoff_msgs) and "工作人员会接着帮您办" in texts(handoff_msgs)
    assert "前面还有0位" in texts(handoff_msgs)  # the platform's wait text
    assert not handoff_msgs[0].get("buttons")  # queued straight away, not offered
    # The flag is cleared so "我要办" after the agent hands back resumes the form.
    assert len(handoff_events) == 1 and slot_events(handoff_events) == {"form_abandoned": None}


@pytest.mark.asyncio
async def test_outage_during_the_form_drops_only_the_answer_being_given(platform_down):
    tracker = form_tracker("phone", PHONE, slots={k: FILLED[k] for k in ("applicant_name", "id_number")})
    msgs, events = await run(ValidateApplyForm(), tracker)
    assert texts(msgs) == messages.OUTAGE
    slots = slot_events(events)
    assert slots == {"phone": None}  # nothing else touched; no failed try counted


@pytest.mark.asyncio
async def test_town_and_village_in_one_answer(platform):
    _, events = await run(ValidateApplyForm(), form_tracker("hukou_town", "赤不苏镇雅都村"))
    slots = slot_events(events)
    assert slots["hukou_town"] == "赤不苏镇" and slots["hukou_village"] == "雅都村"


@pytest.mark.asyncio
async def test_name_prefix_is_not_part_of_the_name(platform):
    await run(ValidateApplyForm(), form_tracker("applicant_name", "我叫杨子妹"))
    assert platform.requests[-1]["body"] == {"field": "name", "value": "杨子妹"}


@pytest.mark.asyncio
async def test_form_start_takes_the_item_named_in_the_request(platform):
    latest = {"text": "我要申请高龄补贴", "intent": {"name": "apply"},
              "entities": [{"entity": "service", "value": "高龄补贴"}]}
    tracker = make_tracker(slots={}, events=[{"event": "user", "text": latest["text"], "parse_data": latest},
                                             {"event": "action", "name": "apply_form"}])
    tracker.latest_message = latest
    _, events = await run(ValidateApplyForm(), tracker)
    assert slot_events(events)["service_code"] == "MX-013"
    assert platform.requests[0]["route"] == "resolve" and platform.requests[0]["body"]["text"] == "我要申请高龄补贴"


@pytest.mark.asyncio
@pytest.mark.parametrize("text,expected", [("我要办低保", "MX-001"), ("我想申请个事", None)])
async def test_form_start_searches_the_whole_message_when_nlu_found_no_item(platform, text, expected):
    latest = {"text": text, "intent": {"name": "apply"}, "entities": []}
    tracker = make_tracker(slots={}, events=[{"event": "user", "text": text, "parse_data": latest},
                                             {"event": "action", "name": "apply_form"}])
    tracker.latest_message = latest
    msgs, events = await run(ValidateApplyForm(), tracker)
    assert slot_events(events)["service_code"] == expected
    assert "retry_slot" not in slot_events(events)  # no "not found", no failed try
    # An item found is named at once, so a misread one is seen now; none found: nothing said.
    assert [m["text"] for m in msgs] == (["好的，帮您申请“最低生活保障申请（城乡低保）”。不是这一项的话，说“办错了”。"]
                                         if expected else [])


@pytest.mark.asyncio
async def test_the_platforms_item_starts_the_form_and_is_named(platform):
    latest = {"text": "帮我妈把那个老年人的钱申请一下", "intent": {"name": "apply"},
              "entities": [{"entity": "service_code", "value": "MX-013", "extractor": "PlatformUnderstanding"}]}
    tracker = make_tracker(slots={}, events=[{"event": "user", "text": latest["text"], "parse_data": latest},
                                             {"event": "action", "name": "apply_form"}])
    tracker.latest_message = latest
    msgs, events = await run(ValidateApplyForm(), tracker)
    assert slot_events(events)["service_code"] == "MX-013"
    assert msgs[0]["text"].startswith("好的，帮您申请“高龄津贴")
    assert "resolve" not in [r["route"] for r in platform.requests]  # the gateway's reading is used as it is


@pytest.mark.asyncio
async def test_wrong_item_switches_and_keeps_what_was_filled(platform):
    # The form named 高龄津贴 and asked the name; "办错了" asks for the item again, the rest stays.
    latest = {"text": "办错了，不是这个", "intent": {"name": "deny"},
              "entities": [{"entity": "wrong_item", "value": "true", "extractor": "PlatformUnderstanding"}]}
    tracker = make_tracker(slots={"service_code": "MX-013", "service_name": "高龄津贴（高龄老人生活补贴）申请",
                                  "requested_slot": "id_number", "applicant_name": "杨子妹"},
                           events=[{"event": "user", "text": latest["text"], "parse_data": latest}])
    tracker.latest_message = latest
    tracker.active_loop = {"name": "apply_form"}
    _, events = await run(ValidateApplyForm(), tracker)
    slots = slot_events(events)
    assert slots.get("service_code", "kept") is None
    assert "applicant_name" not in slots or slots["applicant_name"] == "杨子妹"


@pytest.mark.asyncio
async def test_prefilled_answers_survive_an_outage_when_the_form_restarts(platform_down):
    # After a correction the form starts again and re-checks what is filled; the platform is down.
    tracker = form_tracker("applicant_name", "杨子妹", slots={"requested_slot": None})
    msgs, events = await run(ValidateApplyForm(), tracker)
    assert slot_events(events) == {"applicant_name": "杨子妹"} and msgs == []


@pytest.mark.asyncio
async def test_correction_chosen_with_a_button_clears_the_field():
    _, events = await run(ActionCorrectField(), make_tracker(
        '/inform{"field_to_fix":"hukou_town"}', "inform", [{"entity": "field_to_fix", "value": "hukou_town"}],
        slots=FILLED))
    assert slot_events(events) == {"hukou_town": None, "hukou_village": None, "confirm_turn": None}


@pytest.mark.asyncio
async def test_correction_with_the_new_value_in_the_same_message():
    msgs, events = await run(ActionCorrectField(), make_tracker(
        "电话错了，是13987654321", "inform", [{"entity": "phone", "value": "13987654321"}], slots=FILLED))
    slots = slot_events(events)
    assert slots["phone"] == "13987654321" and slots["phone_display"] is None
    assert "13987654321" not in texts(msgs)


# --- summary and submission ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_summary_masks_id_and_phone():
    msgs, events = await run(ActionReviewApplication(), make_tracker("成都", slots=FILLED))
    text = msgs[0]["text"]
    assert ID_NUMBER not in text and PHONE not in text
    assert "513223********0027" in text and "138****5678" in text and "赤不苏镇雅都村" in text
    assert slot_events(events)["confirm_turn"] == "1"


@pytest.mark.asyncio
async def test_submit_opens_the_case_and_says_what_happens_next(platform):
    msgs, events = await run(ActionSubmitCase(), make_tracker("对的", "affirm", slots=FILLED))
    text = texts(msgs)
    for expected in ("EM-20261126-0001", "尔玛代办员甲", "MXDB-114-01", "银行卡或社保卡", "赤不苏镇窗口",
                     "最多跑一次", "2026年12月24日"):
        assert expected in text
    assert ID_NUMBER not in text and PHONE not in text
    slots = slot_events(events)
    assert slots["case_no"] == "EM-20261126-0001" and slots["id_number"] is None and slots["phone"] is None
    sent = platform.requests[-1]
    assert sent["body"]["conversation_id"] == "conv-1" and sent["body"]["intake_point"] == "online"
    assert sent["body"]["materials_have"] == ["申请人居民身份证", "户口簿"]
    assert sent["headers"]["Idempotency-Key"].startswith("rasa-")


@pytest.mark.asyncio
async def test_submit_outage_keeps_everything_and_the_retry_sends_the_same_key(platform, monkeypatch):
    platform.fail["cases"] = 503
    msgs, events = await run(ActionSubmitCase(), make_tracker("对的", "affirm", slots=FILLED))
    assert messages.OUTAGE in texts(msgs)
    assert [b["payload"] for b in msgs[0]["buttons"]] == ["/affirm", "/request_human"]
    assert slot_events(events) == {"confirm_turn": "9"}  # no form slot cleared
    del platform.fail["cases"]
    msgs, events = await run(ActionSubmitCase(), make_tracker("/affirm", "affirm", slots=FILLED))
    assert "EM-20261126-0001" in texts(msgs)
    keys = [r["headers"]["Idempotency-Key"] for r in platform.requests if r["route"] == "cases"]
    assert len(keys) == 2 and keys[0] == keys[1]


@pytest.mark.asyncio
async def test_submit_with_the_platform_down_entirely(platform_down):
    msgs, events = await run(ActionSubmitCase(), make_tracker("对的", "affirm", slots=FILLED))
    assert msgs[0]["text"].startswith(messages.OUTAGE)
    assert slot_events(events) == {"confirm_turn": "9"}


@pytest.mark.asyncio
async def test_submit_timeout_then_retry_does_not_duplicate(platform):
    platform.fail["cases"] = "hang"  # the platform may have opened the case; we never heard back
    await run(ActionSubmitCase(), make_tracker("对的", "affirm", slots=FILLED))
    del platform.fail["cases"]
    await run(ActionSubmitCase(), make_tracker("/affirm", "affirm", slots=FILLED))
    await run(ActionSubmitCase(), make_tracker("/affirm", "affirm", slots=FILLED))
    assert len(platform.cases) == 1


def test_idempotency_key_changes_only_with_conversation_turn_or_content():
    body = {"service_code": "MX-013", "id_number": ID_NUMBER}
    key = idempotency_key("conv-1", "9", body)
    assert key == idempotency_key("conv-1", "9", dict(body))
    assert key != idempotency_key("conv-2", "9", body)
    assert key != idempotency_key("conv-1", "12", body)
    assert key != idempotency_key("conv-1", "9", {**body, "service_code": "MX-014"})
    assert ID_NUMBER not in key


@pytest.mark.asyncio
async def test_submit_refused_shows_the_platform_message_and_keeps_slots(platform):
    platform.fail["cases"] = 422
    msgs, events = await run(ActionSubmitCase(), make_tracker("对", "affirm", slots=FILLED))
    assert "出错了" in msgs[0]["text"] and slot_events(events) == {"confirm_turn": "9"}


@pytest.mark.asyncio
async def test_submit_again_after_success_does_not_open_another_case(platform):
    msgs, _ = await run(ActionSubmitCase(), make_tracker("好的", "affirm", slots={"case_no": "EM-20261126-0001"}))
    assert "EM-20261126-0001" in msgs[0]["text"] and platform.requests == []


# --- status, handoff, rating, service facts -------------------------------------------------------------
@pytest.mark.asyncio
async def test_status_from_the_conversation_that_opened_the_case(platform):
    msgs, _ = await run(ActionCheckStatus(), make_tracker("我的事办到哪了", "check_status", sender_id="has-case"))
    text = msgs[0]["text"]
    assert "户籍镇审核中" in text and "赤不苏镇审核人员" in text and "2026年12月24日" in text


@pytest.mark.asyncio
async def test_status_elsewhere_asks_for_number_and_last4(platform):
    msgs, _ = await run(ActionCheckStatus(), make_tracker("我的低保办到哪了", "check_status"))
    assert msgs[0]["text"] == ASK_BOTH


@pytest.mark.asyncio
async def test_status_by_number_and_last4(platform):
    msgs, events = await run(ActionCheckStatus(), make_tracker("0027", "inform", slots={"case_no": "EM-20261126-0007"}))
    assert "EM-20261126-0007" in msgs[0]["text"]
    assert platform.requests[-1]["query"] == {"last4": "0027", "conversation_id": "conv-1"}
    assert slot_events(events)["last4"] is None


@pytest.mark.asyncio
async def test_status_wrong_last4(platform):
    msgs, events = await run(ActionCheckStatus(), make_tracker(
        "EM-20261126-0007 1234", "check_status", [{"entity": "case_no", "value": "EM-20261126-0007"},
                                                  {"entity": "last4", "value": "1234"}]))
    assert "没有查到" in msgs[0]["text"]
    assert slot_events(events) == {"case_no": None, "last4": None, "id_last6": None}


@pytest.mark.asyncio
async def test_status_too_many_tries(platform):
    platform.fail["status"] = 429
    msgs, _ = await run(ActionCheckStatus(), make_tracker("EM-20261126-0007 0027", "check_status"))
    assert "转人工" in msgs[0]["text"]


@pytest.mark.asyncio
async def test_status_outage(platform_down):
    msgs, _ = await run(ActionCheckStatus(), make_tracker("我的事办到哪了", "check_status"))
    assert msgs[0]["text"] == messages.OUTAGE


@pytest.mark.asyncio
async def test_handoff_calls_the_platform_and_does_not_pause(platform):
    msgs, events = await run(ActionHandoff(), make_tracker("转人工", "request_human"))
    assert "工作人员" in msgs[0]["text"] and "前面还有0位" in msgs[0]["text"]
    assert platform.requests[-1]["body"] == {"conversation_id": "conv-1", "channel": "web_chat",
                                             "reason": "requested"}
    # No ConversationPaused: the platform gateway owns the state. (Clearing form_abandoned, which
    # is not set here, changes nothing.)
    assert [e["event"] for e in events] == ["slot"] and slot_events(events) == {"form_abandoned": None}


def fallback_twice() -> List[Dict[str, Any]]:
    """Two messages in a row the assistant did not understand; utter_default answered the first."""
    first = {"text": "呃呃呃", "intent": {"name": "nlu_fallback"}, "entities": []}
    second = {"text": "？？", "intent": {"name": "nlu_fallback"}, "entities": []}
    return [{"event": "user", "text": "呃呃呃", "parse_data": first},
            {"event": "action", "name": "utter_default"},
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": "？？", "parse_data": second}]


@pytest.mark.asyncio
async def test_second_message_not_understood_queues_for_a_person(platform):
    platform_message = "已为您登记转人工。现在是下班时间，代办员上班后（工作日 9:00–12:00、14:00–17:30）会第一时间回复您。"
    platform.handoff_message = platform_message
    msgs, events = await run(ActionHandoff(), make_tracker("？？", "nlu_fallback", events=fallback_twice()))
    assert platform.requests[-1]["body"]["reason"] == "fallback"
    assert len(msgs) == 1 and msgs[0]["text"].startswith("不好意思，我还是没听明白。我请工作人员来帮您。")
    assert msgs[0]["text"].endswith(platform_message)  # the office hours, as the platform worded them
    assert [e["event"] for e in events] == ["slot"]  # not paused


@pytest.mark.asyncio
async def test_asking_for_a_person_after_a_misunderstanding_is_a_request(platform):
    first = {"text": "呃呃呃", "intent": {"name": "nlu_fallback"}, "entities": []}
    latest = {"text": "转人工", "intent": {"name": "request_human"}, "entities": []}
    events = [{"event": "user", "text": "呃呃呃", "parse_data": first}, {"event": "action", "name": "utter_default"},
              {"event": "user", "text": "转人工", "parse_data": latest}]
    await run(ActionHandoff(), make_tracker("转人工", "request_human", events=events))
    assert platform.requests[-1]["body"]["reason"] == "requested"


@pytest.mark.asyncio
async def test_automatic_handoffs_without_a_connection_still_explain(platform_down):
    msgs, _ = await run(ActionHandoff(), make_tracker("？？", "nlu_fallback", events=fallback_twice()))
    assert msgs[0]["text"] == "不好意思，我还是没听明白。" + NO_CONNECTION
    msgs, events = await run(ActionHandoff(), make_tracker("5132231944", slots={"form_abandoned": True}))
    assert msgs[0]["text"] == "这一项试了两次还没填对。您已经填好的信息都还在。" + NO_CONNECTION
    assert slot_events(events)["form_abandoned"] is None  # the form stays resumable with "我要办"


@pytest.mark.asyncio
async def test_handoff_in_the_middle_of_the_form_keeps_it_for_the_answer_after_the_hand_back(platform):
    tracker = make_tracker("转人工", "request_human", active_loop="apply_form",
                           slots={**FILLED, "hukou_village": None, "requested_slot": "hukou_village"})
    msgs, events = await run(ActionHandoff(), tracker)
    assert "都还在" in msgs[0]["text"], "the resident is told nothing filled is lost"
    assert "applicant_name" not in slot_events(events)
    msgs, _ = await run(ActionHandoff(), make_tracker("转人工", "request_human"))
    assert "都还在" not in msgs[0]["text"], "no application, nothing to keep"


@pytest.mark.asyncio
async def test_handoff_channel_from_metadata(platform):
    tracker = make_tracker("转人工", "request_human")
    tracker.latest_message["metadata"] = {"channel": "wechat"}
    await run(ActionHandoff(), tracker)
    assert platform.requests[-1]["body"]["channel"] == "wechat"
    assert platform.requests[-1]["body"]["reason"] == "requested"


@pytest.mark.asyncio
async def test_handoff_outage(platform_down):
    msgs, _ = await run(ActionHandoff(), make_tracker("转人工", "request_human"))
    assert msgs[0]["text"] == NO_CONNECTION


@pytest.mark.asyncio
@pytest.mark.parametrize("text,entities,sent,level", [
    ("5", [], {"said": "5"}, "非常满意"),
    ("还可以吧", [], {"said": "还可以吧"}, "基本满意"),
    ("很满意", [{"entity": "rating_level", "value": "很满意"}], {"level": "很满意", "said": "很满意"}, "非常满意"),
    ("/rate", [{"entity": "rating_level", "value": "不满意"}], {"level": "不满意"}, "不满意"),
])
async def test_rating_levels_in_words_or_numbers(platform, text, entities, sent, level):
    # The resident's words go to the platform as they are; the platform reads the level.
    msgs, _ = await run(ActionRate(), make_tracker(text, "rate", entities, slots={"case_no": "EM-20261126-0001"}))
    body = platform.requests[-1]["body"]
    assert {k: body[k] for k in ("level", "said") if k in body} == sent
    assert body["conversation_id"] == "conv-1"  # the platform checks it owns the case
    assert msgs[0]["text"] == f"收到您的评价：{level}。谢谢您！" + (
        "让您不满意了，对不起。工作人员会尽快回访您，把问题解决好。" if level == "不满意" else "")


@pytest.mark.asyncio
async def test_rating_bad_level_promises_a_follow_up(platform):
    msgs, _ = await run(ActionRate(), make_tracker("非常不满意", "rate", slots={"case_no": "EM-20261126-0001"}))
    assert "回访" in msgs[0]["text"]


@pytest.mark.asyncio
async def test_rating_without_level_shows_five_buttons(platform):
    msgs, _ = await run(ActionRate(), make_tracker("我要评价", "rate", slots={"case_no": "EM-20261126-0001"}))
    # The platform read no level in the words; the buttons are the levels it lists, in its order.
    assert [r["route"] for r in platform.requests] == ["rating", "conversation_cases", "rating_levels"]
    assert [b["title"] for b in msgs[0]["buttons"]] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    payloads = [json.loads(b["payload"][len("/rate"):]) for b in msgs[0]["buttons"]]
    assert [p["rating_level"] for p in payloads] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert all(p["case_no"] == "EM-20261126-0001" for p in payloads)


@pytest.mark.asyncio
async def test_a_rating_button_without_a_level_asks_without_a_rating_call(platform):
    msgs, _ = await run(ActionRate(), make_tracker("/rate", "rate", slots={"case_no": "EM-20261126-0001"}))
    assert "rating" not in [r["route"] for r in platform.requests] and len(msgs[0]["buttons"]) == 5


@pytest.mark.asyncio
async def test_asking_for_a_level_while_the_platform_is_unreachable_says_so(platform):
    platform.fail["rating_levels"] = 503
    msgs, _ = await run(ActionAskRating(), make_tracker("EXTERNAL_ask_rating", "EXTERNAL_ask_rating",
                                                        [{"entity": "case_no", "value": "EM-20261126-0001"}]))
    assert msgs == [{**msgs[0], "text": messages.OUTAGE}] and not msgs[0].get("buttons")


@pytest.mark.asyncio
async def test_asking_for_a_level_never_claims_an_unconfirmed_case_is_done(platform):
    # This conversation opened no such case: the platform has not said it is done.
    msgs, _ = await run(ActionRate(), make_tracker("我要评价", "rate", slots={"case_no": "EM-20261126-0001"}))
    assert "办好了" not in msgs[0]["text"] and "打个分" in msgs[0]["text"]


@pytest.mark.asyncio
async def test_the_platform_triggered_request_says_the_case_is_done(platform):
    msgs, _ = await run(ActionAskRating(), make_tracker("EXTERNAL_ask_rating", "EXTERNAL_ask_rating",
                                                        [{"entity": "case_no", "value": "EM-20261126-0001"}]))
    assert "办好了" in msgs[0]["text"] and len(msgs[0]["buttons"]) == 5


@pytest.mark.asyncio
async def test_rating_refused_shows_the_platform_message(platform):
    msgs, _ = await run(ActionRate(), make_tracker("满意", "rate", slots={"case_no": "EM-20261126-0009"}))
    assert msgs[0]["text"] == "这件事您已经评价过了，谢谢"


@pytest.mark.asyncio
async def test_service_points_for_a_town(platform):
    msgs, _ = await run(ActionServicePoints(), make_tracker("赤不苏在哪里办", "ask_service_points",
                                                            [{"entity": "town", "value": "赤不苏镇"}]))
    text = msgs[0]["text"]
    assert "赤不苏镇便民服务中心" in text and "雅都村便民服务站" in text and "赤不苏镇窗口" in text


@pytest.mark.asyncio
async def test_opening_hours_and_outage(platform, monkeypatch):
    msgs, _ = await run(ActionOpeningHours(), make_tracker("几点上班", "ask_opening_hours"))
    assert "9:00–12:00" in msgs[0]["text"]
    platform.fail["intake_points"] = 500
    msgs, _ = await run(ActionOpeningHours(), make_tracker("几点上班", "ask_opening_hours"))
    assert msgs[0]["text"] == messages.OUTAGE


# --- personal data stays out of logs -------------------------------------------------------------------
@pytest.mark.asyncio
async def test_no_id_number_or_phone_in_log_lines(platform, caplog):
    caplog.set_level(logging.DEBUG)
    await run(ValidateApplyForm(), form_tracker("id_number", ID_NUMBER))
    await run(ActionSubmitCase(), make_tracker("对的", "affirm", slots=FILLED))
    await run(ActionCheckStatus(), make_tracker("EM-20261126-0007 0027", "check_status"))
    # Our own log lines (the fake server's access log is the platform's business).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("actions"))
    assert "platform POST /api/v1/cases" in logged
    assert ID_NUMBER not in logged and PHONE not in logged and "0027" not in logged


@pytest.mark.asyncio
async def test_the_detail_asked_leads_the_full_answer(platform):
    # "高龄津贴好久能办好": the platform's reading names the item and the detail asked (time).
    msgs, events = await run(ActionRequirements(), make_tracker(
        "高龄津贴好久能办好", "ask_requirements",
        [{"entity": "service_code", "value": "MX-013"}, {"entity": "asked_fact", "value": "time"}]))
    first = msgs[0]["text"].splitlines()
    assert [r["query"] for r in platform.requests if r["route"] == "answer"] == [{"fact": "time"}]
    assert first[0] == "办理时间：承诺20个工作日内办好。"
    assert any(m["name"] in msgs[0]["text"] for m in ITEM["materials"])  # the full list still follows
    assert slot_events(events)["service_code"] == "MX-013"


@pytest.mark.asyncio
async def test_the_requirement_answer_names_the_residents_town_and_links_the_guide(platform):
    msgs, _ = await run(ActionRequirements(), make_tracker(
        "高龄津贴要带啥", "ask_requirements", [{"entity": "service_code", "value": "MX-013"}],
        slots={"hukou_town": "赤不苏镇"}))
    assert [r["query"] for r in platform.requests if r["route"] == "answer"] == [{"town": "赤不苏镇"}]
    lines = msgs[0]["text"].splitlines()
    assert "找赤不苏镇窗口" in msgs[0]["text"] and lines[-1] == "办事指南：https://erma.example.cn/services/MX-013"
    assert not [r for r in platform.requests if r["route"] == "service"]  # one call: the platform's answer


@pytest.mark.asyncio
async def test_a_found_items_answer_comes_with_the_town_and_detail_in_the_same_call(platform):
    msgs, _ = await run(ActionRequirements(), make_tracker(
        "高龄津贴好久能办好", "ask_requirements",
        [{"entity": "service", "value": "高龄津贴"}, {"entity": "asked_fact", "value": "time"}],
        slots={"hukou_town": "赤不苏镇"}))
    assert [(r["route"], r["body"]) for r in platform.requests] == [
        ("resolve", {"text": "高龄津贴好久能办好", "phrase": "高龄津贴", "answer": True, "town": "赤不苏镇",
                     "fact": "time"})]
    assert msgs[0]["text"].splitlines()[0] == "办理时间：承诺20个工作日内办好。" and "找赤不苏镇窗口" in msgs[0]["text"]


@pytest.mark.asyncio
async def test_the_checklist_is_one_call_that_names_its_item(platform):
    msgs, events = await run(ActionChecklist(), make_tracker(
        "我有身份证和户口本", "inform", slots={"service_code": "MX-013"}))
    assert [r["route"] for r in platform.requests] == ["checklist"]
    assert ITEM["name"] in msgs[0]["text"] and slot_events(events)["service_name"] == ITEM["name"]


@pytest.mark.asyncio
async def test_items_are_kept_until_the_platform_names_another_catalog_version(platform):
    client = platform_client.get_client()
    assert (await client.get_service("MX-013"))["name"] == ITEM["name"]
    await client.get_service("MX-013")
    assert [r["route"] for r in platform.requests] == ["service"]  # the second read is the kept copy
    platform.catalog_version = "v2"  # an admin edited the catalog
    await client.resolve_item("低保要带啥")  # any catalog answer names the new version
    await client.get_service("MX-013")
    assert [r["route"] for r in platform.requests] == ["service", "resolve", "service"]


@pytest.mark.asyncio
async def test_an_unknown_item_code_is_not_found(platform):
    msgs, events = await run(ActionRequirements(), make_tracker(
        '/ask_requirements{"service_code":"MX-999"}', "ask_requirements", [{"entity": "service_code", "value": "MX-999"}]))
    assert msgs[0]["text"] == NOT_FOUND and events == []


@pytest.mark.asyncio
async def test_an_item_named_as_the_forms_answer_is_not_a_checklist(platform):
    # After "办错了" the form asks "您要办哪件事？"; "高龄津贴" read as materials in hand still names the item.
    tracker = make_tracker("高龄津贴", "inform_materials", slots={"requested_slot": "service_code"})
    tracker.active_loop = {"name": "apply_form"}
    msgs, events = await run(ActionChecklist(), tracker)
    assert msgs == [] and events == [] and not platform.requests  # nothing checked: the form reads it
    msgs, events = await run(ValidateApplyForm(), tracker)
    assert slot_events(events)["service_code"] == "MX-013"
    assert msgs[0]["text"].startswith("好的，帮您申请“高龄津贴")


@pytest.mark.asyncio
async def test_wrong_item_is_never_taken_for_the_applicants_name(platform):
    tracker = form_tracker("applicant_name", "办错了", slots={"service_code": "MX-013"})
    tracker.latest_message["entities"] = [{"entity": "wrong_item", "value": "true"}]
    _, events = await run(ValidateApplyForm(), tracker)
    assert slot_events(events).get("applicant_name") is None


@pytest.mark.asyncio
async def test_applying_after_a_question_names_the_remembered_item(platform):
    latest = {"text": "我要申请办理", "intent": {"name": "apply"}, "entities": []}
    tracker = make_tracker(slots={"service_code": "MX-013", "service_name": "高龄津贴（高龄老人生活补贴）申请"},
                           events=[{"event": "user", "text": latest["text"], "parse_data": latest},
                                   {"event": "action", "name": "apply_form"}])
    tracker.latest_message = latest
    msgs, events = await run(ValidateApplyForm(), tracker)
    assert slot_events(events)["service_code"] == "MX-013"
    assert msgs[0]["text"].startswith("好的，帮您申请“高龄津贴")


def _applying(text: str, remembered: str, name: str) -> Tracker:
    # The gateway's reading of "我要办残疾证": a close call between 新办 and 补办 (erma/understanding).
    choices = [{"code": "MX-019", "name": CATALOG["MX-019"][0]}, {"code": "MX-020", "name": CATALOG["MX-020"][0]}]
    latest = {"text": text, "intent": {"name": "apply"}, "entities": [],
              "metadata": {"understanding": {"behaviour": "apply", "item": None, "choices": choices}}}
    tracker = make_tracker(slots={"service_code": remembered, "service_name": name},
                           events=[{"event": "user", "text": text, "parse_data": latest},
                                   {"event": "action", "name": "apply_form"}])
    tracker.latest_message = latest
    return tracker


@pytest.mark.asyncio
async def test_applying_for_items_other_than_the_remembered_one_offers_them_not_the_remembered_one(platform):
    # After the 高龄津贴 checklist, "我要办残疾证" (新办 or 补办) must not start the 高龄津贴 application.
    msgs, events = await run(ValidateApplyForm(), _applying("我要办残疾证", "MX-013", ITEM["name"]))
    slots = slot_events(events)
    assert slots["service_code"] is None
    assert [c["code"] for c in slots["service_choices"]] == ["MX-019", "MX-020"]
    assert not any("高龄津贴" in m.get("text", "") for m in msgs)


@pytest.mark.asyncio
async def test_applying_for_the_remembered_items_family_keeps_the_remembered_item(platform):
    msgs, events = await run(ValidateApplyForm(), _applying("我要办残疾证", "MX-019", "残疾人证新办（残疾评定）"))
    assert slot_events(events)["service_code"] == "MX-019"
    assert msgs[0]["text"].startswith("好的，帮您申请“残疾人证新办")


def test_a_finished_case_says_when_it_was_done_not_when_it_is_expected():
    from actions import messages

    base = {"case_no": "EM-20261126-0007", "service_name": "高龄津贴", "stage_text": "已办结",
            "holder": {"kind": "agent", "name": "王芳"}, "expected_completion_date": "2026-12-24"}
    assert "预计办好：2026年12月24日" in messages.status_message(base)
    done = messages.status_message({**base, "finished_on": "2026-12-03"})
    assert "办好日期：2026年12月3日" in done and "预计" not in done
    ended = messages.status_message({**base, "stage_text": "不予受理", "ended_on": "2026-12-01"})
    assert "结束日期：2026年12月1日" in ended and "预计" not in ended


def test_a_provisional_promised_date_is_said_to_be_provisional():
    from actions import messages

    base = {"case_no": "EM-20261206-0007", "service_name": "高龄津贴", "stage_text": "户籍地镇审核中",
            "holder": {"kind": "town", "name": "赤不苏镇审核人员"}, "expected_completion_date": "2027-01-04"}
    assert "预计办好：2027年1月4日（暂定" in messages.status_message({**base, "expected_completion_provisional": True})
    assert "暂定" not in messages.status_message({**base, "expected_completion_provisional": False})


@pytest.mark.asyncio
async def test_a_typed_rating_sends_the_residents_words_a_button_does_not(platform):
    said = "不满意，星期天转人工半天都没人理"
    await run(ActionRate(), make_tracker(said, "rate", [{"entity": "rating_level", "value": "不满意"}],
                                         slots={"case_no": "EM-20261126-0001"}))
    pressed = '/rate{"rating_level": "满意", "case_no": "EM-20261126-0001"}'
    await run(ActionRate(), make_tracker(pressed, "rate", [{"entity": "rating_level", "value": "满意"}],
                                         slots={"case_no": "EM-20261126-0001"}))
    bodies = [r["body"] for r in platform.requests if r["route"] == "rating"]
    assert bodies[0]["said"] == said and "said" not in bodies[1]


def _at_summary(text: str, intent: str, entities=None) -> Tracker:
    """The resident answers the summary ("都对吗？") with something else."""
    latest = {"text": text, "intent": {"name": intent}, "entities": entities or []}
    events = [{"event": "action", "name": "apply_form"}, {"event": "action", "name": "action_review_application"},
              {"event": "action", "name": "action_listen"}, {"event": "user", "text": text, "parse_data": latest}]
    return make_tracker(text, intent, entities, slots={"service_code": "MX-013", "service_name": "高龄津贴",
                                                       "applicant_name": "杨子妹"}, events=events)


@pytest.mark.asyncio
async def test_materials_stated_at_the_summary_update_it_and_ask_nothing_else(platform):
    msgs, events = await run(ActionChecklist(), _at_summary("只有户口本带起的", "inform_materials"))
    assert "还差" in msgs[0]["text"] and len(msgs) == 1  # no "想现在申请，就说我要办": the summary follows
    slots = slot_events(events)
    assert slots["service_code"] == "MX-013" and slots["materials_missing"]


@pytest.mark.asyncio
async def test_a_question_about_another_item_at_the_summary_keeps_the_applications_item(platform):
    msgs, events = await run(ActionRequirements(), _at_summary(
        "低保要带啥", "ask_requirements", [{"entity": "service_code", "value": "MX-001"}]))
    assert "材料" in msgs[0]["text"] and len(msgs) == 1
    assert events == []  # the application's item, answers and materials stay


# --- issue 12: leaving and coming back, repeat applications, a lost case number ------------------
@pytest.mark.asyncio
async def test_leaving_the_form_says_nothing_was_submitted_and_how_to_come_back(platform):
    msgs, events = await run(ActionPauseApplication(), make_tracker("不办了", "stop", slots=FILLED))
    assert "还没有提交" in texts(msgs) and "继续刚才的申请" in texts(msgs)
    paused = slot_events(events)["application_paused_at"]
    assert abs(paused - time.time()) < 5
    assert "applicant_name" not in slot_events(events), "what was filled is kept"


@pytest.mark.asyncio
async def test_coming_back_within_a_day_keeps_everything(platform):
    tracker = make_tracker("继续刚才的申请", "apply", slots={**FILLED, "application_paused_at": time.time() - 3600,
                                                       "requested_slot": "phone"}, active_loop="apply_form")
    msgs, events = await run(ValidateApplyForm(), tracker)
    values = slot_events(events)
    assert values["application_paused_at"] is None
    assert values.get("applicant_name", "杨子妹") == "杨子妹" and values.get("id_number", ID_NUMBER) == ID_NUMBER
    assert messages.EXPIRED not in texts(msgs)


@pytest.mark.asyncio
async def test_coming_back_after_a_day_starts_again(platform):
    tracker = make_tracker("继续刚才的申请", "apply", active_loop="apply_form",
                           slots={**FILLED, "application_paused_at": time.time() - PAUSE_KEPT_SECONDS - 60})
    msgs, events = await run(ValidateApplyForm(), tracker)
    values = slot_events(events)
    assert messages.EXPIRED in texts(msgs)
    assert values["id_number"] is None and values["applicant_name"] is None and values["service_code"] is None
    assert values["application_paused_at"] is None


@pytest.mark.asyncio
async def test_an_open_case_for_the_same_item_is_named_and_yes_opens_a_new_one(platform):
    platform.open_case = {"case_no": "EM-20261101-0003", "service_name": ITEM["name"], "stage": "town_review",
                          "stage_text": "户籍镇审核中"}
    msgs, events = await run(ActionSubmitCase(), make_tracker("对的", "affirm", slots=FILLED))
    assert "EM-20261101-0003" in texts(msgs) and "户籍镇审核中" in texts(msgs) and "确实要再申请" in texts(msgs)
    assert slot_events(events)["repeat_of"] == "EM-20261101-0003"
    assert not platform.cases, "nothing opened before the resident says yes"

    msgs, events = await run(ActionSubmitCase(), make_tracker("要", "affirm", slots={**FILLED, "repeat_of": "EM-20261101-0003"}))
    assert platform.requests[-1]["body"]["repeat_confirmed"] is True
    assert "申请已经提交了" in texts(msgs)
    assert slot_events(events)["repeat_of"] is None


@pytest.mark.asyncio
async def test_no_to_a_second_case_keeps_the_open_one_and_opens_nothing(platform):
    msgs, events = await run(ActionAskCorrection(), make_tracker("不用了", "deny", slots={**FILLED, "repeat_of": "EM-20261101-0003"}))
    assert "EM-20261101-0003" in texts(msgs) and "不再重复申请" in texts(msgs)
    values = slot_events(events)
    assert values["repeat_of"] is None and values["id_number"] is None
    assert not any(r["route"] == "cases" for r in platform.requests)


@pytest.mark.asyncio
async def test_an_open_case_the_platform_does_not_name_still_asks_and_no_names_no_case(platform):
    # Not this conversation's case: the platform says only that one is open (no case number, no stage).
    platform.open_case = {"service_name": ITEM["name"]}
    msgs, events = await run(ActionSubmitCase(), make_tracker("对的", "affirm", slots=FILLED))
    assert "确实要再申请" in texts(msgs) and "EM-" not in texts(msgs)
    repeat_of = slot_events(events)["repeat_of"]
    assert repeat_of and not platform.cases
    msgs, _ = await run(ActionAskCorrection(), make_tracker("不用了", "deny", slots={**FILLED, "repeat_of": repeat_of}))
    assert "不再重复申请" in texts(msgs) and "EM-" not in texts(msgs) and repeat_of not in texts(msgs)
    msgs, _ = await run(ActionSubmitCase(), make_tracker("要", "affirm", slots={**FILLED, "repeat_of": repeat_of}))
    assert platform.requests[-1]["body"]["repeat_confirmed"] is True and "申请已经提交了" in texts(msgs)


@pytest.mark.asyncio
async def test_a_lost_case_number_found_by_id_last_six_and_phone_last_four(platform):
    msgs, events = await run(ActionCheckStatus(), make_tracker("150027 5678", "inform", sender_id="new-phone"))
    text = texts(msgs)
    assert "EM-20261126-0001" in text and "EM-20261101-0003" in text
    assert text.index("EM-20261126-0001") < text.index("EM-20261101-0003"), "in the platform's order"
    assert "杨*妹" in text
    assert platform.requests[-1]["body"] == {"id_last6": "150027", "phone_last4": "5678", "applicant_name": None,
                                             "conversation_id": "new-phone"}


@pytest.mark.asyncio
async def test_last_six_alone_asks_for_the_phone_or_name_then_finds(platform):
    msgs, events = await run(ActionCheckStatus(), make_tracker("150027", "inform", sender_id="new-phone"))
    assert "手机号的后四位" in texts(msgs)
    assert slot_events(events)["id_last6"] == "150027"
    msgs, _ = await run(ActionCheckStatus(), make_tracker(
        "杨子妹", "inform", sender_id="new-phone", slots={"id_last6": "150027"},
        entities=[{"entity": "person_name", "value": "杨子妹"}]))
    assert "EM-20261126-0001" in texts(msgs)


@pytest.mark.asyncio
async def test_wrong_digits_find_nothing_and_say_what_to_check(platform):
    msgs, _ = await run(ActionCheckStatus(), make_tracker("150027 1111", "inform", sender_id="new-phone"))
    assert "身份证号后六位" in texts(msgs) and "EM-" not in texts(msgs)
