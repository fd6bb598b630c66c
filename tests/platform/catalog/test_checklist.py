"""What the resident says they have, matched to the item's materials (negation aware)."""
from __future__ import annotations

import pytest

from erma.catalog.checklist import match_materials, match_named_materials


def _names(materials) -> list[str]:
    return [m.name for m in materials]


def test_the_brief_example(items_by_code):
    have, missing = match_materials(items_by_code["MX-017"], "身份证户口本都有，莫得残疾证")
    assert _names(have) == ["申请人居民身份证", "户口簿"]
    assert "第二代残疾人证" in _names(missing)
    assert "申请人居民身份证" not in _names(missing)


@pytest.mark.parametrize(
    ("text", "has_id", "has_hukou"),
    [
        ("身份证和户口本都带了", True, True),
        ("有身份证，没有户口本", True, False),
        ("有身份证没有户口本", True, False),
        ("身份证没带，户口本有", False, True),
        ("身份证没带户口本有", False, True),
        ("没有身份证和户口本", False, False),
        ("身份证户口本都没带", False, False),
        ("户口本搞丢了，身份证在我身上", True, False),
        ("户口簿还没拿到，但是身份证有", True, False),
        ("身份證戶口簿都帶了", True, True),
        ("只带了身份证", True, False),
        ("除了户口本其他都有", True, False),
        ("啥子都没带", False, False),
    ],
)
def test_negation_and_order(items_by_code, text, has_id, has_hukou):
    have = _names(match_materials(items_by_code["MX-013"], text)[0])
    assert ("申请人居民身份证" in have) is has_id, have
    assert ("户口簿" in have) is has_hukou, have


def test_rest_present_covers_everything_not_excepted(items_by_code):
    have, missing = match_materials(items_by_code["MX-013"], "除了社保卡其他都有")
    assert _names(missing) == ["社会保障卡（或惠民惠农“一卡通”）账户信息复印件"]
    assert "高龄津贴申请表" in _names(have)


def test_either_document_of_an_or_material_is_enough(items_by_code):
    have, _ = match_materials(items_by_code["MX-013"], "一卡通的复印件带了")
    assert "社会保障卡（或惠民惠农“一卡通”）账户信息复印件" in _names(have)


def test_a_material_naming_two_documents_needs_both(items_by_code):
    item = items_by_code["MX-086"]
    assert "死者户口簿、身份证" not in _names(match_materials(item, "死者的户口本带了")[0])
    assert "死者户口簿、身份证" in _names(match_materials(item, "死者的户口本和身份证都带了")[0])


def test_missing_lists_required_materials_only(items_by_code):
    item = items_by_code["MX-001"]
    _, missing = match_materials(item, "我只有身份证")
    assert "委托代办书（代办时）" not in _names(missing)
    assert {"低保申请书（审批表）", "户口簿"} <= set(_names(missing))


def test_a_photo_still_to_be_taken_is_missing(items_by_code):
    have, missing = match_materials(items_by_code["MX-030"], "身份证带了，照片还没照")
    assert _names(have) == ["申请人居民身份证"]
    assert "近期免冠证件照片（电子版）" in _names(missing)


def test_names_from_a_ticked_list_or_in_own_words(items_by_code):
    item = items_by_code["MX-013"]
    have, missing = match_named_materials(item, ["申请人居民身份证", "户口本"])
    assert _names(have) == ["申请人居民身份证", "户口簿"]
    assert _names(missing) == ["高龄津贴申请表", "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"]
