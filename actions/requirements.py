"""What to bring for an item, and what is still missing (the platform's catalog).

Finding the item: a button's ``service_code`` entity, else the platform's reading of the message
and its NLU ``service`` phrase (``POST /api/v1/understand/resolve``, docs/platform-api.md
§Understanding): one item, or a close call the resident settles with buttons built from its
``choices``, which send ``/ask_requirements{"service_code": "MX-…"}``, or nothing. The action
applies no rule of its own.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation, messages
from actions.platform_client import PlatformClient, PlatformError, PlatformUnavailable, get_client

logger = logging.getLogger(__name__)

CODE_RE = re.compile(r"^MX-\d{3}$", re.IGNORECASE)

NOT_FOUND = ("没找到您说的事项。换个说法试试，比如“高龄补贴要带啥”“残疾证咋个办”；"
             "或者说“转人工”，请工作人员帮您。")
WHICH_ITEM = "每件事要带的材料不一样。先告诉我您要办哪件事，我把要带的材料一次给您说全。"


@dataclass
class Resolution:
    code: Optional[str] = None  # one item found
    choices: List[Dict[str, Any]] = field(default_factory=list)  # the platform's close candidates
    answer: Optional[Dict[str, Any]] = None  # the item's one-time answer, when asked for with it

    @property
    def found(self) -> bool:
        return self.code is not None


async def resolve_text(client: PlatformClient, phrase: str, whole_text: str = "",
                       answer: Optional[Dict[str, Any]] = None) -> Resolution:
    """A service phrase (and the message it came in) → one item code, close choices, or nothing.

    One platform call (``POST /api/v1/understand/resolve``): the platform owns which item a message
    means — it reads the whole message first (the words around the phrase tell sibling items apart:
    "低保要添人口") and the phrase alone only when the message names nothing. ``answer`` (``town``,
    ``fact``): the item found comes with its one-time answer in the same call."""
    phrase = (phrase or "").strip()
    whole_text = (whole_text or "").strip()
    if not phrase and not whole_text:
        return Resolution()
    extra: Dict[str, Any] = {"answer": True, **answer} if answer is not None else {}
    found = await client.resolve_item(whole_text, phrase or None, **extra)
    return Resolution(code=found.get("item"), choices=list(found.get("choices") or []),
                      answer=found.get("answer") if found.get("item") else None)


async def resolve_from_message(client: PlatformClient, tracker: Tracker,
                               fallback_code: Optional[str] = None,
                               answer: Optional[Dict[str, Any]] = None) -> Resolution:
    """Which item the latest message is about; ``fallback_code`` when it names none.

    A button's or the platform's ``service_code`` entity first (the gateway sent the platform's
    reading with the message); inside the form, a message naming nothing keeps the form's item."""
    code = conversation.entity(tracker, "service_code")
    if code:
        return Resolution(code=code.upper())
    text = conversation.latest_text(tracker)
    phrase = conversation.entity(tracker, "service")
    if not phrase and fallback_code and conversation.form_is_active(tracker):
        return Resolution(code=fallback_code)  # "等一下，要带啥子？" in the form: its item
    if (phrase or text) and not (text or "").startswith("/"):
        result = await resolve_text(client, phrase or "", text, answer)
        if result.found or result.choices:
            return result
    return Resolution(code=fallback_code) if fallback_code else Resolution()


