"""The examples the understanding models learn from.

Item examples: every catalog item's name, short name, resident phrasings and first guide line
(from the database, so an edited catalog is followed), the situation words residents use for it,
and the residents' messages in ``catalog/resident_voice/*.jsonl``. Behaviour examples: the same
messages by what the resident wanted, and the assistant's own NLU examples for status questions,
things we do not do, and conversation words (greetings, yes/no, names) that are about no item.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from erma.catalog.schema import ServiceItemSpec
from erma.settings import ROOT

VOICE_DIR = ROOT / "catalog" / "resident_voice"
NLU_DIR = ROOT / "data" / "nlu"

NONE = "none"  # the item class of messages about no catalog item
BEHAVIOURS = ("requirements", "apply", "status", "out_of_scope", "other")
# How each source names what the resident wanted.
_BEHAVIOUR_OF = {"ask": "requirements", "requirements": "requirements", "apply": "apply", "status": "status",
                 "out_of_scope": "out_of_scope"}
# The assistant's NLU intents that are about no item by themselves (the item model's `none`).
_NLU_BEHAVIOUR = {"check_status": "status", "out_of_scope": "out_of_scope", "apply": "apply",
                  "ask_requirements": "requirements"}
_NLU_OTHER = ("greet", "goodbye", "thank", "bot_capabilities", "affirm", "deny", "stop", "rate", "request_human",
              "inform", "inform_materials", "ask_is_free", "ask_service_points", "ask_opening_hours")
# Of those, the ones that are about no item at all (the item model's `none`); the others ("要本人来不",
# "我有户口本") are asked about items too, and would teach `none` the words of every question.
_NLU_NO_ITEM = ("greet", "goodbye", "thank", "bot_capabilities", "affirm", "deny", "stop", "rate", "request_human")
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
_SHORT_NAME = re.compile(r"（[^）]*）|\([^)]*\)")


@dataclass(frozen=True)
class Corpus:
    item_texts: tuple[str, ...]
    item_labels: tuple[str, ...]  # item code or NONE
    behaviour_texts: tuple[str, ...]
    behaviour_labels: tuple[str, ...]  # one of BEHAVIOURS

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for part in (self.item_texts, self.item_labels, self.behaviour_texts, self.behaviour_labels):
            digest.update("\x1f".join(part).encode())
            digest.update(b"\x1e")
        return digest.hexdigest()[:20]


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path.name} 第{number}行不是有效的 JSON：{exc.msg}") from exc


def _nlu_examples(nlu_dir: Path) -> dict[str, list[tuple[str, bool]]]:
    """(example, names a service) by intent; "names a service" is an annotated `service` entity."""
    found: dict[str, list[tuple[str, bool]]] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    names_service = "(service" in line or '"service"' in line
                    found.setdefault(block["intent"], []).append((_ANNOTATION.sub(r"\1", line[2:].strip()),
                                                                  names_service))
    return found


def build_corpus(items: Sequence[ServiceItemSpec], voice_dir: Path = VOICE_DIR, nlu_dir: Path = NLU_DIR) -> Corpus:
    codes = {item.code for item in items}
    item_texts: list[str] = []
    item_labels: list[str] = []
    behaviour_texts: list[str] = []
    behaviour_labels: list[str] = []

    def item_example(text: str, label: str) -> None:
        if text.strip():
            item_texts.append(text)
            item_labels.append(label)

    def behaviour_example(text: str, label: str) -> None:
        if text.strip():
            behaviour_texts.append(text)
            behaviour_labels.append(label)

    for item in items:
        for text in (item.name, _SHORT_NAME.sub("", item.name), *item.phrasings, item.guide.splitlines()[0]):
            item_example(text, item.code)
    words_file = voice_dir / "situation_words.json"
    if words_file.exists():
        for code, entry in json.loads(words_file.read_text(encoding="utf-8")).items():
            if code in codes:
                item_example(" ".join(entry.get("words") or []), code)
    for path in sorted(voice_dir.glob("*.jsonl")):
        for row in _jsonl(path):
            text = str(row.get("text") or "")
            behaviour = _BEHAVIOUR_OF.get(str(row.get("intent") or row.get("behaviour") or ""))
            code = row.get("item")
            if behaviour is None:
                continue
            behaviour_example(text, behaviour)
            if behaviour == "out_of_scope":
                item_example(text, NONE)
            elif code in codes:
                item_example(text, code)
    nlu = _nlu_examples(nlu_dir) if nlu_dir.exists() else {}
    for intent, behaviour in _NLU_BEHAVIOUR.items():
        for text, names_service in nlu.get(intent, []):
            behaviour_example(text, behaviour)
            if behaviour == "out_of_scope" and not names_service:
                item_example(text, NONE)
    for intent in _NLU_OTHER:
        for text, names_service in nlu.get(intent, []):
            if names_service:  # "低保在哪点办": a question about that item
                behaviour_example(text, "requirements")
            else:
                behaviour_example(text, "other")
                if intent in _NLU_NO_ITEM:
                    item_example(text, NONE)
    return Corpus(tuple(item_texts), tuple(item_labels), tuple(behaviour_texts), tuple(behaviour_labels))
