"""After the application form: the summary to confirm, corrections, and opening the case.

The summary shows the ID number and phone masked (the platform's ``display`` values). On "yes"
the case is opened with an ``Idempotency-Key`` derived from the conversation id, the turn at
which the summary was shown, and the request body: confirming again after a timeout or an
outage sends the same key, so the platform answers with the same case instead of a second one.
"""
from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation, messages
from actions.platform_client import PlatformError, PlatformUnavailable, get_client

REQUIRED_SLOTS = ("service_code", "applicant_name", "id_number", "phone", "hukou_town", "hukou_village",
                  "current_location", "materials_have")
# Everything the application keeps in the conversation; cleared once the case is open.
APPLICATION_SLOTS = REQUIRED_SLOTS + ("service_name", "service_choices", "id_number_display", "phone_display",
                                      "materials_missing", "confirm_turn", "repeat_of", "application_paused_at")

FIELD_LABELS = {
    "applicant_name": "姓名", "id_number": "身份证号", "phone": "电话", "hukou_town": "户口所在地",
    "current_location": "现在在哪", "service_code": "办理事项", "materials_have": "手上的材料",
}
def _label(field: str) -> str:
    return FIELD_LABELS.get(field) or "户口所在的村"


# What to clear so the form asks again (a new town needs a new village; a new item new materials).
CLEARS = {
    "applicant_name": ("applicant_name",),
    "id_number": ("id_number", "id_number_display"),
    "phone": ("phone", "phone_display"),
    "hukou_town": ("hukou_town", "hukou_village"),
    "hukou_village": ("hukou_village",),
    "current_location": ("current_location",),
    "service_code": ("service_code", "service_name", "service_choices", "materials_have", "materials_missing"),
    "materials_have": ("materials_have", "materials_missing"),
}
# The new value may come in the same message ("电话错了，是139…"): the entity that carries it.
NEW_VALUE_ENTITY = {"applicant_name": "person_name", "id_number": "id_number", "phone": "phone",
                    "hukou_town": "town", "hukou_village": "village", "service_code": "service"}
# Free-text corrections ("电话错了"): first keyword found wins.
KEYWORDS = (("身份证", "id_number"), ("电话", "phone"), ("手机", "phone"), ("号码", "phone"),
            ("名字", "applicant_name"), ("姓名", "applicant_name"), ("村", "hukou_village"),
            ("户口", "hukou_town"), ("户籍", "hukou_town"), ("镇", "hukou_town"), ("现在", "current_location"),
            ("在哪", "current_location"), ("材料", "materials_have"), ("事项", "service_code"))


def mask_id(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:] if len(number) >= 10 else "****"


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def _missing_fields(tracker: Tracker) -> List[str]:
    return [s for s in REQUIRED_SLOTS if tracker.get_slot(s) is None]


def case_request(tracker: Tracker) -> Dict[str, Any]:
    return {
        "service_code": tracker.get_slot("service_code"),
        "applicant_name": tracker.get_slot("applicant_name"),
        "id_number": tracker.get_slot("id_number"),
        "phone": tracker.get_slot("phone"),
        "hukou_town": tracker.get_slot("hukou_town"),
        "hukou_village": tracker.get_slot("hukou_village"),
        "current_location": tracker.get_slot("current_location"),
        "intake_point": "online",
        "channel": conversation.channel(tracker),
        "conversation_id": tracker.sender_id,
        "materials_have": list(tracker.get_slot("materials_have") or []),
    }


