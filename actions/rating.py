"""好差评: asking for a rating when a case is done, and recording the resident's answer.

The platform triggers ``EXTERNAL_ask_rating`` (entity ``case_no``) when a case is completed;
a resident may also rate on their own ("EM-20261126-0007 非常满意"). The platform owns the five
levels and reads the resident's words for them ("很满意", "打5分", a bare "5"): the action sends the
NLU's ``rating_level`` words and the whole message, offers the levels the platform lists
(``GET /api/v1/ratings/levels``) as buttons, and keeps no copy of either.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation, messages
from actions.platform_client import PlatformError, PlatformUnavailable, get_client

# Stages at which the platform has finished the case (see the platform's lifecycle).
DONE_STAGES = {"completed", "delivered"}
ASK_CASE_NO = "请告诉我要评价的办件号（EM开头），比如“EM-20261126-0007 满意”。"


# The platform's answer when the words name no level: the levels are offered as buttons instead.
LEVEL_UNREADABLE = "rating_level_invalid"


def rating_buttons(levels: List[Dict[str, Any]], case_no: str) -> List[Dict[str, str]]:
    """One button per level, in the platform's order (best first)."""
    return [{"title": level["text"],
             "payload": "/rate" + json.dumps({"rating_level": level["text"], "case_no": case_no}, ensure_ascii=False)}
            for level in levels]


def _case_no(tracker: Tracker) -> Optional[str]:
    found = conversation.entity(tracker, "case_no")
    return found.upper() if found else tracker.get_slot("case_no")


async def _own_case(tracker: Tracker, case_no: str) -> Optional[Dict[str, Any]]:
    """The case as the platform has it, when this conversation opened it."""
    try:
        for case in await get_client().conversation_cases(tracker.sender_id):
            if case.get("case_no") == case_no:
                return case
    except (PlatformUnavailable, PlatformError):
        pass
    return None


async def ask_for_rating(dispatcher: CollectingDispatcher, tracker: Tracker, case_no: str,
                         completed: bool = False) -> None:
    """Ask for the level. Say the case is done only when the platform said so (it triggered
    the request, or this conversation's case is at a stage the platform calls done)."""
    case = await _own_case(tracker, case_no)
    name = case.get("service_name") if case else None
    what = f"您的“{name}”（办件号 {case_no}）" if name else f"您的办件（{case_no}）"
    if completed or (case and case.get("stage") in DONE_STAGES):
        text = f"{what}已经办好了。请给我们的服务打个分，点一下就行："
    else:
        text = f"请给{what}的服务打个分，点一下就行："
    try:
        levels = await get_client().rating_levels()
    except (PlatformUnavailable, PlatformError):
        dispatcher.utter_message(text=messages.OUTAGE)
        return
    dispatcher.utter_message(text=text, buttons=rating_buttons(levels, case_no))


class ActionAskRating(Action):
    """Triggered by the platform (EXTERNAL_ask_rating) after a case is completed."""

    def name(self) -> Text:
        return "action_ask_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        case_no = _case_no(tracker)
        if not case_no:
            return []  # nothing to rate; the platform sent no case number
        await ask_for_rating(dispatcher, tracker, case_no, completed=True)
        return [SlotSet("case_no", case_no)]


class ActionRate(Action):
    def name(self) -> Text:
        return "action_rate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        case_no = _case_no(tracker)
        if not case_no:
            dispatcher.utter_message(text=ASK_CASE_NO)
            return []
        words = conversation.entity(tracker, "rating_level")
        typed = conversation.latest_text(tracker) or ""
        said = None if typed.startswith("/") else typed  # the resident's words: the platform reads them
        if not words and not said:
            await ask_for_rating(dispatcher, tracker, case_no)
            return [SlotSet("case_no", case_no)]
        try:
            result = await get_client().rate_case(case_no, words, tracker.sender_id, conversation.channel(tracker),
                                                  said=said)
        except PlatformUnavailable:
            dispatcher.utter_message(text=messages.OUTAGE)
            return [SlotSet("case_no", case_no)]
        except PlatformError as exc:
            if exc.code == LEVEL_UNREADABLE:  # no level in what was said: the levels as buttons
                await ask_for_rating(dispatcher, tracker, case_no)
                return [SlotSet("case_no", case_no)]
            dispatcher.utter_message(text=exc.message)
            return []
        text = f"收到您的评价：{result.get('level_text')}。谢谢您！"
        if result.get("follow_up"):
            text += "让您不满意了，对不起。工作人员会尽快回访您，把问题解决好。"
        dispatcher.utter_message(text=text)
        return [SlotSet("case_no", case_no)]
