"""catalog/services.yaml is validated whole before use; each problem is one Chinese sentence
naming the item and the field."""
from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from erma.catalog.loader import CatalogError, display_path, load_catalog
from erma.settings import ROOT


def test_the_real_catalog_loads_all_109_items_with_22_on_the_deferral_list(catalog_items):
    assert len(catalog_items) == 109
    assert [i.code for i in catalog_items] == [f"MX-{n:03d}" for n in range(1, 110)]
    assert sum(i.rongque_listed for i in catalog_items) == 22


def test_paths_inside_the_project_are_shown_relative():
    assert display_path(ROOT / "catalog" / "services.yaml") == "catalog/services.yaml"


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "services.yaml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(document, Dumper=dumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _item(doc: dict, code: str) -> dict:
    return next(i for i in doc["items"] if i["code"] == code)


def _material(doc: dict, code: str, name_part: str) -> dict:
    return next(m for m in _item(doc, code)["materials"] if name_part in m["name"])


def _set(code: str, field: str, value: object) -> Callable[[dict], None]:
    return lambda doc: _item(doc, code).__setitem__(field, value)


def _set_material(code: str, index: int, field: str, value: object) -> Callable[[dict], None]:
    return lambda doc: _item(doc, code)["materials"][index].__setitem__(field, value)


def _no_deferrable(doc: dict) -> None:
    for m in _item(doc, "MX-014")["materials"]:
        m["deferrable"] = False


def _duplicate(doc: dict) -> None:
    doc["items"][1]["code"] = "MX-001"


BROKEN = [
    ("count zero", _set_material("MX-012", 2, "count", 0), "第 12 项 (MX-012) 字段 materials[2].count 无效：必须是正整数"),
    ("count text", _set_material("MX-012", 2, "count", "两份"), "第 12 项 (MX-012) 字段 materials[2].count 无效：必须是正整数"),
    ("count float", _set_material("MX-012", 2, "count", 1.5), "第 12 项 (MX-012) 字段 materials[2].count 无效：必须是正整数"),
    ("code pattern", _set("MX-012", "code", "MX-12"), "第 12 项 字段 code 无效：格式应为 MX- 加三位数字（如 MX-001）"),
    ("duplicate code", _duplicate, "第 2 项 (MX-001) 字段 code 无效：与第 1 项编号重复"),
    ("form", _set_material("MX-003", 0, "form", "原件和复印件"), "第 3 项 (MX-003) 字段 materials[0].form 无效：必须是 原件、复印件、原件及复印件 之一"),
    ("supplier", _set_material("MX-003", 0, "supplier", "邻居"), "第 3 项 (MX-003) 字段 materials[0].supplier 无效：必须是 申请人、村委会、镇政府、部门、医疗机构、学校、用人单位 之一"),
    ("required not bool", _set_material("MX-003", 1, "required", "是"), "第 3 项 (MX-003) 字段 materials[1].required 无效：必须是 true 或 false"),
    ("missing guide", lambda doc: _item(doc, "MX-040").pop("guide"), "第 40 项 (MX-040) 字段 guide 无效：缺少此字段"),
    ("misspelt field", _set_material("MX-040", 0, "deferable", True), "第 40 项 (MX-040) 字段 materials[0].deferable 无效：不认识的字段（请检查拼写）"),
    ("no phrasings", _set("MX-050", "phrasings", []), "第 50 项 (MX-050) 字段 phrasings 无效：不能为空，至少要有一项"),
    ("no materials", _set("MX-050", "materials", []), "第 50 项 (MX-050) 字段 materials 无效：不能为空，至少要有一项"),
    ("promised zero", _set("MX-050", "promised_working_days", 0), "第 50 项 (MX-050) 字段 promised_working_days 无效：必须是正整数"),
    ("time unit", _set("MX-050", "time_limit_unit", "days"), "第 50 项 (MX-050) 字段 time_limit_unit 无效：必须是 working_days 或 calendar_days"),
    ("deferrable off the list", _set_material("MX-001", 6, "deferrable", True), "第 1 项 (MX-001) 字段 materials[6].deferrable 无效：本事项不在容缺清单（rongque_listed: false），材料不能容缺"),
    ("deferrable identity", _set_material("MX-013", 1, "deferrable", True), "第 13 项 (MX-013) 字段 materials[1].deferrable 无效：“申请人居民身份证”属于身份证件或申请核心材料，不能容缺"),
    ("deferrable application", _set_material("MX-013", 0, "deferrable", True), "第 13 项 (MX-013) 字段 materials[0].deferrable 无效：“高龄津贴申请表”属于身份证件或申请核心材料，不能容缺"),
    ("cap above promised", _set("MX-024", "deferral_max_working_days", 5), "第 24 项 (MX-024) 字段 deferral_max_working_days 无效：补正期限 5 天超过承诺时限 1 天"),
    ("cap off the list", _set("MX-001", "deferral_max_working_days", 5), "第 1 项 (MX-001) 字段 deferral_max_working_days 无效：本事项不在容缺清单，不应设置补正期限"),
    ("listed without deferrable", _no_deferrable, "第 14 项 (MX-014) 字段 materials 无效：容缺事项至少要有一项可容缺（deferrable: true）的材料"),
    ("duplicate material", lambda doc: _item(doc, "MX-026")["materials"].append(copy.deepcopy(_item(doc, "MX-026")["materials"][0])),
     "第 26 项 (MX-026) 字段 materials[2].name 无效：材料“变更申请表”重复"),
    ("last item broken", _set("MX-109", "agent_handled", "yes"), "第 109 项 (MX-109) 字段 agent_handled 无效：必须是 true 或 false"),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in BROKEN], ids=[n for n, _, _ in BROKEN])
