"""Offline mapping from a `service` entity value to catalog codes.

The platform's catalog search (``GET /api/v1/services?q=``) is what the assistant uses at run
time.  This resolver exists for the NLU evaluation and tests, which must work without the
platform: it scores items by how the entity value matches the aliases in
``service_aliases.yml`` and uses per-item *cue* words in the message to choose between items
sharing a phrase (``残疾证`` + ``丢`` → MX-020 补办, not MX-019 新办).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from erma_nlu.text_normalization import normalize_text

ALIASES_PATH = Path(__file__).with_name("service_aliases.yml")

EXACT = 10.0
ALIAS_IN_VALUE = 6.0
VALUE_IN_ALIAS = 5.0
CUE_BONUS = 6.0
EXTRA_VALUE_BONUS = 1.0  # per further entity value of the message that also matches the item


@functools.lru_cache(maxsize=4)
def load_aliases(path: str = str(ALIASES_PATH)) -> Dict[str, Dict[str, List[str]]]:
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return {
        code: {
            "aliases": [normalize_text(a) for a in entry.get("aliases", [])],
            "cues": [normalize_text(c) for c in entry.get("cues", [])],
        }
        for code, entry in raw.items()
    }


def _match_score(value: str, aliases: Iterable[str]) -> float:
    best = 0.0
    for alias in aliases:
        if value == alias:
            score = EXACT
        elif alias in value:
            score = ALIAS_IN_VALUE + 0.2 * len(alias)
        elif len(value) >= 2 and value in alias:
            score = VALUE_IN_ALIAS
        else:
            continue
        best = max(best, score)
    return best


class ServiceResolver:
    def __init__(self, aliases: Optional[Dict[str, Dict[str, List[str]]]] = None) -> None:
        self.aliases = aliases if aliases is not None else load_aliases()

    def rank(self, values: Iterable[str], text: str = "") -> List[Tuple[str, float]]:
        """Codes ranked best first for the given entity values (empty if nothing matches)."""
        text = normalize_text(text or "")
        values = [normalize_text(v) for v in values if v]
        scores: Dict[str, float] = {}
        for code, entry in self.aliases.items():
            matches = sorted((_match_score(v, entry["aliases"]) for v in values), reverse=True)
            if not matches or matches[0] <= 0:
                continue
            # 户口 + 注销 both point at 户口注销: each further matching value adds a little.
            score = matches[0] + EXTRA_VALUE_BONUS * sum(1 for m in matches[1:] if m > 0)
            if any(cue in text for cue in entry["cues"]):
                score += CUE_BONUS
            scores[code] = score
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    def resolve(self, values: Iterable[str], text: str = "") -> Optional[str]:
        ranked = self.rank(values, text)
        return ranked[0][0] if ranked else None
