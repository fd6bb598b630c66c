"""Where a case stands: from this conversation's own cases, or by case number + last four digits."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation, messages
from actions.platform_client import PlatformError, PlatformUnavailable, get_client

# Safety nets when NLU missed the entity (the NLU post-processor canonicalises the same way).
_CASE_NO_RE = re.compile(r"EM[-\s]?(\d{8})[-\s]?(\d{4})", re.IGNORECASE)
_LAST4_RE = re.compile(r"(?<![0-9A-Za-z])(\d{3}[\dXx])(?![0-9A-Za-z])")
_LAST6_RE = re.compile(r"(?<![0-9A-Za-z])(\d{5}[\dXx])(?![0-9A-Za-z])")

ASK_BOTH = ("请告诉我办件号（EM开头，提交时给您的），和申请人身份证或手机号的后四位，"
            "比如“EM-20261126-0007 0011”。\n办件号找不到的话，告诉我申请人身份证号的后六位，"
            "加上手机号后四位（或者申请人姓名）也能查，比如“150027 5678”。")
ASK_LAST6_PROOF = "再告诉我申请人手机号的后四位，或者申请人的姓名，核对一下身份。"
NOT_FOUND_BY_DIGITS = "没有查到。请核对身份证号后六位和手机号后四位（或申请人姓名），再说一遍；也可以说“转人工”。"
ASK_LAST4 = "再告诉我申请人身份证或手机号的后四位，核对一下身份。"
ASK_CASE_NO = "再告诉我办件号（EM开头，提交时给您的）。"
MAX_LISTED = 3


def _mentioned_case_no(tracker: Tracker) -> Optional[str]:
    """A case number in the latest message (entity, or the pattern if NLU missed it)."""
    found = conversation.entity(tracker, "case_no")
    if found:
        return found.upper()
    match = _CASE_NO_RE.search(conversation.latest_text(tracker))
    if match:
        return f"EM-{match.group(1)}-{match.group(2)}"
    return None


def _own_cases_about(own: List[Dict[str, Any]], tracker: Tracker, mentioned: Optional[str]) -> List[Dict[str, Any]]:
    if mentioned:
        return [c for c in own if c.get("case_no") == mentioned]
    phrase = conversation.entity(tracker, "service")
    if phrase:
        matching = [c for c in own if phrase in (c.get("service_name") or "")]
        return matching or own
    return own


def _last4(tracker: Tracker) -> Optional[str]:
    found = conversation.entity(tracker, "last4")
    if found:
        return found.upper()
    text = _CASE_NO_RE.sub(" ", conversation.latest_text(tracker))
    match = _LAST4_RE.search(text)
    if match:
        return match.group(1).upper()
    return tracker.get_slot("last4")


def _last6(tracker: Tracker) -> Optional[str]:
    """The ID number's last six, given instead of a lost case number ("150027 5678")."""
    match = _LAST6_RE.search(_CASE_NO_RE.sub(" ", conversation.latest_text(tracker)))
    return match.group(1).upper() if match else tracker.get_slot("id_last6")


def _list(dispatcher: CollectingDispatcher, cases: List[Dict[str, Any]]) -> None:
    """In the platform's order (open cases first, then the newest)."""
    for status in cases[:MAX_LISTED]:
        dispatcher.utter_message(text=messages.status_message(status))
    if len(cases) > MAX_LISTED:
        dispatcher.utter_message(text=f"还有{len(cases) - MAX_LISTED}件更早的，要查哪件请告诉我办件号。")


class ActionCheckStatus(Action):
    def name(self) -> Text:
        return "action_check_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        client = get_client()
        mentioned = _mentioned_case_no(tracker)
        case_no = mentioned or tracker.get_slot("case_no")
        last4 = _last4(tracker)
        try:
            own = _own_cases_about(await client.conversation_cases(tracker.sender_id), tracker, mentioned)
            if own:
                # Cases of this conversation (or of the same WeChat user) need no further proof.
                _list(dispatcher, own)
                return [SlotSet("last4", None), SlotSet("id_last6", None)]
            last6 = None if case_no else _last6(tracker)
            if last6:
                # No case number: the ID number's last six plus the phone's last four, or the name.
                name = conversation.entity(tracker, "person_name")
                if not last4 and not name:
                    dispatcher.utter_message(text=ASK_LAST6_PROOF)
                    return [SlotSet("id_last6", last6)]
                found = await client.find_cases(last6, tracker.sender_id, phone_last4=last4, applicant_name=name)
                _list(dispatcher, found)
                return [SlotSet("last4", None), SlotSet("id_last6", None)]
            if not case_no or not last4:
                dispatcher.utter_message(text=ASK_BOTH if not case_no and not last4
                                         else ASK_LAST4 if case_no else ASK_CASE_NO)
                return [SlotSet("case_no", case_no), SlotSet("last4", last4)]
            status = await client.case_status(case_no, last4, tracker.sender_id)
        except PlatformUnavailable:
            dispatcher.utter_message(text=messages.OUTAGE)
            return []
        except PlatformError as exc:
            if exc.status == 429:
                dispatcher.utter_message(text=f"{exc.message}。也可以说“转人工”。")
            elif exc.status == 404 and not case_no:
                dispatcher.utter_message(text=NOT_FOUND_BY_DIGITS)
            elif exc.status == 404:
                dispatcher.utter_message(text="没有查到。请核对办件号，和身份证或手机号的后四位，再说一遍。")
            else:
                dispatcher.utter_message(text=exc.message)
            return [SlotSet("case_no", None), SlotSet("last4", None), SlotSet("id_last6", None)]
        dispatcher.utter_message(text=messages.status_message(status))
        return [SlotSet("case_no", status.get("case_no", case_no)), SlotSet("last4", None)]
