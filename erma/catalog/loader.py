"""Reads catalog/services.yaml and validates all of it before anything is used.

A county admin edits that file by hand, so every problem is reported as one Chinese sentence that
names the item and the field; nothing is returned unless the whole file is valid.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from erma.catalog.schema import CODE_PATTERN, NEVER_DEFERRABLE, ServiceItemSpec
from erma.settings import ROOT


# libyaml's loader when present: the catalog is ~6,000 lines and is read at every start.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CatalogError(Exception):
    """The catalog file cannot be used; the message says exactly where and why (in Chinese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Field-specific reasons read better than pydantic's generic ones.
_FIELD_REASONS = {
    "code": "格式应为 MX- 加三位数字（如 MX-001）",
    "count": "必须是正整数",
    "promised_working_days": "必须是正整数",
    "deferral_max_working_days": "必须是正整数或留空",
    "form": "必须是 原件、复印件、原件及复印件 之一",
    "supplier": "必须是 申请人、村委会、镇政府、部门、医疗机构、学校、用人单位 之一",
    "time_limit_unit": "必须是 working_days 或 calendar_days",
}
_TYPE_REASONS = {
    "missing": "缺少此字段",
    "extra_forbidden": "不认识的字段（请检查拼写）",
    "bool_type": "必须是 true 或 false",
    "bool_parsing": "必须是 true 或 false",
    "string_type": "必须是文字",
    "string_too_short": "不能为空",
    "too_short": "不能为空，至少要有一项",
    "list_type": "必须是列表（每行以 - 开头）",
    "model_type": "必须是一组 字段: 值",
    "dict_type": "必须是一组 字段: 值",
    "int_type": "必须是整数",
    "int_parsing": "必须是整数",
    "int_from_float": "必须是整数",
    "greater_than_equal": "必须是正整数",
}
# Too long or too large: the same words whatever the field.
_LIMIT_REASONS = {"less_than_equal": "太大了，最多 {le}", "string_too_long": "太长了，最多 {max_length} 个字"}


def display_path(path: Path) -> str:
    """Path as an admin sees it: relative to the project when inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _reason(error: dict) -> str:
    field = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "")
    if error["type"] in _LIMIT_REASONS:
        return _LIMIT_REASONS[error["type"]].format(**(error.get("ctx") or {}))
    if error["type"] not in ("missing", "extra_forbidden") and field in _FIELD_REASONS:
        return _FIELD_REASONS[field]
    return _TYPE_REASONS.get(error["type"], error["msg"])


def field_reason(error: dict) -> str:
    """The Chinese reason for one schema error: the same words for the file and the admin's item editor."""
    return _reason(error)


def load_catalog(path: Path | str) -> list[ServiceItemSpec]:
    """All items of the catalog file, or CatalogError with one clear message."""
    path = Path(path)
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"目录文件 {shown} 不存在") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"目录文件 {shown} 无法读取：{exc}") from None
    try:
        document = yaml.load(text, Loader=_YamlLoader)  # noqa: S506  (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行附近" if mark else ""
        raise CatalogError(f"目录文件 {shown} 不是有效的 YAML：{where}格式错误（请检查缩进和冒号）") from None
    raw_items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(raw_items, list) or not raw_items:
        raise CatalogError(f"目录文件 {shown} 缺少 items 列表（事项清单）")

    items: list[ServiceItemSpec] = []
    for index, raw in enumerate(raw_items):
        label = _item_label(shown, index, raw)
        try:
            item = ServiceItemSpec.model_validate(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise CatalogError(f"{label} 字段 {format_loc(error['loc']) or '(整项)'} 无效：{_reason(error)}") from None
        problem = next(item_rule_violations(item), None)
        if problem:
            raise CatalogError(f"{label} 字段 {problem[0]} 无效：{problem[1]}")
        items.append(item)

    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.code in seen:
            raise CatalogError(
                f"{_item_label(shown, index, item.code)} 字段 code 无效："
                f"与第 {seen[item.code] + 1} 项编号重复"
            )
        seen[item.code] = index
    return items


def _item_label(shown: str, index: int, raw: Any) -> str:
    code = raw.get("code") if isinstance(raw, dict) else raw
    code_part = f" ({code})" if isinstance(code, str) and re.match(CODE_PATTERN, code) else ""
    return f"目录文件 {shown} 第 {index + 1} 项{code_part}"


def item_rule_violations(item: ServiceItemSpec) -> Iterator[tuple[str, str]]:
    """Rules across fields (design.md §2 rule 4), as (field path, Chinese reason)."""
    names: set[str] = set()
    for i, material in enumerate(item.materials):
        if material.name in names:
            yield f"materials[{i}].name", f"材料“{material.name}”重复"
        names.add(material.name)
        if material.deferrable and not item.rongque_listed:
            yield f"materials[{i}].deferrable", "本事项不在容缺清单（rongque_listed: false），材料不能容缺"
        if material.deferrable and NEVER_DEFERRABLE.search(material.name):
            yield f"materials[{i}].deferrable", f"“{material.name}”属于身份证件或申请核心材料，不能容缺"
    if item.rongque_listed:
        # Left empty: the platform's short default applies (erma.deferral.rules.deferral_working_days).
        if item.deferral_max_working_days and item.deferral_max_working_days > item.promised_working_days:
            yield "deferral_max_working_days", (
                f"补正期限 {item.deferral_max_working_days} 天超过承诺时限 {item.promised_working_days} 天"
            )
        if not item.deferrable_materials:
            yield "materials", "容缺事项至少要有一项可容缺（deferrable: true）的材料"
    elif item.deferral_max_working_days is not None:
        yield "deferral_max_working_days", "本事项不在容缺清单，不应设置补正期限"
