"""The platform's reading of a typed message, applied to the NLU result (issue 11: item first).

The platform owns which item and which behaviour a message means (erma/understanding). Its gateway
sends that decision with the message, as ``metadata.understanding``; this component, last in the
pipeline, turns it into Rasa's terms, so the dialogue (rules, forms, actions) stays as it is:

* requirements → ``ask_requirements``, apply → ``apply``, status → ``check_status``,
  out_of_scope → ``out_of_scope``; the item as a ``service_code`` entity, the fact asked first
  (photo, in_person, eligibility, time, fee) as an ``asked_fact`` entity; "办错了" (the item just
  named is not the one meant) as a ``wrong_item`` entity;
* only over the intents that are about services (and, when the platform names an item, over
  greetings and a long ``inform``: "你好，低保要带啥" greets and asks, a first message with a life
  story is often taken for an answer). Yes/no, ratings, "转人工", "算了" and answers to the form
  stay DIET's;
* the platform's ``other`` (nothing about a service) changes nothing, and a message without the
  metadata (``rasa shell``, ``rasa test``) is DIET's alone.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

INTENT_OF = {"requirements": "ask_requirements", "apply": "apply", "status": "check_status",
             "out_of_scope": "out_of_scope"}
# DIET's intents the platform's decision replaces: the ones about services, and not understood.
SERVICE_INTENTS = frozenset({"ask_requirements", "apply", "check_status", "out_of_scope", "nlu_fallback",
                             "ask_is_free", "ask_service_points", "ask_opening_hours", "bot_capabilities"})
# Taken over only when the platform names an item: "你好，低保要带啥" greets and asks; romanised
# text ("dibao zenme ban") often looks like a greeting to DIET.
# "残疾证" alone reads like a material in hand to DIET; the platform says whether it is one
# ("我有身份证和户口本" is `other` there, and stays DIET's).
SMALL_TALK_INTENTS = frozenset({"greet", "goodbye", "thank", "inform_materials"})
EXTRACTOR = "PlatformUnderstanding"
# An "inform" this long with an item in it is a story with a question, not an answer to the form.
STORY_LENGTH = 15


def decide_intent(current: Optional[str], understanding: Dict[str, Any], text: str = "") -> Optional[str]:
    """The intent the message gets, or None to keep DIET's (pure function, see tests)."""
    target = INTENT_OF.get(str(understanding.get("behaviour")))
    if target is None:
        return None
    if current in SERVICE_INTENTS:
        return target
    names_item = bool(understanding.get("item") or understanding.get("choices"))
    if current in SMALL_TALK_INTENTS and names_item and target != "out_of_scope":
        return target
    if (current == "inform" and understanding.get("item") and target != "out_of_scope"
            and len(text) >= STORY_LENGTH):
        return target
    return None


def platform_entities(understanding: Dict[str, Any]) -> List[Dict[str, Any]]:
    found = []
    if understanding.get("item"):
        found.append({"entity": "service_code", "value": understanding["item"], "extractor": EXTRACTOR})
    if understanding.get("fact"):
        found.append({"entity": "asked_fact", "value": understanding["fact"], "extractor": EXTRACTOR})
    if understanding.get("wrong_item"):  # "办错了": the form asks for the item again
        found.append({"entity": "wrong_item", "value": "true", "extractor": EXTRACTOR})
    return found


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class PlatformUnderstanding(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "PlatformUnderstanding":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            understanding = (message.get(METADATA) or {}).get("understanding")
            if not isinstance(understanding, dict):
                continue
            current = (message.get(INTENT) or {}).get("name")
            target = decide_intent(current, understanding, message.get(TEXT) or "")
            if target is None:
                # DIET's intent stands; the detail asked ("照片要几张？" at the summary is about the
                # application's item) and "办错了" still go along.
                extra = [e for e in platform_entities(understanding) if e["entity"] != "service_code"]
                if extra:
                    kept = [e for e in (message.get(ENTITIES) or []) if e.get("entity") not in ("asked_fact", "wrong_item")]
                    message.set(ENTITIES, kept + extra, add_to_output=True)
                continue
            message.set(INTENT, {"name": target, "confidence": 1.0}, add_to_output=True)
            ranking = [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get("name") != target]
            message.set(INTENT_RANKING_KEY, [{"name": target, "confidence": 1.0}, *ranking], add_to_output=True)
            entities = [e for e in (message.get(ENTITIES) or [])
                        if e.get("entity") not in ("service", "service_code", "asked_fact", "wrong_item")]
            message.set(ENTITIES, entities + platform_entities(understanding), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
