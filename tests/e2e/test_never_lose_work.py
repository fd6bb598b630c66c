"""Issue 12 end to end, through the web-chat API (and the channel API for WeChat): a digression at
any step of the application keeps the work and the case still reaches the platform; leaving and
coming back; a repeat application; a lost case number; a rating's words reach the duty lead."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import (PLATFORM, SERVICE, Resident, collect_missing_materials, fresh_id_number,
                                holder_username, platform_get, platform_post, staff)

PHONE = "13812345678"

# The application for 老年证 step by step: (what the form asks, the resident's answer).
ANSWERS = [("您要办哪件事", "老年证"), ("申请人叫什么名字", "我叫李明"), ("身份证号", None), ("手机号", PHONE),
           ("户口在哪个镇", "沟口"), ("户口在哪个村", "刁林村"), ("人在哪里", "在屋头"),
           ("有哪些材料", "有身份证、户口本和照片")]
# Kind of digression → what the resident says, and a word its answer must hold.
DIGRESSIONS = [("requirements", "等一下，要带些啥子材料？", "材料"),
               ("materials", "我手上有户口本", "户口"),
               ("status", "我之前那个事办到哪了", "办件号"),
               ("chit-chat", "谢谢你", "不客气"),
               ("greeting", "你好", "接着"),
               ("person", "转人工", "工作人员"),
               ("capabilities", "你能帮我做啥子", "我可以帮您"),
               ("out of scope", "帮我订张火车票", "帮不上")]


class WechatResident(Resident):
    """A WeChat resident (the channel API with an openid): the same openid's later conversations."""

    def __init__(self, openid: str) -> None:  # noqa: D107 — no web-chat token here
        r = httpx.post(f"{PLATFORM}/api/v1/conversations", headers=SERVICE, timeout=10,
                       json={"channel": "wechat", "external_user_id": openid})
        r.raise_for_status()
        self.sender = r.json()["id"]
        self.transcript = []

    def say(self, text: str) -> str:
        r = httpx.post(f"{PLATFORM}/api/v1/conversations/{self.sender}/messages", headers=SERVICE, timeout=90,
                       json={"text": text, "client_msg_id": uuid.uuid4().hex})
        assert r.status_code == 200, r.text
        reply = "\n".join(m.get("text") or "" for m in r.json()["replies"])
        self.transcript.append((text, reply))
        return reply


def _hand_back_after_a_person(resident: Resident) -> None:
    """An agent takes the queued conversation and hands it back to the assistant."""
    admin = staff("admin")
    platform_post(f"/api/v1/conversations/{resident.sender}/take", {}, admin)
    platform_post(f"/api/v1/conversations/{resident.sender}/hand-back", {}, admin)


def step_is_summary(asked: str) -> bool:
    return asked in ("", "都对吗")


def _digress(resident: Resident, kind: str, text: str, expect: str, asked: str) -> None:
    reply = resident.say(text)
    assert expect in reply, (kind, resident.transcript)
    if asked:
        assert asked in reply, ("the form asks the same question again", kind, resident.transcript)
    if kind == "person":
        assert "都还在" in reply or step_is_summary(asked), resident.transcript
        _hand_back_after_a_person(resident)


def _check_case(resident: Resident, id_number: str) -> dict:
    cases = resident.cases()
    assert len(cases) == 1, resident.transcript
    case = platform_get(f"/api/v1/cases/{cases[0]['case_no']}", staff("admin"))  # the assistant sees it masked
    assert case["service_name"] == "老年人优待证办理" or case["service_code"] == "MX-014", case
    assert case["applicant_name"] == "李明" and case["hukou_village"] == "刁林村"
    assert case["id_number"] == id_number
    return case


# Every step (the eight questions and the summary) meets a digression; the kinds rotate so that
# each kind is met at least once. The full table runs as test stories (tests/stories/test_form_digressions.yml).
CELLS = [(step, DIGRESSIONS[step % len(DIGRESSIONS)]) for step in range(len(ANSWERS) + 1)]


@pytest.mark.parametrize("step,digression", CELLS, ids=[f"step{s}-{d[0]}" for s, d in CELLS])
def test_a_digression_at_any_step_keeps_the_application_and_the_case_reaches_the_platform(resident, step, digression):
    kind, text, expect = digression
    if (step, kind) in ((0, "materials"), (7, "materials")):
        pytest.skip("a statement of materials answers these steps")
    id_number = fresh_id_number()
    assert "您要办哪件事" in resident.say("我想申请个事")
    for index, (asked, answer) in enumerate(ANSWERS):
        if index == step:
            _digress(resident, kind, text, expect, asked)
        resident.say(answer or id_number)
    if step == len(ANSWERS):
        _digress(resident, kind, text, expect, "" if kind == "person" else "都对吗")
        if kind == "person":
            assert "都对吗" in resident.say("继续刚才的申请"), resident.transcript
    done = resident.say("是的")
    case = _check_case(resident, id_number)
    assert case["case_no"] in done


