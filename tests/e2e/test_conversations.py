"""Whole conversations through the REST webhook, checked against what the platform stored."""
from __future__ import annotations

import re

import httpx

from tests.e2e.conftest import (PLATFORM, SERVICE, collect_missing_materials, fresh_id_number, holder_username,
                                masked_id, platform_get, platform_post, staff)

PHONE = "13812345678"


def _apply_for_elderly_allowance(resident, id_number: str | None = None) -> str:
    resident.id_number = id_number or fresh_id_number()
    resident.say("我在成都打工，想给屋头老娘申请高龄补贴")
    resident.say("杨子妹")
    resident.say(resident.id_number)
    resident.say(PHONE)
    resident.say("赤不苏镇雅都村")
    resident.say("我在成都")
    summary = resident.say("身份证和户口本都在屋头老娘那里")
    return summary


def test_requirements_are_listed_completely_in_one_message(resident):
    reply = resident.say("老汉儿满80了，高龄补贴要带些啥子")
    item = platform_get("/api/v1/services/MX-013")
    for material in item["materials"]:
        if material["required"]:
            assert material["name"] in reply, material["name"]
    assert "工作日" in reply


def test_migrant_worker_applies_for_a_far_town_and_the_case_reaches_its_queue(resident):
    summary = _apply_for_elderly_allowance(resident)
    assert resident.id_number not in summary and PHONE not in summary, "identity is masked in the summary"
    assert masked_id(resident.id_number) in summary and "138****5678" in summary
    done = resident.say("对的，提交嘛")
    cases = resident.cases()
    assert len(cases) == 1, resident.transcript
    case_no = cases[0]["case_no"]
    assert case_no in done
    case = platform_get(f"/api/v1/cases/{case_no}")
    assert case["service_code"] == "MX-013"
    assert case["hukou_town"]["name"] == "赤不苏镇" and case["hukou_village"] == "雅都村"
    assert case["current_location"] and "成都" in case["current_location"]
    assert set(case["materials_have"]) >= {"申请人居民身份证", "户口簿"}
    assert case["agent"]["credential_no"] in done and case["agent"]["name"] in done
    queue = platform_get("/api/v1/towns/513223114/review-queue", staff("reviewer-chibusu"))["items"]
    assert case_no in [c["case_no"] for c in queue]
    # Confirming again (a retry) never opens a second case.
    resident.say("对的，提交嘛")
    assert len(resident.cases()) == 1


def test_status_from_the_conversation_that_opened_the_case(resident):
    _apply_for_elderly_allowance(resident)
    resident.say("对的")
    case_no = resident.cases()[0]["case_no"]
    collect_missing_materials(case_no)
    platform_post(f"/api/v1/cases/{case_no}/review", {"decision": "approve"}, staff("reviewer-chibusu"))
    reply = resident.say("我老娘的高龄补贴办到哪了")
    assert case_no in reply
    assert "审核通过" in reply


def test_status_with_case_number_and_last_four_digits(resident):
    owner = type(resident)()
    _apply_for_elderly_allowance(owner)
    owner.say("对的")
    case_no = owner.cases()[0]["case_no"]
    reply = resident.say(f"帮我查一下{case_no}办到哪了，身份证后四位{owner.id_number[-4:]}")
    assert "户籍地镇审核中" in reply or "赤不苏镇" in reply


def test_asking_for_a_person_reaches_the_platform(resident):
    reply = resident.say("我要转人工")
    assert "人工" in reply or "代办员" in reply
    # The platform queued exactly one handoff for this conversation.
    again = httpx.post(f"{PLATFORM}/api/v1/handoffs", headers=SERVICE,
                       json={"conversation_id": resident.sender, "channel": "web_chat"}, timeout=10).json()
    assert again["queue_position"] >= 1 and again["state"] == "queued"


def test_rating_after_completion_in_words(resident):
    _apply_for_elderly_allowance(resident)
    resident.say("对的")
    case_no = resident.cases()[0]["case_no"]
    collect_missing_materials(case_no)
    platform_post(f"/api/v1/cases/{case_no}/review", {"decision": "approve"}, staff("reviewer-chibusu"))
    agent = staff(holder_username(platform_get(f"/api/v1/cases/{case_no}")))  # only the agent holding it moves it
    platform_post(f"/api/v1/cases/{case_no}/transitions", {"to": "at_department"}, agent)
    platform_post(f"/api/v1/cases/{case_no}/transitions", {"to": "completed", "note": "已核发高龄津贴"}, agent)
    resident.say("我对这次服务非常满意")
    rated = platform_get(f"/api/v1/cases/{case_no}")
    assert rated["stage"] == "rated"


def test_status_asked_in_two_turns_with_bare_digits(resident):
    owner = type(resident)()
    _apply_for_elderly_allowance(owner)
    owner.say("对的")
    case_no = owner.cases()[0]["case_no"]
    assert "后四位" in resident.say(f"帮我查一下{case_no}办到哪了")
    reply = resident.say(owner.id_number[-4:])
    assert "户籍地镇审核中" in reply and "打个分" not in reply


def test_a_question_at_the_summary_keeps_the_application_and_yes_still_submits(resident):
    """Issue 12: the application vanished when the resident asked something at the confirm step."""
    _apply_for_elderly_allowance(resident)
    answer = resident.say("等一下，照片要几张？")
    assert "都对吗" in answer and "杨子妹" in answer, "the summary comes again after the answer"
    again = resident.say("只有户口本带起的")
    assert "都对吗" in again and "还差" in again, "materials stated at the summary update it"
    done = resident.say("对的，提交嘛")
    cases = resident.cases()
    assert len(cases) == 1 and cases[0]["case_no"] in done, resident.transcript
    case = platform_get(f"/api/v1/cases/{cases[0]['case_no']}")
    assert case["service_code"] == "MX-013" and case["materials_have"] == ["户口簿"]


def test_asking_about_another_item_after_a_checklist_never_starts_the_first_items_application(resident):
    """After the 高龄补贴 checklist, a question or a request about another item is about that item:
    never the 高龄补贴 application the conversation remembered (a wrong application is a wasted trip)."""
    resident.say("老汉儿满80了，高龄补贴要带些啥子")
    reply = resident.say("办残疾证要啥子")  # a question: 新办 or 补办, both offered
    assert "残疾人证新办" in reply and "残疾人证换领" in reply, reply
    assert "高龄" not in reply and "名字" not in reply, reply

    reply = resident.say("我要办医保")  # a request naming two close items: the resident picks
    assert "高龄" not in reply and "名字" not in reply, reply
    pressed = re.search(r"\[城乡居民基本医疗保险参保登记[^\]]*\]\((/[^)]*)\)", reply)
    assert pressed, reply
    reply = resident.say(pressed.group(1))
    assert "帮您申请“城乡居民基本医疗保险参保登记" in reply and "名字" in reply, reply
