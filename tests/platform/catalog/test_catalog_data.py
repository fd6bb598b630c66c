"""The committed catalog keeps the reference's codes and 容缺 list and follows the deferral rules."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from erma.catalog.schema import NEVER_DEFERRABLE
from erma.deferral.rules import deferral_working_days

REFERENCE = Path("/work/shared/reference/catalog_reference.yaml")
VILLAGE_MAY_NOT_CERTIFY = ("健在证明", "亲属关系证明", "居民财产证明", "残疾状况证明", "婚姻状况证明")


@pytest.fixture(scope="module")
def reference() -> dict[str, dict]:
    if not REFERENCE.exists():
        pytest.skip("the shared research reference is not on this machine")
    return {i["code"]: i for i in yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))["items"]}


def test_codes_names_and_deferral_list_follow_the_reference(catalog_items, reference):
    assert [i.code for i in catalog_items] == list(reference)
    for item in catalog_items:
        ref = reference[item.code]
        assert item.name == ref["name"]
        assert item.rongque_listed == ref["rongque_eligible"]
        assert item.agent_mode == ref["agent_mode"]
        assert item.promised_working_days == ref["time_limit_working_days"]
        assert item.time_limit_unit == ref["time_limit_unit"]
        assert item.phrasings[0] == item.name
        assert set(ref["colloquial"]) <= set(item.phrasings)
        assert {m["name"] if isinstance(m, dict) else m for m in ref["materials"]} <= {m.name for m in item.materials}


def test_agents_handle_everything_except_appointment_only_items(catalog_items):
    for item in catalog_items:
        assert item.agent_handled == (not item.agent_mode.startswith("咨询预约")), item.code
    assert {i.code for i in catalog_items if not i.agent_handled} == {"MX-082", "MX-083", "MX-093", "MX-095"}


def test_deferral_rules_hold_for_every_item(catalog_items):
    for item in catalog_items:
        deferrable = item.deferrable_materials
        if not item.rongque_listed:
            assert not deferrable and item.deferral_max_working_days is None, item.code
            continue
        assert deferrable, f"{item.code} 容缺事项没有可容缺材料"
        # Shorter than the promised time, so the supplement deadline falls before the promised date
        # (a one-day item can only have one day).
        assert deferral_working_days(item) < item.promised_working_days or item.promised_working_days == 1, item.code
        for material in deferrable:
            assert not NEVER_DEFERRABLE.search(material.name), (item.code, material.name)


def test_qualifying_certificates_are_never_deferrable(items_by_code):
    # The certificate an item turns on must be in hand; only the file copy may follow (MX-022).
    for code, certificate in {"MX-017": "第二代残疾人证", "MX-018": "第二代残疾人证（一、二级，或三、四级智力/精神）", "MX-021": "残疾人证",
                              "MX-048": "入伍批准书复印件", "MX-047": "退役证件或烈士证明书等身份材料"}.items():
        assert not items_by_code[code].material(certificate).deferrable, code
    assert not items_by_code["MX-022"].material("残疾人证（一、二级）原件").deferrable
    assert items_by_code["MX-022"].material("残疾人证（一、二级）复印件").deferrable


def test_material_fields_are_derived_sensibly(items_by_code):
    mx001 = items_by_code["MX-001"]
    assert mx001.material("申请人居民身份证").form == "原件及复印件"
    assert mx001.material("低保申请书（审批表）").form == "原件"
    assert mx001.material("委托代办书（代办时）").required is False
    assert mx001.material("残疾人证、疾病诊断等特殊情况材料（如有）").required is False
    assert items_by_code["MX-024"].material("户口簿复印件").form == "复印件"
    assert items_by_code["MX-054"].material("夫妻双方身份证").count == 2
    assert items_by_code["MX-009"].material("村（组）受灾情况核实表").supplier == "村委会"
    for item in items_by_code.values():
        for material in item.materials:
            assert material.count >= 1
            if re.search(r"（[^）]*(如有|代办时)[^）]*）", material.name):
                assert not material.required, (item.code, material.name)


def test_guides_tell_who_where_how_long_and_that_agency_is_free(catalog_items):
    for item in catalog_items:
        guide = item.guide
        assert guide.startswith("申请对象："), item.code
        assert "村便民服务站" in guide and "镇便民服务中心" in guide and "尔玛云代办点" in guide
        assert str(item.promised_working_days) in guide
        assert "免费" in guide
        if item.rongque_listed:
            assert "容缺办理" in guide and f"{deferral_working_days(item)}个工作日内补齐" in guide


def test_no_item_asks_a_village_for_a_certificate_it_may_not_issue(catalog_items):
    # 民发〔2020〕20号: villages no longer issue these (domain-notes §2.8).
    for item in catalog_items:
        for material in item.materials:
            assert not any(c in material.name for c in VILLAGE_MAY_NOT_CERTIFY), (item.code, material.name)
