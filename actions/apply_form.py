"""The application form (``apply_form``): every answer is checked by the platform.

Each ``validate_<slot>`` sends the answer to ``POST /api/v1/validation`` (or the catalog) and
keeps the platform's normalised value. A wrong answer is asked again with the platform's own
Chinese re-ask text (``action_ask_<slot>`` shows ``reask_message`` while ``retry_slot`` names
the slot). The second wrong answer for the same slot ends the form and sets ``form_abandoned``;
a rule then hands the conversation to a person (``action_handoff``, reason ``form_abandoned``),
keeping everything already filled in.

If the platform cannot be reached, the answer being given is not kept (it is unchecked) and
the resident is told; everything already filled stays.

ID numbers and phones never reach Rasa: the platform's gateway replaced them in the resident's
text by a reference (``〔身份证#K7Q2M〕``, ``〔手机#…〕``) that the NLU reads as the ``id_number`` /
``phone`` entity. The form sends the reference with the conversation id (the sender id); the
platform checks the value it stands for and answers with the reference again and the masked value.
"""
from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import conversation, messages
from actions.apply_submit import APPLICATION_SLOTS
from actions.platform_client import PlatformError, PlatformUnavailable, get_client
from actions.requirements import CODE_RE, NOT_FOUND, choice_buttons, resolve_text

MAX_TRIES = 2
RETRY_SLOTS = ("retry_slot", "retry_count", "reask_message")

_NAME_PREFIX = re.compile(r"^(我叫|我是|叫|名字叫|名字是|姓名是?|申请人是?|申请人叫|他叫|她叫|我妈叫|我爸叫)[:：\s]*")
_PLACE_PREFIX = re.compile(r"^(我的|我|他的|她的|申请人的?)?(户口|户籍)?(是|在|落在|属于)[:：\s]*")
_WHERE_PREFIX = re.compile(r"^(我|人)?(现在|目前|这会儿)?(人)?(在|是在|住在|待在)[:：\s]*")
_TRAILING = re.compile(r"[。！!，,\.\s]+$")


def _clean(text: Any) -> str:
    return _TRAILING.sub("", str(text or "").strip())


# An application left with "不办了" is kept this long for "继续刚才的申请" (issue 12: a day).
PAUSE_KEPT_SECONDS = 24 * 3600


class ValidateApplyForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_apply_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        paused_at = tracker.get_slot("application_paused_at")
        if paused_at is None:
            return await super().run(dispatcher, tracker, domain)
        if time.time() - float(paused_at) > PAUSE_KEPT_SECONDS:
            # Kept for a day only: older answers are dropped and the form starts again from the item.
            dispatcher.utter_message(text=messages.EXPIRED)
            return [SlotSet(s, None) for s in APPLICATION_SLOTS + RETRY_SLOTS]
        return [SlotSet("application_paused_at", None)] + await super().run(dispatcher, tracker, domain)

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _requested(tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot("requested_slot") == slot

    @staticmethod
    def _ok(tracker: Tracker, slot: str, values: Dict[str, Any]) -> Dict[str, Any]:
        if tracker.get_slot("retry_slot") == slot:
            values.update({s: None for s in RETRY_SLOTS})
        return values

    @staticmethod
    def _fail(tracker: Tracker, dispatcher: CollectingDispatcher, slot: str, message: str) -> Dict[str, Any]:
        tries = 1
        if tracker.get_slot("retry_slot") == slot:
            tries = int(tracker.get_slot("retry_count") or 0) + 1
        if tries >= MAX_TRIES:
            # Second wrong answer: say what was wrong, end the form, and let a rule call a person.
            dispatcher.utter_message(text=message)
            return {slot: None, "form_abandoned": True, "requested_slot": None,
                    **{s: None for s in RETRY_SLOTS}}
        return {slot: None, "retry_slot": slot, "retry_count": float(tries), "reask_message": message}

    def _unreachable(self, tracker: Tracker, dispatcher: CollectingDispatcher, slot: str,
                     value: Any) -> Dict[str, Any]:
        """The platform is down: an answer just given is dropped; an earlier answer is kept."""
        if self._requested(tracker, slot):
            dispatcher.utter_message(text=messages.OUTAGE)
            return {slot: None}
        return {slot: value}

    async def _platform_check(self, field: str, value: str, conversation_id: Optional[str] = None) -> Dict[str, Any]:
        return await get_client().validate_field(field, value, conversation_id)

    async def _check_field(self, slot: str, field: str, raw: str, tracker: Tracker,
                           dispatcher: CollectingDispatcher, display_slot: Optional[str] = None
                           ) -> Dict[str, Any]:
        try:
            # Only an ID number or phone can be a reference, made in this conversation (the sender id).
            conversation_id = tracker.sender_id if field in ("id_number", "phone") else None
            result = await self._platform_check(field, raw, conversation_id)
        except PlatformUnavailable:
            return self._unreachable(tracker, dispatcher, slot, raw)
        except PlatformError as exc:
            dispatcher.utter_message(text=exc.message)
            return {slot: None}
        if not result.get("valid"):
            return self._fail(tracker, dispatcher, slot, result.get("message") or "这一项好像不对，请再说一遍。")
        values = {slot: result.get("value")}
        if display_slot:
            values[display_slot] = result.get("display")
        return self._ok(tracker, slot, values)

    # --- the item ----------------------------------------------------------------------------
    async def extract_service_code(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> Dict[Text, Any]:
        """The item in "我要办高龄津贴" when the form starts (it replaces an item remembered from
        earlier questions), or named when the form asks for it.

        The NLU ``service`` entity first; when "我要办…" carries none and no item is known yet,
        the whole message (the platform's catalog search decides whether it names an item).
        """
        phrase = conversation.entity(tracker, "service")
        intent = conversation.latest_intent(tracker)
        code = conversation.entity(tracker, "service_code")  # a button's, or the platform's reading
        text = conversation.latest_text(tracker) or ""
        if (tracker.get_slot("service_code") and not self._requested(tracker, "service_code")
                and conversation.entity(tracker, "wrong_item") and not code):
            # "办错了 / 不是这个": the form asks for the item again; everything else filled stays.
            return {"service_code": None}
        if code and (intent == "apply" or self._requested(tracker, "service_code")):
            return {"service_code": code}
        if intent == "apply":
            if phrase:
                return {"service_code": phrase}
            remembered = tracker.get_slot("service_code")
            choices = conversation.platform_choices(tracker)
            if text and not text.startswith("/") and (not remembered or (choices and remembered not in choices)):
                # No item yet, or "我要办医保" naming items other than the remembered one: the platform's
                # reading of the text decides (its choices become buttons).
                return {"service_code": text}
            # The item remembered from the question before: checked again, and named.
            return {"service_code": remembered} if remembered else {}
        if (phrase and not tracker.get_slot("service_code") and self._requested(tracker, "service_code")
                and intent not in conversation.INTERRUPTION_INTENTS):
            return {"service_code": phrase}
        if (intent == "inform_materials" and not tracker.get_slot("service_code")
                and self._requested(tracker, "service_code") and text and not text.startswith("/")):
            # "残疾证" answering "您要办哪件事？" is the item, though it reads like a material in hand.
            return {"service_code": text}
        return {}

    async def validate_service_code(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if value is None:  # cleared by "办错了": asked again next
            return {"service_code": None}
        client = get_client()
        text = _clean(value)
        try:
            if CODE_RE.match(text):
                code = text.upper()
            else:
                phrase = conversation.entity(tracker, "service") or text
                resolution = await resolve_text(client, phrase, conversation.latest_text(tracker))
                if resolution.choices:
                    # action_ask_service_code shows them as buttons (one message, no extra question).
                    return {"service_code": None, "service_choices": [
                        {"code": c["code"], "name": c.get("name")} for c in resolution.choices]}
                if not resolution.found:
                    if not self._requested(tracker, "service_code"):
                        return {"service_code": None}  # "我要办" named no item: the form asks for it
                    return self._fail(tracker, dispatcher, "service_code", NOT_FOUND)
                code = resolution.code
            item = await client.get_service(code)
        except PlatformUnavailable:
            if CODE_RE.match(text):
                return self._unreachable(tracker, dispatcher, "service_code", text.upper())
            dispatcher.utter_message(text=messages.OUTAGE)  # an unresolved phrase is no item code
            return {"service_code": None}
        except PlatformError as exc:
            if exc.status == 404:
                return self._fail(tracker, dispatcher, "service_code", NOT_FOUND)
            dispatcher.utter_message(text=exc.message)
            return {"service_code": None}
        values: Dict[str, Any] = {"service_code": item["code"], "service_name": item.get("name"),
                                  "service_choices": None}
        if tracker.get_slot("service_name") != item.get("name") or conversation.latest_intent(tracker) == "apply":
            # Named at once, so a misread item is seen now, not at the summary.
            dispatcher.utter_message(text=f"好的，帮您申请“{item.get('name')}”。不是这一项的话，说“办错了”。")
        if tracker.get_slot("service_name") and tracker.get_slot("service_name") != item.get("name"):
            values.update({"materials_have": None, "materials_missing": None})
        return self._ok(tracker, "service_code", values)

    # --- the person --------------------------------------------------------------------------
    async def validate_applicant_name(self, value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        raw = _clean(value)
        if conversation.entity(tracker, "wrong_item"):  # "办错了" is about the item (extract_service_code), not a name
            return {"applicant_name": None}
        if self._requested(tracker, "applicant_name"):
            raw = _clean(conversation.entity(tracker, "person_name") or _NAME_PREFIX.sub("", raw))
        return await self._check_field("applicant_name", "name", raw, tracker, dispatcher)

    async def validate_id_number(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        raw = _clean(value)
        if self._requested(tracker, "id_number"):
            raw = conversation.entity(tracker, "id_number") or raw
        return await self._check_field("id_number", "id_number", raw, tracker, dispatcher,
                                       display_slot="id_number_display")

    async def validate_phone(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        raw = _clean(value)
        if self._requested(tracker, "phone"):
            raw = conversation.entity(tracker, "phone") or raw
        return await self._check_field("phone", "phone", raw, tracker, dispatcher,
                                       display_slot="phone_display")

    # --- the place ---------------------------------------------------------------------------
    async def validate_hukou_town(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        raw = _clean(value)
        if self._requested(tracker, "hukou_town"):
            town = conversation.entity(tracker, "town")
            village = conversation.entity(tracker, "village")
            raw = (town or "") + (village or "") if (town or village) else _PLACE_PREFIX.sub("", raw)
        try:
            result = await self._platform_check("hukou_town", raw)
        except PlatformUnavailable:
            return self._unreachable(tracker, dispatcher, "hukou_town", value)
        except PlatformError as exc:
            dispatcher.utter_message(text=exc.message)
            return {"hukou_town": None}
        if not result.get("valid"):
            message = result.get("message") or "没找到这个地方，请再说一遍。"
            return self._fail(tracker, dispatcher, "hukou_town", message)
        values = {"hukou_town": result.get("town_name") or result.get("value")}
        if result.get("village"):
            values["hukou_village"] = result["village"]
        elif tracker.get_slot("hukou_town") not in (None, values["hukou_town"]):
            values["hukou_village"] = None
        return self._ok(tracker, "hukou_town", values)

    async def validate_hukou_village(self, value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        town = tracker.get_slot("hukou_town") or ""
        raw = _clean(value)
        if self._requested(tracker, "hukou_village"):
            raw = _clean(conversation.entity(tracker, "village") or _PLACE_PREFIX.sub("", raw))
        if town and raw.startswith(town):
            raw = raw[len(town):]
        if not raw:
            return self._fail(tracker, dispatcher, "hukou_village", "请说一下户口在哪个村，比如“雅都村”。")
        try:
            result = await self._platform_check("hukou_town", town + raw)
        except PlatformUnavailable:
            return self._unreachable(tracker, dispatcher, "hukou_village", value)
        except PlatformError as exc:
            dispatcher.utter_message(text=exc.message)
            return {"hukou_village": None}
        if not result.get("valid"):
            message = result.get("message") or "没找到这个村，请再说一遍。"
            return self._fail(tracker, dispatcher, "hukou_village", message)
        return self._ok(tracker, "hukou_village", {"hukou_village": result.get("village") or raw})

    async def validate_current_location(self, value: Any, dispatcher: CollectingDispatcher,
                                        tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        where = _clean(_WHERE_PREFIX.sub("", _clean(value)))[:50]
        if not where:
            return self._fail(tracker, dispatcher, "current_location",
                              "请说一下您现在人在哪里，比如“在县城”“在成都打工”。")
        return self._ok(tracker, "current_location", {"current_location": where})

    # --- the materials -----------------------------------------------------------------------
    async def validate_materials_have(self, value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        if isinstance(value, list):
            return {"materials_have": value}  # already checked against the item's list
        code = tracker.get_slot("service_code")
        requested = self._requested(tracker, "materials_have")
        if not code:
            return {"materials_have": None}
        try:
            result = await get_client().checklist(code, _clean(value))
        except PlatformUnavailable:
            if requested:
                dispatcher.utter_message(text=messages.OUTAGE)
            return {"materials_have": None}
        except PlatformError as exc:
            if requested:
                dispatcher.utter_message(text=exc.message)
            return {"materials_have": None}
        have = list(result.get("have") or [])
        if not requested and not have:
            return {"materials_have": None}  # not an answer to the question and names nothing
        missing = [m.get("name") for m in result.get("missing") or []]
        return self._ok(tracker, "materials_have", {"materials_have": have, "materials_missing": missing})


QUESTIONS = {
    "service_code": "您要办哪件事？说事项名就行，比如“高龄补贴”“低保”“残疾证”。",
    "applicant_name": "申请人叫什么名字？（给谁办，就说谁的名字）",
    "id_number": "请告诉我申请人的身份证号（18位）。",
    "phone": "留一个能打通的手机号，代办员会联系您。",
    "hukou_town": "申请人的户口在哪个镇、哪个村？比如“赤不苏镇雅都村”。老乡名也可以。",
    "hukou_village": "户口在哪个村？",
    "current_location": "您现在人在哪里？比如“在县城”“在成都打工”。",
}


class AskFormQuestion(Action, ABC):
    """Asks one question of the form; after a wrong answer, the platform's re-ask text instead."""

    @abstractmethod
    def slot(self) -> str:
        ...

    def name(self) -> Text:
        return f"action_ask_{self.slot()}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        reask = tracker.get_slot("reask_message")
        if tracker.get_slot("retry_slot") == self.slot() and reask:
            dispatcher.utter_message(text=reask)
        else:
            dispatcher.utter_message(text=QUESTIONS[self.slot()])
        return []


class ActionAskServiceCode(AskFormQuestion):
    def slot(self) -> str:
        return "service_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        choices = tracker.get_slot("service_choices")
        if choices:
            dispatcher.utter_message(text="您要办的是哪一项？点一下就行，也可以说得再具体些：",
                                     buttons=choice_buttons(choices))
            return []
        return await super().run(dispatcher, tracker, domain)


class ActionAskApplicantName(AskFormQuestion):
    def slot(self) -> str:
        return "applicant_name"


class ActionAskIdNumber(AskFormQuestion):
    def slot(self) -> str:
        return "id_number"


class ActionAskPhone(AskFormQuestion):
    def slot(self) -> str:
        return "phone"


class ActionAskHukouTown(AskFormQuestion):
    def slot(self) -> str:
        return "hukou_town"


class ActionAskHukouVillage(AskFormQuestion):
    def slot(self) -> str:
        return "hukou_village"


class ActionAskCurrentLocation(AskFormQuestion):
    def slot(self) -> str:
        return "current_location"


class ActionAskMaterialsHave(Action):
    """Asks what the resident has, showing the item's complete list so they can compare."""

    def name(self) -> Text:
        return "action_ask_materials_have"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        ask = "您手上现在有哪些材料？直接说就行，比如“有身份证和户口本”；都没有就说“都没有”。"
        code = tracker.get_slot("service_code")
        try:
            item = await get_client().get_service(code) if code else None
        except (PlatformUnavailable, PlatformError):
            item = None
        if item:
            rongque = bool(item.get("rongque_listed"))
            dispatcher.utter_message(text=f"办“{item.get('name', '')}”要这些材料：\n"
                                          f"{messages.materials_list(item.get('materials') or [], rongque)}\n{ask}")
        else:
            dispatcher.utter_message(text=ask)
        return []

