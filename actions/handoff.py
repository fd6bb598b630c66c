"""Handing the conversation to a person (POST /api/v1/handoffs).

Three ways in, each with the reason the platform records (docs/platform-api.md):
- ``requested``: the resident asked for a person (``request_human``);
- ``fallback``: the second message in a row the assistant did not understand (a rule runs this
  action on ``nlu_fallback`` right after ``utter_default`` answered the first);
- ``form_abandoned``: the second wrong answer to one question of the application form
  (``validate_apply_form`` set ``form_abandoned``; a rule runs this action right after the form).
  What was already filled in stays in the slots, so the agent (or the resident, with "我要办"
  after the agent hands back) carries on from there.

The assistant does NOT pause the Rasa conversation (no ``ConversationPaused``). The platform
gateway owns each conversation's state (bot / queued / agent / closed) and stops forwarding the
resident's messages to Rasa once it is queued for a person; when the agent hands back, the
gateway simply forwards again. A Rasa-side pause would be a second copy of that state: if it
got out of step (a resume event lost, a replica restarted) the resident would meet a silent
assistant. Not pausing also keeps the assistant answering when the handoff call itself failed.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation
from actions.platform_client import PlatformError, PlatformUnavailable, get_client

NO_CONNECTION = ("系统暂时连不上，没能帮您转到人工，请过一会儿说“转人工”再试一次。"
                 "着急的话，可以直接去就近的村便民服务站、镇便民服务中心，或者县城凤仪镇的尔玛云代办点。")
PLATFORM_SILENT = "请稍等，工作人员会尽快回复您。"

# What the resident is told before the platform's wait / office-hours text, by reason.
OPENING = {
    "requested": "好的，马上请工作人员来帮您。",
    "fallback": "不好意思，我还是没听明白。我请工作人员来帮您。",
    "form_abandoned": "这一项试了两次还没填对，我请工作人员来帮您。您已经填好的信息都还在，工作人员会接着帮您办。",
}
# With no connection, what comes before NO_CONNECTION: the resident still learns why a person was
# called and, after the form, that nothing filled in is lost.
OPENING_OFFLINE = {
    "requested": "",
    "fallback": "不好意思，我还是没听明白。",
    "form_abandoned": "这一项试了两次还没填对。您已经填好的信息都还在。",
}


# In the middle of the application the form stays active through the person's turn and asks its
# question again right after this (data/rules/handoff.yml): the agent sees where it stands, and the
# resident's first message after the hand-back answers it.
KEPT = "\n您填过的申请信息都还在。工作人员交回给我以后，接着回答下面这个问题就行。"


def handoff_reason(tracker: Tracker) -> str:
    if tracker.get_slot("form_abandoned"):
        return "form_abandoned"
    if conversation.latest_intent(tracker) == "nlu_fallback":
        return "fallback"
    return "requested"


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        reason = handoff_reason(tracker)
        # After the form stopped: clear the flag that steered the rule here, so "我要办" later
        # resumes the form (validate_apply_form already cleared the re-ask bookkeeping). Always
        # returned, whatever the reason: the rules can then say the same of every handoff.
        events: List[EventType] = [SlotSet("form_abandoned", None)]
        try:
            result = await get_client().request_handoff(tracker.sender_id, conversation.channel(tracker), reason)
        except (PlatformUnavailable, PlatformError):
            dispatcher.utter_message(text=OPENING_OFFLINE[reason] + NO_CONNECTION)
            return events
        kept = KEPT if reason == "requested" and conversation.form_is_active(tracker) else ""
        dispatcher.utter_message(text=OPENING[reason] + (result.get("message") or PLATFORM_SILENT) + kept)
        return events

