"""The county-editable search lexicon (catalog/search_lexicon.yaml): dialect and colloquial
wording mapped to catalog wording, filler words, how residents name their documents, and the
short everyday names of service items that settle a close call between items."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from erma.catalog.loader import CatalogError, display_path
from erma.settings import get_settings


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: caches key on it
class SearchLexicon:
    # variant → canonical wording; canonical forms map to themselves so that a longer
    # canonical term is never rewritten from inside (缴费档次 must not become 缴费缴费档次).
    replacements: dict[str, str] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    affirmations: tuple[str, ...] = ()
    # document → the names residents use for it
    documents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # item code → its short everyday names; each name is one or more parts that must all be
    # said ("残疾证+丢" is written ("残疾证", "丢")).
    service_names: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)


_SERVICE_CODE = re.compile(r"^MX-\d{3}$")


def default_lexicon_path() -> Path:
    return get_settings().catalog_path.with_name("search_lexicon.yaml")


def _strings(value: object, where: str, shown: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise CatalogError(f"检索词库 {shown} 字段 {where} 无效：必须是文字列表")
    return [str(v) for v in value]


def load_lexicon(path: Path | str | None = None) -> SearchLexicon:
    path = Path(path) if path else default_lexicon_path()
    shown = display_path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise CatalogError(f"检索词库 {shown} 不存在") from None
    except yaml.YAMLError:
        raise CatalogError(f"检索词库 {shown} 不是有效的 YAML（请检查缩进和冒号）") from None
    if not isinstance(document, dict):
        raise CatalogError(f"检索词库 {shown} 格式无效：顶层必须是 字段: 值")

    replacements: dict[str, str] = {}
    raw_replacements = document.get("replacements") or {}
    if not isinstance(raw_replacements, dict):
        raise CatalogError(f"检索词库 {shown} 字段 replacements 无效：必须是 统一说法: [别称…]")
    for canonical, variants in raw_replacements.items():
        canonical = "" if canonical is None else str(canonical)
        for variant in _strings(variants, f"replacements.{canonical or '空'}", shown):
            replacements[variant] = canonical
        if canonical:
            replacements.setdefault(canonical, canonical)

    raw_documents = document.get("documents") or {}
    if not isinstance(raw_documents, dict):
        raise CatalogError(f"检索词库 {shown} 字段 documents 无效：必须是 材料: [叫法…]")
    documents = {
        str(name): tuple(_strings(aliases, f"documents.{name}", shown))
        for name, aliases in raw_documents.items()
    }
    raw_names = document.get("service_names") or {}
    if not isinstance(raw_names, dict):
        raise CatalogError(f"检索词库 {shown} 字段 service_names 无效：必须是 事项编号: [简称…]")
    service_names: dict[str, tuple[tuple[str, ...], ...]] = {}
    for code, names in raw_names.items():
        code = "" if code is None else str(code).strip().upper()
        if not _SERVICE_CODE.match(code):
            raise CatalogError(f"检索词库 {shown} 字段 service_names 无效：{code or '空'} 不是事项编号（MX-三位数字）")
        parsed = []
        for name in _strings(names, f"service_names.{code}", shown):
            parts = tuple(part.strip() for part in name.split("+"))
            if not all(parts):
                raise CatalogError(f"检索词库 {shown} 字段 service_names.{code} 无效：“{name}” 的 + 两边都要有词")
            parsed.append(parts)
        service_names[code] = tuple(parsed)

    return SearchLexicon(
        replacements=replacements,
        stopwords=frozenset(
            _strings(document.get("stopwords"), "stopwords", shown) + _strings(document.get("places"), "places", shown)
        ),
        words=tuple(_strings(document.get("words"), "words", shown)),
        negations=tuple(_strings(document.get("negations"), "negations", shown)),
        affirmations=tuple(_strings(document.get("affirmations"), "affirmations", shown)),
        documents=documents,
        service_names=service_names,
    )


@lru_cache(maxsize=4)
def cached_lexicon(path: Path | None = None) -> SearchLexicon:
    return load_lexicon(path)
