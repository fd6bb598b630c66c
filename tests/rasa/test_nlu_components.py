"""Tests for the custom NLU components in erma_nlu/ and the NLU training data.

Run from the repository root with the Rasa environment:

    RASA_TELEMETRY_ENABLED=false /tmp/venv-rasa/bin/python -m pytest tests/rasa/test_nlu_components.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from erma_nlu import entity_values  # noqa: E402
from erma_nlu.entity_postprocessor import clean_entities  # noqa: E402
from erma_nlu.service_resolver import ServiceResolver  # noqa: E402
from erma_nlu.text_normalization import normalize_text  # noqa: E402

AGREED_INTENTS = {
    "greet", "goodbye", "thank", "bot_capabilities", "out_of_scope", "ask_is_free",
    "ask_service_points", "ask_opening_hours", "ask_requirements", "apply", "inform",
    "inform_materials", "check_status", "request_human", "rate", "affirm", "deny", "stop",
}
AGREED_ENTITIES = {"service", "town", "village", "id_number", "phone", "case_no", "last4",
                   "rating_level", "person_name"}
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_checksum_ok(number: str) -> bool:
    number = re.sub(r"[\s-]", "", normalize_text(number)).upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS))
    return "10X98765432"[total % 11] == number[17]


# --------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("我想辦殘疾證，要帶啥子？", "我想办残疾证,要带啥子?"),
        ("身份證號５１３２２３１９８００１０１００１１", "身份证号513223198001010011"),
        ("ＥＭ－２０２６１１２６－０００７", "em-20261126-0007"),
        ("EM-20261126-0007", "em-20261126-0007"),
        ("戶口簿遺失補辦", "户口簿遗失补办"),
        ("电话　13812345678", "电话 13812345678"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["我想问一下……低保", "面积50㎡", "①低保②残疾证", "ﬁle 乾隆 頭髮 著作權", "好的👍", "İstanbul Ⅻ"],
)
def test_normalize_text_keeps_length(raw):
    assert len(normalize_text(raw)) == len(raw)


def test_intent_payloads_are_untouched():
    payload = '/inform{"town":"赤不蘇鎮"}'
    assert normalize_text(payload) == payload


# --------------------------------------------------------------------------- tokenizer
@pytest.fixture()
def tokenizer(tmp_path):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from erma_nlu.tokenizer import ErmaJiebaTokenizer

    dict_dir = tmp_path / "jieba_dict"
    dict_dir.mkdir()
    (dict_dir / "words.txt").write_text("赤不苏镇\n雅都村\n高龄津贴\n", encoding="utf-8")
    config = {**ErmaJiebaTokenizer.get_default_config(), "dictionary_path": str(dict_dir)}
    return ErmaJiebaTokenizer.create(
        config, LocalModelStorage(tmp_path / "storage"), Resource("tok"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def _message(text):
    from rasa.shared.nlu.training_data.message import Message

    return Message(data={"text": text})


def test_tokenizer_normalises_and_drops_whitespace_tokens(tokenizer):
    original = "我在成都 打工  屋頭在赤不蘇鎮雅都村，身份證 ５１３２２３１９８００１０１００１１"
    message = _message(original)
    tokenizer.process([message])
    text = message.get("text")
    tokens = message.get("text_tokens")
    assert len(text) == len(original)
    assert text == normalize_text(original)
    assert all(token.text.strip() for token in tokens)
    words = [token.text for token in tokens]
    assert "赤不苏镇" in words and "雅都村" in words and "513223198001010011" in words
    for token in tokens:  # offsets point into the normalised *and* the original text
        assert text[token.start:token.end] == token.text
        assert normalize_text(original[token.start:token.end]) == token.text


def test_tokenizer_training_data_is_normalised_too(tokenizer):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    example = _message("高齡津貼要帶啥")
    example.set("intent", "ask_requirements")
    tokenizer.process_training_data(TrainingData([example]))
    assert example.get("text") == "高龄津贴要带啥"
    assert example.get("text_tokens")[0].text == "高龄津贴"


def test_tokenizer_requires_the_dictionary(tmp_path):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.exceptions import RasaException

    from erma_nlu.tokenizer import ErmaJiebaTokenizer

    config = {**ErmaJiebaTokenizer.get_default_config(),
              "dictionary_path": str(tmp_path / "missing")}
    with pytest.raises(RasaException, match="build_jieba_dict"):
        ErmaJiebaTokenizer.create(config, LocalModelStorage(tmp_path / "s"), Resource("t"),
                                  ExecutionContext(GraphSchema({}), "test"))


def test_dictionary_content_is_part_of_the_fingerprint(tmp_path):
    from erma_nlu.tokenizer import ErmaJiebaTokenizer

    (tmp_path / "d.txt").write_text("低保\n", encoding="utf-8")
    before = ErmaJiebaTokenizer.fingerprint_addon({"dictionary_path": str(tmp_path)})
    (tmp_path / "d.txt").write_text("低保\n残疾证\n", encoding="utf-8")
    after = ErmaJiebaTokenizer.fingerprint_addon({"dictionary_path": str(tmp_path)})
    assert before and after and before != after


# --------------------------------------------------------------------------- entity values
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("EM-20261126-0007", "EM-20261126-0007"),
        ("em-20261126-0007", "EM-20261126-0007"),
        ("em202611260007", "EM-20261126-0007"),
        ("EM 20261126 0007", "EM-20261126-0007"),
        ("20261126-0007", "EM-20261126-0007"),
        ("em-2026112-0007", None),
    ],
)
def test_canonical_case_no(raw, expected):
    assert entity_values.canonical_case_no(raw) == expected


def test_canonical_identity_values():
    assert entity_values.canonical_id_number("513223 19550421 643x") == "51322319550421643X"
    assert entity_values.canonical_phone("138-1234 5678") == "13812345678"
    assert entity_values.canonical_phone("+86 13812345678") == "13812345678"
    assert entity_values.canonical_last4("643x") == "643X"


# --------------------------------------------------------------------------- postprocessor
def test_regex_owned_entities_come_only_from_regexes():
    entities = [
        {"entity": "id_number", "start": 3, "end": 21, "value": "51322319550421643x",
         "extractor": "DIETClassifier"},
        {"entity": "id_number", "start": 3, "end": 21, "value": "51322319550421643x",
         "extractor": "RegexEntityExtractor"},
        {"entity": "phone", "start": 5, "end": 16, "value": "32231955042",
         "extractor": "RegexEntityExtractor"},
        {"entity": "service", "start": 0, "end": 2, "value": "低保", "extractor": "DIETClassifier"},
        {"entity": "town", "start": 10, "end": 14, "value": "1955", "extractor": "DIETClassifier"},
    ]
    cleaned = clean_entities(entities)
    assert [(e["entity"], e["value"]) for e in cleaned] == [
        ("service", "低保"), ("id_number", "51322319550421643X")]


def test_last4_inside_a_case_number_is_dropped_and_case_no_canonicalised():
    text = "查em 20261111 0011"
    entities = [
        {"entity": "case_no", "start": 1, "end": 17, "value": text[1:17],
         "extractor": "RegexEntityExtractor"},
        {"entity": "last4", "start": 13, "end": 17, "value": "0011",
         "extractor": "RegexEntityExtractor"},
    ]
    assert clean_entities(entities) == [
        {"entity": "case_no", "start": 1, "end": 17, "value": "EM-20261111-0011",
         "extractor": "RegexEntityExtractor", "processors": ["ErmaEntityPostprocessor"]}]


def test_noise_from_diet_is_dropped():
    cleaned = clean_entities([
        {"entity": "service", "start": 0, "end": 1, "value": "新", "extractor": "DIETClassifier"},
        {"entity": "service", "start": 3, "end": 5, "value": "补贴", "extractor": "DIETClassifier"},
        {"entity": "rating_level", "start": 2, "end": 3, "value": "选",
         "extractor": "DIETClassifier"},
        {"entity": "rating_level", "start": 3, "end": 7, "value": "基本满意",
         "extractor": "DIETClassifier"},
    ])
    assert [(e["entity"], e["value"]) for e in cleaned] == [("rating_level", "基本满意")]


@pytest.mark.parametrize("words", ["5星", "很满意", "还可以"])
def test_rating_level_keeps_the_residents_words(words):
    # The platform owns the 好差评 levels and reads these words (erma/followup/levels.py).
    cleaned = clean_entities([{"entity": "rating_level", "start": 1, "end": 1 + len(words), "value": words,
                               "extractor": "DIETClassifier"}])
    assert cleaned[0]["value"] == words and "processors" not in cleaned[0]


# --------------------------------------------------------------------------- regexes
def _regexes():
    data = yaml.safe_load((REPO / "data/nlu/regexes.yml").read_text(encoding="utf-8"))
    patterns = {}
    for block in data["nlu"]:
        patterns[block["regex"]] = [
            line.strip()[2:] for line in block["examples"].splitlines() if line.strip()]
    return patterns


def _regex_entities(text):
    """What RegexEntityExtractor + ErmaEntityPostprocessor produce on the normalised text."""
    text = normalize_text(text)
    found = []
    for name, patterns in _regexes().items():
        for pattern in patterns:
            for match in re.finditer(pattern, text, flags=re.IGNORECASE):
                found.append({"entity": name, "start": match.start(), "end": match.end(),
                              "value": match.group(), "extractor": "RegexEntityExtractor"})
    return {(e["entity"], e["value"]) for e in clean_entities(found)}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("身份证513223198001010011电话13812345678",
         {("id_number", "513223198001010011"), ("phone", "13812345678")}),
        ("身份證５１３２２３１９５５０４２１６４３Ｘ", {("id_number", "51322319550421643X")}),
        ("号码513223 19551010 5744", {("id_number", "513223195510105744")}),
        ("电话138 1234 5678，身份证11010519491231002x",
         {("phone", "13812345678"), ("id_number", "11010519491231002X")}),
        ("手机131-1003-1310", {("phone", "13110031310")}),
        ("查EM-20261126-0007后四位0011",
         {("case_no", "EM-20261126-0007"), ("last4", "0011")}),
        ("em202611260007 尾号643x", {("case_no", "EM-20261126-0007"), ("last4", "643X")}),
        ("案件号em 20261111 0011", {("case_no", "EM-20261111-0011")}),
        ("2026年申请的，交了1000块", set()),
        ("我家4口人，老人85岁", set()),
        # The gateway's references (erma/pii_refs) in place of the numbers, as the platform sends them.
        ("我的身份证是〔身份证#K7Q2M〕", {("id_number", "〔身份证#K7Q2M〕")}),
        ("电话〔手机#3HX9A〕，身份证〔身份证#Y2234〕",
         {("phone", "〔手机#3HX9A〕"), ("id_number", "〔身份证#Y2234〕")}),
        ("〔手机#22345〕", {("phone", "〔手机#22345〕")}),  # no last4 inside the code
    ],
)
def test_regex_patterns(text, expected):
    assert _regex_entities(text) == expected


# --------------------------------------------------------------------------- service resolver
@pytest.mark.parametrize(
    "value, text, code",
    [
        ("低保", "想吃低保", "MX-001"),
        ("低保", "低保要加人咋个弄", "MX-002"),
        ("残疾证", "想办残疾证", "MX-019"),
        ("残疾证", "残疾证搞丢了咋个补", "MX-020"),
        ("社保卡", "社保卡坏了", "MX-031"),
        ("娃儿上户口", "", "MX-085"),
        ("高龄补贴", "我妈满80了", "MX-013"),
    ],
)
def test_service_resolver(value, text, code):
    assert ServiceResolver().resolve([value], text) == code


def test_service_resolver_combines_several_values():
    assert ServiceResolver().resolve(["户口", "注销"], "老汉儿去世了，户口要注销") == "MX-086"


def test_service_aliases_cover_the_catalog():
    aliases = yaml.safe_load((REPO / "erma_nlu/service_aliases.yml").read_text(encoding="utf-8"))
    assert set(aliases) == {f"MX-{n:03d}" for n in range(1, 110)}


# --------------------------------------------------------------------------- training data
def _examples(path):
    from eval_nlu import read_nlu_examples

    return read_nlu_examples(path)


def _training_examples():
    examples = []
    for path in sorted((REPO / "data/nlu").glob("*.yml")):
        examples.extend(_examples(path))
    return examples


def test_training_data_uses_exactly_the_agreed_intents_and_entities():
    examples = _training_examples()
    assert {e["intent"] for e in examples} == AGREED_INTENTS
    used = {entity["entity"] for e in examples for entity in e["entities"]}
    assert used <= AGREED_ENTITIES
    counts = {intent: sum(e["intent"] == intent for e in examples) for intent in AGREED_INTENTS}
    assert min(counts.values()) >= 40, counts


def test_no_training_example_has_two_intents():
    seen = {}
    for example in _training_examples():
        key = normalize_text(example["text"]).strip()
        assert seen.setdefault(key, example["intent"]) == example["intent"], key


def test_identity_numbers_in_examples_have_valid_check_digits():
    paths = (sorted((REPO / "data/nlu").glob("*.yml"))
             + sorted((REPO / "tests/nlu_heldout").glob("heldout*.yml")))
    for path in paths:
        for example in _examples(path):
            for entity in example["entities"]:
                if entity["entity"] == "id_number" and not entity_values.canonical_reference(entity["text"]):
                    assert id_checksum_ok(entity["text"]), (path.name, entity["text"])


def test_heldout_set_is_large_and_separate_from_training():
    from eval_nlu import leaked_texts, read_service_items

    heldout_dir = REPO / "tests/nlu_heldout"
    heldout = [e for p in sorted(heldout_dir.glob("heldout*.yml")) for e in _examples(p)]
    items = [i for p in sorted(heldout_dir.glob("service_items*.yml"))
             for i in read_service_items(p)]
    assert len(heldout) >= 220 and len(items) >= 100
    assert {e["intent"] for e in heldout} == AGREED_INTENTS
    assert all(re.fullmatch(r"MX-\d{3}", code) for i in items for code in i["expected"])
    assert leaked_texts([e["text"] for e in heldout] + [i["text"] for i in items],
                        REPO / "data/nlu") == []