def idempotency_key(conversation_id: str, confirm_turn: Optional[str], body: Dict[str, Any]) -> str:
    """Same conversation + same confirmation + same content → same key (retries are safe)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(f"{conversation_id}\n{confirm_turn}\n{canonical}".encode("utf-8")).hexdigest()
    return f"rasa-{digest[:40]}"


class ActionReviewApplication(Action):
    """The summary to confirm, with the ID number and phone masked."""

    def name(self) -> Text:
        return "action_review_application"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        slot = tracker.get_slot
        have = slot("materials_have") or []
        missing = slot("materials_missing") or []
        lines = ["请核对一下您的信息：",
                 f"办理事项：{slot('service_name') or slot('service_code')}",
                 f"姓名：{slot('applicant_name')}",
                 f"身份证：{slot('id_number_display') or mask_id(str(slot('id_number') or ''))}",
                 f"电话：{slot('phone_display') or mask_phone(str(slot('phone') or ''))}",
                 f"户口：{slot('hukou_town') or ''}{slot('hukou_village') or ''}",
                 f"现在在：{slot('current_location')}",
                 f"手上的材料：{'、'.join(have) if have else '暂时没有'}"]
        if missing:
            lines.append(f"还差：{'、'.join(missing)}（提交后也可以补交）")
        lines.append("都对吗？对的话我就帮您提交。")
        dispatcher.utter_message(text="\n".join(lines),
                                 buttons=[{"title": "对，提交", "payload": "/affirm"},
                                          {"title": "有要改的", "payload": "/deny"}])
        return [SlotSet("confirm_turn", str(conversation.user_turns(tracker)))]


class ActionAskCorrection(Action):
    def name(self) -> Text:
        return "action_ask_correction"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if all(tracker.get_slot(s) is None for s in REQUIRED_SLOTS):
            dispatcher.utter_message(response="utter_anything_else")
            return []
        if tracker.get_slot("repeat_of"):
            # "不用了" to "确实要再申请一件新的吗？": nothing new is opened; the open case goes on.
            dispatcher.utter_message(text=messages.repeat_declined(tracker.get_slot("repeat_of")))
            return [SlotSet(s, None) for s in APPLICATION_SLOTS]
        buttons = [{"title": label, "payload": "/inform" + json.dumps({"field_to_fix": field})}
                   for field, label in FIELD_LABELS.items()]
        dispatcher.utter_message(text="哪一项要改？点下面的按钮，或者直接说，比如“电话错了”。", buttons=buttons)
        return []


class ActionCorrectField(Action):
    """Clears the field to correct; a rule then runs the form again, which asks for it.

    When the message already holds the new value, the field is set to it instead; the form
    checks it with the platform as it starts again (a wrong value is then asked for).
    """

    def name(self) -> Text:
        return "action_correct_field"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        field = conversation.entity(tracker, "field_to_fix")
        if field not in CLEARS:
            text = conversation.latest_text(tracker)
            field = next((f for word, f in KEYWORDS if word in text), None)
        if field is None:
            # "13987654321" alone: the kind of value says which field it is.
            field = next((f for f in ("id_number", "phone") if conversation.entity(tracker, f)), None)
        if field is None:
            dispatcher.utter_message(text="没听清要改哪一项，我们再核对一遍。")
            return []
        events = [SlotSet(s, None) for s in CLEARS[field]] + [SlotSet("confirm_turn", None)]
        new_value = conversation.entity(tracker, NEW_VALUE_ENTITY.get(field, ""))
        if field == "hukou_town" and new_value:
            new_value += conversation.entity(tracker, "village") or ""
        if new_value:
            dispatcher.utter_message(text=f"好的，{_label(field)}改一下。")
            return events + [SlotSet(field, new_value)]
        dispatcher.utter_message(text=f"好的，重新填一下{_label(field)}。")
        return events


class ActionSubmitCase(Action):
    """Opens the case on the platform and tells the resident what happens next."""

    def name(self) -> Text:
        return "action_submit_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if _missing_fields(tracker):
            if tracker.get_slot("case_no") and all(tracker.get_slot(s) is None for s in REQUIRED_SLOTS):
                dispatcher.utter_message(text=f"您的申请已经提交好了，办件号是{tracker.get_slot('case_no')}。"
                                              "想查进度，说“我的事办到哪了”。")
            else:
                dispatcher.utter_message(text="还有信息没填完。说“我要办”，我们接着填。")
            return []

        body = case_request(tracker)
        turn = tracker.get_slot("confirm_turn") or str(conversation.user_turns(tracker))
        key = idempotency_key(tracker.sender_id, turn, body)
        repeat_of = tracker.get_slot("repeat_of")
        if repeat_of:
            # The resident was told of their open case and still said yes: a new case is meant.
            body = {**body, "repeat_confirmed": True}
        try:
            case = await get_client().create_case(body, key)
        except PlatformUnavailable:
            dispatcher.utter_message(
                text=messages.OUTAGE + "\n您填的信息都还在，过一会儿点“再提交一次”就行，不会重复登记。",
                buttons=[{"title": "再提交一次", "payload": "/affirm"},
                         {"title": "转人工", "payload": "/request_human"}])
            return [SlotSet("confirm_turn", turn)]
        except PlatformError as exc:
            open_case = exc.extra.get("open_case") if exc.code == "open_case_exists" else None
            if open_case:
                dispatcher.utter_message(text=messages.repeat_question(exc.message),
                                         buttons=[{"title": "要，再申请一件", "payload": "/affirm"},
                                                  {"title": "不用了", "payload": "/deny"}])
                # The platform names the case only to the conversation it is bound to.
                return [SlotSet("confirm_turn", turn),
                        SlotSet("repeat_of", open_case.get("case_no") or messages.UNNAMED_CASE)]
            dispatcher.utter_message(text=f"提交没成功：{exc.message}\n要修改信息，点“修改信息”；也可以说“转人工”。",
                                     buttons=[{"title": "修改信息", "payload": "/deny"},
                                              {"title": "转人工", "payload": "/request_human"}])
            return [SlotSet("confirm_turn", turn)]

        missing = list(case.get("materials_missing") or [])
        dispatcher.utter_message(text=messages.case_opened_message(case, missing))
        return [SlotSet(s, None) for s in APPLICATION_SLOTS] + [SlotSet("case_no", case.get("case_no"))]


class ActionPauseApplication(Action):
    """"不办了" in the middle of an application: nothing was submitted, and what was filled is kept
    for a day (``application_paused_at``; the form clears it after that) for "继续刚才的申请"."""

    def name(self) -> Text:
        return "action_pause_application"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if all(tracker.get_slot(s) is None for s in REQUIRED_SLOTS):
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("repeat_of", None)]
        dispatcher.utter_message(text=messages.PAUSED)
        return [SlotSet("application_paused_at", time.time()), SlotSet("repeat_of", None)]