def choice_buttons(choices: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    buttons = [{"title": c.get("name") or c["code"],
                "payload": "/ask_requirements" + json.dumps({"service_code": c["code"]})}
               for c in choices]
    buttons.append({"title": "都不是，转人工", "payload": "/request_human"})
    return buttons


class ActionRequirements(Action):
    """The complete list of materials for an item in one message, then offers a checklist."""

    def name(self) -> Text:
        return "action_requirements"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        client = get_client()
        in_form = conversation.form_is_active(tracker)
        summary = conversation.at_summary(tracker)
        current = tracker.get_slot("service_code")
        # One platform call per turn: the item's answer comes with the item found (or alone for a known item).
        wording = {"town": tracker.get_slot("hukou_town"), "fact": conversation.entity(tracker, "asked_fact")}
        try:
            resolution = await resolve_from_message(client, tracker, fallback_code=current, answer=wording)
            if resolution.choices:
                dispatcher.utter_message(text="您问的是哪一项？点一下就行：",
                                         buttons=choice_buttons(resolution.choices))
                return []
            if not resolution.found:
                # Asked while the form asks which item: no item yet, so the form's question answers it.
                asking_item = in_form and tracker.get_slot("requested_slot") == "service_code"
                dispatcher.utter_message(text=WHICH_ITEM if asking_item else NOT_FOUND)
                return []
            # The platform words the whole answer (and the detail asked first); the guide page
            # at the link shows the same text.
            item = resolution.answer or await client.requirements_answer(resolution.code, **wording)
        except PlatformError as exc:
            dispatcher.utter_message(text=NOT_FOUND if exc.status == 404 else exc.message)
            return []
        except PlatformUnavailable:
            dispatcher.utter_message(text=messages.OUTAGE)
            return []

        dispatcher.utter_message(text=item["message"])
        if summary:
            return []  # the summary follows again; the application keeps its item
        if in_form:
            # The form keeps its own item; it only takes this one if it had none yet.
            if current:
                return []
            return [SlotSet("service_code", item["code"]), SlotSet("service_name", item.get("name"))]
        dispatcher.utter_message(
            text="要不要帮您对一下手上的材料？直接告诉我您有哪些就行。想直接申请，就说“我要办”。",
            buttons=[{"title": "帮我对一下材料", "payload": "/affirm"},
                     {"title": "我要申请办理", "payload": "/apply"}])
        events: List[EventType] = [SlotSet("service_code", item["code"]), SlotSet("service_name", item.get("name"))]
        if current and current != item["code"]:
            # Materials checked for another item no longer apply.
            events += [SlotSet("materials_have", None), SlotSet("materials_missing", None)]
        return events


class ActionChecklist(Action):
    """The resident says what they have; the platform says exactly what is still missing."""

    def name(self) -> Text:
        return "action_checklist"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        client = get_client()
        code = tracker.get_slot("service_code")
        in_form = conversation.form_is_active(tracker)
        summary = conversation.at_summary(tracker)
        if in_form and not code and tracker.get_slot("requested_slot") == "service_code":
            # "残疾证" answering "您要办哪件事？" names the item, it is not a material in hand:
            # the form reads it next (validate_apply_form), and names or offers the item.
            return []
        try:
            phrase = conversation.entity(tracker, "service")
            if phrase and not ((in_form or summary) and code):  # inside the application its item stays
                resolution = await resolve_text(client, phrase, conversation.latest_text(tracker))
                code = resolution.code or code
            if not code:
                dispatcher.utter_message(text="您想对哪个事项的材料？先告诉我事项，比如“低保要带啥”。")
                return []
            # One call: the checklist names its item too (``name``, ``rongque_listed``).
            result = await client.checklist(code, conversation.latest_text(tracker))
        except PlatformError as exc:
            dispatcher.utter_message(text=exc.message)
            return []
        except PlatformUnavailable:
            dispatcher.utter_message(text=messages.OUTAGE)
            return []

        have = list(result.get("have") or [])
        missing = list(result.get("missing") or [])
        dispatcher.utter_message(text=messages.missing_message(result.get("name", ""), have, missing,
                                                               bool(result.get("rongque_listed"))))
        if not in_form and not summary:  # at the summary, the summary itself follows (updated)
            dispatcher.utter_message(text="想现在申请，就说“我要办”，我帮您填表。",
                                     buttons=[{"title": "我要申请办理", "payload": "/apply"}])
        # Remembered for the application form, so it does not ask again.
        return [SlotSet("service_code", code), SlotSet("service_name", result.get("name")),
                SlotSet("materials_have", have),
                SlotSet("materials_missing", [m.get("name") for m in missing])]
