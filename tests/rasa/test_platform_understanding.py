"""The platform's reading of a typed message, applied by the last NLU component."""
from __future__ import annotations

from rasa.shared.nlu.constants import ENTITIES, INTENT, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message

from erma_nlu.platform_understanding import PlatformUnderstanding, decide_intent


def _message(intent: str, understanding=None, entities=None) -> Message:
    data = {TEXT: "…", INTENT: {"name": intent, "confidence": 0.5}, ENTITIES: entities or []}
    if understanding is not None:
        data[METADATA] = {"channel": "web_chat", "understanding": understanding}
    return Message(data=data)


def _run(message: Message) -> Message:
    return PlatformUnderstanding().process([message])[0]


def test_a_service_question_takes_the_platforms_item_and_behaviour():
    got = _run(_message("check_status", {"behaviour": "requirements", "item": "MX-001", "fact": "time"},
                        [{"entity": "service", "value": "低保"}]))
    assert got.get(INTENT)["name"] == "ask_requirements"
    assert {(e["entity"], e["value"]) for e in got.get(ENTITIES)} == {("service_code", "MX-001"), ("asked_fact", "time")}


def test_not_understood_becomes_out_of_scope_when_the_platform_says_we_do_not_do_it():
    got = _run(_message("nlu_fallback", {"behaviour": "out_of_scope", "item": None}))
    assert got.get(INTENT)["name"] == "out_of_scope" and got.get(ENTITIES) == []


def test_dialogue_answers_greetings_and_requests_for_a_person_stay_as_they_are():
    for intent in ("affirm", "deny", "request_human", "stop", "rate"):
        assert decide_intent(intent, {"behaviour": "requirements", "item": "MX-001"}) is None
    # "残疾证" alone: a close call between two items, not a material in hand.
    assert decide_intent("inform_materials", {"behaviour": "requirements", "item": None,
                                              "choices": [{"code": "MX-019"}, {"code": "MX-020"}]}) == "ask_requirements"
    assert decide_intent("inform_materials", {"behaviour": "other", "item": None}) is None
    # A greeting with a question in it is the question; a greeting alone stays a greeting.
    assert decide_intent("greet", {"behaviour": "requirements", "item": "MX-001"}) == "ask_requirements"
    assert decide_intent("greet", {"behaviour": "out_of_scope", "item": None}) is None
    # An answer to the form is a long story with an item in it at most, never "out of scope".
    assert decide_intent("inform", {"behaviour": "out_of_scope", "item": None}) is None
    assert decide_intent("inform", {"behaviour": "apply", "item": "MX-013"}, "赤不苏镇雅都村") is None
    story = "我老汉儿今年满八十了，一个人在屋头，听说有个老年人的钱可以领，帮他申请一下"
    assert decide_intent("inform", {"behaviour": "apply", "item": "MX-013"}, story) == "apply"


def test_without_the_platforms_reading_diet_decides():
    got = _run(_message("ask_requirements"))
    assert got.get(INTENT)["name"] == "ask_requirements"
    assert decide_intent("ask_requirements", {"behaviour": "other"}) is None


def test_wrong_item_is_passed_on_whatever_the_intent():
    got = _run(_message("deny", {"behaviour": "other", "item": None, "wrong_item": True}))
    assert got.get(INTENT)["name"] == "deny"
    assert [(e["entity"], e["value"]) for e in got.get(ENTITIES)] == [("wrong_item", "true")]
