"""Post-processing of extracted entities: one entity per span, canonical values."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from erma_nlu import entity_values

REGEX_EXTRACTOR = "RegexEntityExtractor"
#: Entity types whose source of truth is a regex in data/nlu/regexes.yml.
REGEX_OWNED = ("id_number", "phone", "case_no", "last4")
#: Entities found by DIET shorter than this (in characters) are dropped.
MIN_LEARNED_LENGTH = 2
#: A `service` entity that is only a generic head noun names no item; dropping it lets the
#: action search the catalog with the whole message instead.
GENERIC_SERVICE_WORDS = frozenset({
    "补贴", "补助", "津贴", "保险", "证明", "证", "证件", "救助", "手续", "材料", "资料", "钱",
    "卡", "政策", "待遇", "事", "事情", "业务", "申请", "改造", "变更", "登记", "补办", "办理",
})

_CANONICALISERS: Dict[str, Callable[[str], Optional[str]]] = {
    "case_no": entity_values.canonical_case_no,
    "id_number": entity_values.canonical_id_number,
    "phone": entity_values.canonical_phone,
    "last4": entity_values.canonical_last4,
}


def _overlaps(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def clean_entities(entities: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """Deduplicate and canonicalise a message's entity list (pure function, see tests)."""
    regex_found = [
        e for e in entities if e.get("extractor") == REGEX_EXTRACTOR and "start" in e
    ]
    # Longest regex match wins (a phone inside an ID number, last4 inside a case number).
    regex_found.sort(key=lambda e: e["end"] - e["start"], reverse=True)
    kept_regex: List[Dict[str, Any]] = []
    for entity in regex_found:
        if not any(_overlaps(entity, other) for other in kept_regex):
            kept_regex.append(entity)

    result: List[Dict[Text, Any]] = []
    for entity in entities:
        if entity.get("extractor") == REGEX_EXTRACTOR:
            if entity in kept_regex:
                result.append(entity)
            continue
        if entity.get("entity") in REGEX_OWNED:
            continue  # the regex extractor owns these types
        if "start" in entity and any(_overlaps(entity, r) for r in kept_regex):
            continue
        result.append(entity)

    cleaned = []
    for entity in result:
        if (entity.get("extractor") != REGEX_EXTRACTOR and "start" in entity
                and entity["end"] - entity["start"] < MIN_LEARNED_LENGTH):
            continue  # a lone character tagged by DIET (新, 高) is noise
        if entity.get("entity") == "service" and str(entity.get("value")) in GENERIC_SERVICE_WORDS:
            continue
        canonicaliser = _CANONICALISERS.get(entity.get("entity"))
        if canonicaliser is not None:
            value = canonicaliser(str(entity.get("value", "")))
            if value is None:
                if entity.get("entity") == "case_no":
                    continue  # not a case number after all
            elif value != entity.get("value"):
                entity = dict(entity, value=value)
                entity["processors"] = list(entity.get("processors", [])) + [
                    ErmaEntityPostprocessor.__name__
                ]
        cleaned.append(entity)
    cleaned.sort(key=lambda e: e.get("start", 0))
    return cleaned


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class ErmaEntityPostprocessor(GraphComponent):
    """Runs last in the NLU pipeline (after ``EntitySynonymMapper``).

    * ``id_number`` / ``phone`` / ``case_no`` / ``last4`` come only from
      ``RegexEntityExtractor``; DIET's guesses for those types, and any DIET entity overlapping a
      regex match, are dropped.
    * ``service`` entities that are a generic word only (补贴, 保险, 证明 …) are dropped, so the
      action searches the catalog with the whole message.
    * DIET entities of a single character are dropped.
    * Values are canonicalised: ``EM-YYYYMMDD-NNNN`` case numbers, ID numbers without spaces and
      with an upper-case ``X``, 11-digit phones. ``rating_level`` keeps the resident's words
      ("很满意", "打5分"): the platform owns the 好差评 levels and reads them (erma/followup/levels.py).
    """

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ErmaEntityPostprocessor":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES)
            if entities:
                message.set(ENTITIES, clean_entities(entities), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
