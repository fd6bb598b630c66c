"""Handing the conversation to a person (POST /api/v1/handoffs).

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
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import conversation
from actions.platform_client import PlatformError, PlatformUnavailable, get_client

NO_CONNECTION = ("系统暂时连不上，没能帮您转到人工，请稍后再说一次“转人工”。"
                 "着急的话，可以直接去就近的村便民服务站、镇便民服务中心，或者县城凤仪镇的尔玛云代办点。")


def handoff_reason(tracker: Tracker) -> str:
    if conversation.previous_bot_action(tracker) == "action_offer_handoff":
        return "form_abandoned"
    if conversation.previous_user_intent(tracker) == "nlu_fallback":
        return "fallback"
    return "requested"


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        try:
            result = await get_client().request_handoff(tracker.sender_id, conversation.channel(tracker),
                                                        handoff_reason(tracker))
        except (PlatformUnavailable, PlatformError):
            dispatcher.utter_message(text=NO_CONNECTION)
            return []
        dispatcher.utter_message(text="好的，马上请工作人员来帮您。"
                                      + (result.get("message") or "请稍等，工作人员会尽快回复您。"))
        return []