def test_each_broken_field_gives_one_clear_message(tmp_path, catalog_document, mutate, expected):
    document = copy.deepcopy(catalog_document)
    mutate(document)
    path = _write(tmp_path, document)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert message == f"目录文件 {display_path(path)} {expected}"
    assert "\n" not in message and "Traceback" not in message
    assert caught.value.__suppress_context__ or caught.value.__cause__ is None


def test_a_listed_item_may_leave_its_deferral_period_to_the_default(tmp_path, catalog_document):
    # The short default (settings.deferral_default_working_days) then applies: erma.deferral.rules.
    document = copy.deepcopy(catalog_document)
    _set("MX-013", "deferral_max_working_days", None)(document)
    item = next(i for i in load_catalog(_write(tmp_path, document)) if i.code == "MX-013")
    assert item.rongque_listed and item.deferral_max_working_days is None


def test_the_brief_example_message_shape(tmp_path, catalog_document):
    document = copy.deepcopy(catalog_document)
    _item(document, "MX-012")["materials"][2]["count"] = -1
    path = _write(tmp_path, document)
    with pytest.raises(CatalogError, match=r"^目录文件 .+ 第 12 项 \(MX-012\) 字段 materials\[2\]\.count 无效：必须是正整数$"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("items:\n  - code: MX-001\n   name: x\n", "不是有效的 YAML：第 3 行附近格式错误（请检查缩进和冒号）"),
        ("meta: {}\n", "缺少 items 列表（事项清单）"),
        ("- just a list\n", "缺少 items 列表（事项清单）"),
        ("items: []\n", "缺少 items 列表（事项清单）"),
        ("items:\n  - 不是一个事项\n", "第 1 项 字段 (整项) 无效：必须是一组 字段: 值"),
    ],
)
def test_a_file_that_is_not_a_catalog_is_refused_clearly(tmp_path, content, expected):
    path = tmp_path / "services.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(caught.value) == f"目录文件 {display_path(path)} {expected}"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CatalogError, match="不存在"):
        load_catalog(tmp_path / "nowhere.yaml")
