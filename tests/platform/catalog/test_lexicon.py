"""The county-editable search lexicon loads cleanly or says what is wrong."""
from __future__ import annotations

import pytest

from erma.catalog.lexicon import load_lexicon
from erma.catalog.loader import CatalogError
from erma.catalog.text_features import TextAnalyzer


def test_the_project_lexicon_loads_and_normalises_dialect():
    lexicon = load_lexicon()
    analyzer = TextAnalyzer(lexicon)
    assert analyzer.normalize("屋头老汉儿莫得户口本") == "家里父亲没有户口簿"
    assert analyzer.normalize("戶口簿遺失") == "户口簿丢失"
    assert analyzer.normalize("想办底保") == "想办低保"
    assert "成都" in lexicon.stopwords  # places say where someone is, not what they need


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("replacements: [a, b]\n", "字段 replacements 无效"),
        ("replacements:\n  户口簿: 户口本\n", "字段 replacements.户口簿 无效：必须是文字列表"),
        ("stopwords: {a: 1}\n", "字段 stopwords 无效：必须是文字列表"),
        ("replacements:\n  a: [b\n", "不是有效的 YAML"),
    ],
)
def test_a_broken_lexicon_is_named(tmp_path, content, message):
    path = tmp_path / "search_lexicon.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_lexicon(path)