def test_leaving_says_nothing_was_submitted_and_coming_back_resumes_where_it_stopped(resident):
    id_number = fresh_id_number()
    resident.say("我想申请个事")
    resident.say("老年证")
    resident.say("我叫李明")
    left = resident.say("算了不办了")
    assert "还没有提交" in left and "继续刚才的申请" in left
    assert resident.cases() == []
    back = resident.say("继续刚才的申请")
    assert "身份证号" in back, resident.transcript
    for _, answer in ANSWERS[2:]:
        resident.say(answer or id_number)
    resident.say("是的")
    _check_case(resident, id_number)


def _apply_for_elderly_allowance(resident: Resident, id_number: str) -> str:
    resident.say("我想给屋头老娘申请高龄补贴")
    resident.say("杨子妹")
    resident.say(id_number)
    resident.say(PHONE)
    resident.say("赤不苏镇雅都村")
    resident.say("我在成都")
    resident.say("身份证和户口本都有")
    return resident.say("对的，提交嘛")


def test_a_repeat_application_is_answered_with_the_open_case(resident):
    id_number = fresh_id_number()
    _apply_for_elderly_allowance(resident, id_number)
    first = resident.cases()[0]["case_no"]
    # The conversation that opened the case is told which one is open.
    asked = _apply_for_elderly_allowance(resident, id_number)
    assert first in asked and "确实要再申请" in asked, resident.transcript
    resident.say("不用了")

    # Another conversation typing the same ID number is told one is open, not which (anybody may type it).
    again = Resident()
    asked = _apply_for_elderly_allowance(again, id_number)
    assert "已经有一件" in asked and "确实要再申请" in asked and first not in asked, again.transcript
    assert again.cases() == [], "nothing is opened before the resident says so"
    kept = again.say("不用了")
    assert "不再重复申请" in kept and first not in kept and again.cases() == []

    meant = Resident()
    assert first not in _apply_for_elderly_allowance(meant, id_number)
    opened = meant.say("要")
    cases = meant.cases()
    assert len(cases) == 1 and cases[0]["case_no"] != first and cases[0]["case_no"] in opened, meant.transcript


def test_a_lost_case_number_is_found_from_the_same_wechat_user(resident):
    openid = f"e2e-openid-{uuid.uuid4().hex[:12]}"
    first = WechatResident(openid)
    _apply_for_elderly_allowance(first, fresh_id_number())
    case_no = first.cases()[0]["case_no"]
    httpx.post(f"{PLATFORM}/api/v1/conversations/{first.sender}/close", headers=SERVICE, timeout=10).raise_for_status()

    later = WechatResident(openid)
    assert later.sender != first.sender, "a closed conversation is followed by a new one"
    reply = later.say("我妈的高龄补贴办到哪了")
    assert case_no in reply and "杨*妹" in reply, later.transcript


def test_a_lost_case_number_is_found_by_the_id_and_phone_digits(resident):
    id_number = fresh_id_number()
    owner = Resident()
    _apply_for_elderly_allowance(owner, id_number)
    case_no = owner.cases()[0]["case_no"]

    asked = resident.say("我妈的高龄补贴办到哪了")
    assert "后六位" in asked and case_no not in asked
    wrong = resident.say(f"{id_number[-6:]} 0000")
    assert "没有查到" in wrong and case_no not in wrong
    found = resident.say(f"身份证后六位{id_number[-6:]}，手机后四位{PHONE[-4:]}")
    assert case_no in found and "杨*妹" in found, resident.transcript
    assert id_number not in found and PHONE not in found
    # Found once, the conversation follows the case without the digits.
    assert case_no in resident.say("高龄补贴办到哪了")


def test_the_words_of_a_poor_rating_reach_the_duty_lead(resident):
    _apply_for_elderly_allowance(resident, fresh_id_number())
    case_no = resident.cases()[0]["case_no"]
    collect_missing_materials(case_no)
    platform_post(f"/api/v1/cases/{case_no}/review", {"decision": "approve"}, staff("reviewer-chibusu"))
    agent = staff(holder_username(platform_get(f"/api/v1/cases/{case_no}")))
    platform_post(f"/api/v1/cases/{case_no}/transitions", {"to": "at_department"}, agent)
    platform_post(f"/api/v1/cases/{case_no}/transitions", {"to": "completed", "note": "已核发高龄津贴"}, agent)
    resident.say("不满意，星期天转人工半天都没人理")
    tasks = platform_get("/api/v1/lead/followups?kind=bad_rating&limit=200", staff("lead-1"))["items"]
    task = next(t for t in tasks if t["case_no"] == case_no)
    assert task["rating"]["level_text"] == "不满意"
    assert "星期天转人工半天都没人理" in task["rating"]["comment"]
