"""Resolving what a resident says about their household town to a current town (and village)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.errors import ValidationFailed
from erma.places.models import IntakePoint, Town, TownAlias, Village
from erma.text_normal import fold_text

_SUFFIXES = ("镇", "乡")


@dataclass(frozen=True)
class ResolvedPlace:
    town: Town
    village: str | None
    via: str  # town | alias | village


def _strip_county(text: str) -> str:
    text = re.sub(r"[\s，,。、]", "", fold_text(text))
    for prefix in ("四川省", "四川", "阿坝州", "阿坝藏族羌族自治州", "茂县", "茂汶"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def resolve_place(session: Session, raw: str, village: str | None = None) -> ResolvedPlace:
    """Town name, old township name or village name (optionally "XX镇XX村") → current town.

    Raises ValidationFailed(field="hukou_town") when nothing matches or a village is ambiguous.
    """
    text = _strip_county(raw or "")
    if not text:
        raise ValidationFailed("hukou_town_required", "请告诉我户口在哪个镇（乡）、哪个村", field="hukou_town")
    towns = session.scalars(select(Town)).all()
    aliases = session.scalars(select(TownAlias)).all()

    # Longest names first so 赤不苏镇雅都村 finds the town before the village part.
    candidates: list[tuple[str, Town, str]] = []
    by_code = {t.code: t for t in towns}
    for t in towns:
        candidates.append((t.name, t, "town"))
        candidates.append((t.name.rstrip("镇乡"), t, "town"))
    for a in aliases:
        candidates.append((a.alias, by_code[a.town_code], "alias"))
    candidates.sort(key=lambda c: len(c[0]), reverse=True)

    for name, town, via in candidates:
        at = text.find(name) if len(name) >= 2 else -1
        # "永和村" is a village of 土门镇, not the old 永和乡: a name followed by 村 is a village.
        if at >= 0 and not text[at + len(name):].startswith(("村", "寨")):
            rest = text[at + len(name):].lstrip("镇乡")
            vil = _village_in(rest) or (village and _village_name(_strip_county(village)))
            _check_village_town(session, town, vil)
            return ResolvedPlace(town, vil, via)

    # Only a village was named: it must belong to exactly one town.
    known = sorted({v.name for v in session.scalars(select(Village))}, key=len, reverse=True)
    vil = next((v for v in known if v in text or v.removesuffix("村") == text), None) or _village_in(text)
    if vil:
        matches = session.scalars(select(Village).where(Village.name == vil)).all()
        if len({m.town_code for m in matches}) == 1:
            return ResolvedPlace(by_code[matches[0].town_code], vil, "village")
        if len(matches) > 1:
            names = "、".join(sorted(by_code[m.town_code].name for m in matches))
            raise ValidationFailed("hukou_town_ambiguous", f"{vil}在{names}都有，请说一下是哪个镇的",
                                   field="hukou_town")
    raise ValidationFailed("hukou_town_unknown",
                           f"没有找到“{raw}”这个地方。请说户口所在的镇（乡）名，比如赤不苏镇、土门镇",
                           field="hukou_town")


_VILLAGE_RE = re.compile(r"([\u4e00-\u9fff]{1,6}?(?:村|寨|社区))")


def _village_in(text: str) -> str | None:
    """The first "…村/寨/社区" in what follows the town name (e.g. 赤不苏镇雅都村的 → 雅都村)."""
    m = _VILLAGE_RE.search(text or "")
    return m.group(1) if m else None


def _village_name(text: str | None) -> str | None:
    if not text:
        return None
    text = text.strip()
    if not text:
        return None
    return text if text.endswith(("村", "寨", "社区")) else text + "村"


def _check_village_town(session: Session, town: Town, village: str | None) -> None:
    """A village known to belong to another town is an error; unknown villages are accepted
    (the county's village list after the 2020 mergers is incomplete)."""
    if not village:
        return
    rows = session.scalars(select(Village).where(Village.name == village)).all()
    if rows and town.code not in {r.town_code for r in rows}:
        raise ValidationFailed("hukou_village_mismatch",
                               f"{village}不属于{town.name}，请核对户口所在的镇和村", field="hukou_village")


def get_intake_point(session: Session, code: str) -> IntakePoint:
    point = session.get(IntakePoint, code)
    if point is None:
        raise ValidationFailed("intake_point_unknown", f"没有“{code}”这个接件点", field="intake_point")
    return point
