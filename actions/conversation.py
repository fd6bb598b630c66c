"""What the actions read from the conversation: the latest message, its entities, the channel."""
from __future__ import annotations

from typing import Any, List, Optional

from rasa_sdk import Tracker

APPLY_FORM = "apply_form"

# Messages with these intents interrupt the application form instead of answering its question
# (domain.yml lists the same intents under `not_intent` of the form's text mappings).
INTERRUPTION_INTENTS = frozenset({
    "ask_requirements", "ask_is_free", "ask_service_points", "ask_opening_hours", "bot_capabilities",
    "check_status", "request_human", "stop", "greet", "thank", "goodbye", "apply", "inform_materials",
    "out_of_scope", "EXTERNAL_ask_rating",
})


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def entity_values(tracker: Tracker, name: str) -> List[str]:
    return [str(e.get("value")) for e in (tracker.latest_message or {}).get("entities") or []
            if e.get("entity") == name and e.get("value") not in (None, "")]


def entity(tracker: Tracker, name: str) -> Optional[str]:
    values = entity_values(tracker, name)
    return values[-1] if values else None


def platform_choices(tracker: Tracker) -> List[str]:
    """The item codes the platform's reading of the latest message left to the resident (a close call,
    "办残疾证": 新办 or 补办); sent by the gateway with the message (``metadata.understanding``)."""
    metadata: Any = (tracker.latest_message or {}).get("metadata") or {}
    understanding = metadata.get("understanding") if isinstance(metadata, dict) else None
    choices = understanding.get("choices") if isinstance(understanding, dict) else None
    return [str(c.get("code")) for c in choices or [] if isinstance(c, dict) and c.get("code")]


def form_is_active(tracker: Tracker) -> bool:
    return (tracker.active_loop or {}).get("name") == APPLY_FORM


def channel(tracker: Tracker) -> str:
    """The platform's channel name for this conversation: ``wechat`` or ``web_chat``.

    The platform gateway may say so in the message metadata (``{"channel": "wechat"}``);
    otherwise Rasa's input channel name decides.
    """
    metadata: Any = (tracker.latest_message or {}).get("metadata") or {}
    named = metadata.get("channel") if isinstance(metadata, dict) else None
    source = str(named or tracker.get_latest_input_channel() or "")
    return "wechat" if "wechat" in source.lower() else "web_chat"


def user_turns(tracker: Tracker) -> int:
    """How many messages the resident has sent in this conversation so far."""
    return sum(1 for e in tracker.events if e.get("event") == "user")



def at_summary(tracker: Tracker) -> bool:
    """The resident's latest message answers the application's summary ("都对吗？"): the last
    action before it was action_review_application. A question then is a digression: answered,
    then the summary again, and the application's item and answers stay as they are."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    actions = [e.get("name") for e in events[:max(last_user, 0)] if e.get("event") == "action"
               and e.get("name") not in ("action_listen", "action_unlikely_intent")]
    return bool(actions) and actions[-1] == "action_review_application"
