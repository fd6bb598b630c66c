"""What a resident's message means (erma/understanding): the item first, then the behaviour.

These sentences are written for the tests (the issue's own examples among them); the blind
evaluation of the running assistant is scripts/eval_blind.py on tests/nlu_blind/.
"""
from __future__ import annotations

import numpy as np
import pytest

from erma.understanding import cues
from erma.understanding.corpus import build_corpus
from erma.understanding.model import Models, decision_values, models_for
from erma.understanding.service import _models, understand
from tests.platform.conftest import SERVICE


@pytest.fixture
def read(db):
    def reading(text: str):
        with db() as session:
            return understand(session, text)

    return reading


@pytest.mark.parametrize("text", ["办低保要带些啥子材料", "低保 材料", "dibao咋办", "屋头困难得很 想吃低保"])
def test_request_words_do_not_choose_the_item_and_pinyin_is_read(read, text):
    got = read(text)
    assert (got.behaviour, got.item) == ("requirements", "MX-001"), got


@pytest.mark.parametrize("text, fact", [("低保要拍照片不", "photo"), ("低保必须本人回来办不", "in_person"),
                                        ("低保好久能批下来", "time")])
def test_a_question_about_a_service_is_about_that_service_and_names_the_detail_asked(read, text, fact):
    got = read(text)
    # "好久能批" with no case handed in asks how long the service takes: not a status question.
    assert (got.behaviour, got.item, got.fact) == ("requirements", "MX-001", fact), got


def test_an_eligibility_question_without_the_services_name(read):
    got = read("我老汉儿今年满八十了，每个月那个老年人的钱他能领不")
    assert (got.behaviour, got.item, got.fact) == ("requirements", "MX-013", "eligibility"), got


@pytest.mark.parametrize("text", ["EM-20261103-0042 办到哪了", "我上个月交的低保申请咋个还没消息",
                                  "我妈的高龄津贴批下来没有"])
def test_progress_cues_or_a_case_number_make_a_status_question(read, text):
    assert read(text).behaviour == "status"


def test_starting_an_application_names_the_item(read):
    got = read("帮我妈申请高龄津贴，她今年八十五了")
    assert (got.behaviour, got.item, got.name) == ("apply", "MX-013", "高龄津贴（高龄老人生活补贴）申请")


@pytest.mark.parametrize("text", ["办残疾证要啥子", "我要申请低保要带什么", "我想办医保要啥手续"])
def test_a_request_that_asks_what_or_how_is_a_question_not_an_application(read, text):
    # Starting an application would run it on the item the conversation last named, not on this one.
    assert read(text).behaviour == "requirements", read(text)


@pytest.mark.parametrize("text", ["我要办低保，材料都带齐了", "能不能帮我办一下低保", "给我妈报个高龄津贴"])
def test_a_request_without_a_question_stays_an_application(read, text):
    assert read(text).behaviour == "apply", read(text)


@pytest.mark.parametrize("text", ["我想办护照出国打工", "帮我查一下明天去成都的火车票", "信用卡额度咋个提高",
                                  "帮我查下快递到哪了"])
def test_something_we_do_not_do_gets_no_item(read, text):
    got = read(text)
    assert got.behaviour == "out_of_scope" and got.item is None and not got.choices, got


@pytest.mark.parametrize("text", ["你好", "谢谢", "好的", "我要办", "我有身份证和户口本", "只有户口本", "〔身份证#K7Q2M〕", "身份证号是〔身份证#K7Q2M〕",
                                  "电话〔手机#3HX9A〕"])
def test_conversation_words_are_left_to_the_dialogue(read, text):
    got = read(text)
    assert got.behaviour in ("other", "apply") and got.item is None, got


def test_case_references_as_residents_type_them():
    assert cues.has_case_reference("em20261103 0042")
    assert cues.has_case_reference("受理号是 0042")
    assert not cues.has_case_reference("我的电话是 〔手机#ab12c〕")
    assert not cues.has_progress_cue("低保好久能批下来")
    assert cues.has_progress_cue("低保批下来没得")


def test_the_api_answers_the_assistant_only(client):
    assert client.post("/api/v1/understand", json={"text": "低保要带啥"}).status_code == 401
    r = client.post("/api/v1/understand", json={"text": "低保要带啥"}, headers=SERVICE)
    assert r.status_code == 200
    assert r.json()["behaviour"] == "requirements" and r.json()["item"] == "MX-001"


def test_trained_models_are_kept_and_reloaded_from_disk(db, tmp_path):
    from erma.catalog.service import list_items

    import erma.understanding.model as model

    with db() as session:
        corpus = build_corpus(list_items(session))
    model._loaded.clear()
    first = models_for(corpus, cache_dir=tmp_path)
    saved = list(tmp_path.glob("models-*.joblib"))
    assert len(saved) == 1
    model._loaded.clear()
    again = models_for(corpus, cache_dir=tmp_path)
    assert again is not first and isinstance(again, Models)
    assert again.rank_items("低保要带啥").labels[0] == first.rank_items("低保要带啥").labels[0] == "MX-001"


def test_a_name_the_county_lists_under_two_items_said_alone_is_a_choice(read):
    # catalog/search_lexicon.yaml lists 残疾证 under 新办 (MX-019) and 补办 (MX-020).
    alone = read("残疾证")
    assert alone.item is None and {c.code for c in alone.choices} == {"MX-019", "MX-020"}
    assert read("残疾证搞丢了").item == "MX-020"
    assert read("低保").item == "MX-001"  # a name of one item only is that item


@pytest.mark.parametrize("text", ["办错了", "不是这个", "弄错了 不是这一项"])
def test_saying_the_item_is_wrong(read, text):
    got = read(text)
    assert got.wrong_item and got.item is None and got.behaviour == "other", got


@pytest.mark.parametrize("text", ["等一下，照片要几张？", "要本人去不"])
def test_a_detail_asked_without_naming_anything_is_left_to_the_conversation(read, text):
    # At the application's summary or after an answer, it is about that item: never "we do not do this".
    got = read(text)
    assert got.behaviour == "other" and got.fact, got


@pytest.mark.parametrize("text", ["继续刚才的申请", "接着填", "刚才没填完的接着弄", "我回来了，接着办"])
def test_coming_back_to_an_unfinished_application_is_applying_without_a_new_item(read, text):
    # The dialogue resumes the application it kept ("不办了" keeps it a day): never out of scope.
    got = read(text)
    assert got.behaviour == "apply" and got.item is None and not got.choices, got


def test_coming_back_does_not_hide_a_named_item(read):
    assert read("继续申请低保").item == "MX-001"


@pytest.mark.parametrize("text", ["我妈满80了，高龄津贴要带啥子", "dibao咋办", "我的申请办到哪了", "你好", "",
                                  "身份证号是〔身份证#K7Q2M〕"])
def test_the_quick_reading_gives_the_models_own_scores(db, text):
    """decision_values skips scikit-learn's per-call checks: the scores stay exactly the pipeline's."""
    with db() as session:
        models, _ = _models(session)
    for pipeline in (models.item, models.behaviour):
        assert np.array_equal(decision_values(pipeline, text), pipeline.decision_function([text])[0])
