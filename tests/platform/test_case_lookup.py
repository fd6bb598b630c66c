"""Finding a resident's cases without the case number: POST /api/v1/cases/lookup with the last six
characters of the applicant's ID number and the phone's last four digits or the applicant's name."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select, update
from stdnum.cn import ric

import erma.db as erma_db
from erma.settings import ROOT, get_settings
from tests.platform.conftest import SERVICE, VALID_ID, VALID_PHONE, holder, reload_county_data

LOOKUP = "/api/v1/cases/lookup"
LAST6 = VALID_ID[-6:]  # "010011"
PHONE4 = VALID_PHONE[-4:]
NOT_FOUND = "没有查到办件。请核对身份证号后六位和手机号后四位（或申请人姓名）"


def _id_number(birth: str, seq: str = "001", check: str | None = None, area: str = "513223") -> str:
    """A valid ID number born on `birth` (YYYYMMDD); with `check`, the first birth year from 1950
    (same month and day) whose check character is `check`."""
    for year in range(int(birth[:4]), 2000) if check else [int(birth[:4])]:
        base = f"{area}{year}{birth[4:]}{seq}"
        digit = ric.calc_check_digit(base + "0")
        if check is None or digit == check:
            return base + digit
    raise AssertionError("no such number")


def _lookup(client, headers=None, **body):
    return client.post(LOOKUP, json={"id_last6": LAST6, **body}, headers=headers or {})


def _complete(client, login, no: str) -> None:
    r = client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    assert r.status_code == 200, r.text
    agent = login(holder(no))
    for to, note in (("at_department", None), ("completed", "准予")):
        r = client.post(f"/api/v1/cases/{no}/transitions", json={"to": to, "note": note}, headers=agent)
        assert r.status_code == 200, r.text


def test_found_by_id_tail_and_phone_tail(client, open_case):
    case = open_case()
    r = _lookup(client, phone_last4=PHONE4)
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    assert item["case_no"] == case["case_no"]
    assert item["stage_text"] == "户籍地镇审核中" and item["service_name"] == case["service_name"]
    assert item["holder"] == {"kind": "town", "name": "赤不苏镇审核人员"}


def test_found_by_id_tail_and_name_with_spaces_and_a_lower_case_x(client, open_case):
    number = _id_number("19500304", check="X")
    assert number.endswith("X")
    case = open_case(id_number=number, service_code="MX-005")
    r = client.post(LOOKUP, json={"id_last6": number[-6:].lower(), "applicant_name": " 杨 子妹 "})
    assert r.status_code == 200, r.text
    assert [i["case_no"] for i in r.json()["items"]] == [case["case_no"]]


def test_wrong_answers_look_exactly_like_an_unknown_person(client, open_case):
    open_case()
    wrong_phone = _lookup(client, phone_last4="9999")
    wrong_name = _lookup(client, applicant_name="王菊")
    unknown = client.post(LOOKUP, json={"id_last6": "990019", "phone_last4": PHONE4})
    assert wrong_phone.status_code == wrong_name.status_code == unknown.status_code == 404
    assert wrong_phone.json() == wrong_name.json() == unknown.json() == {
        "error": {"code": "case_not_found", "message": NOT_FOUND}}


def test_a_shared_id_tail_finds_only_the_matching_applicants_cases(client, open_case):
    other = _id_number("19620101", check=VALID_ID[-1])
    assert other[-6:] == LAST6 and other != VALID_ID
    mine = open_case()["case_no"]
    theirs = open_case(id_number=other, phone="13900001111", applicant_name="王菊", service_code="MX-005",
                       conversation_id="conv-2")["case_no"]
    assert [i["case_no"] for i in _lookup(client, phone_last4=PHONE4).json()["items"]] == [mine]
    assert [i["case_no"] for i in _lookup(client, applicant_name="王菊").json()["items"]] == [theirs]
    assert [i["case_no"] for i in _lookup(client, phone_last4="1111").json()["items"]] == [theirs]


def test_open_cases_come_first_then_the_newest(client, login, open_case):
    older_open = open_case(service_code="MX-005")["case_no"]
    newer_open = open_case(service_code="MX-002")["case_no"]
    finished = open_case(service_code="MX-001")["case_no"]  # the newest, but done
    _complete(client, login, finished)
    items = _lookup(client, phone_last4=PHONE4).json()["items"]
    assert [i["case_no"] for i in items] == [newer_open, older_open, finished]
    assert [i["finished_on"] is not None for i in items] == [False, False, True]


def test_at_most_five_cases(client, open_case):
    numbers = [open_case(service_code=f"MX-00{n}")["case_no"] for n in range(1, 7)]
    items = _lookup(client, phone_last4=PHONE4).json()["items"]
    assert [i["case_no"] for i in items] == numbers[::-1][:5]


def test_the_answer_masks_the_applicant_and_carries_no_id_number_or_phone(client, open_case):
    open_case()
    r = _lookup(client, phone_last4=PHONE4)
    assert r.status_code == 200 and r.json()["items"][0]["applicant_masked"] == "杨*妹"
    # Neither the numbers nor their masked forms ("513223********0011", "138****5678"), nor the name.
    for secret in (VALID_ID, VALID_PHONE, "513223", "138", "杨子妹", "id_number", "phone_masked"):
        assert secret not in r.text, secret


def test_repeated_failures_are_slowed_down(client, open_case):
    open_case()
    limit = get_settings().status_max_failures
    codes = [_lookup(client, phone_last4=f"{n:04d}").status_code for n in range(1, limit + 1)]
    assert codes == [404] * limit
    r = _lookup(client, phone_last4=PHONE4)  # the right answer, too late
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "查询失败次数太多" in r.json()["error"]["message"]


def test_guesses_at_one_person_from_many_conversations_lock_that_person_only(client, open_case):
    open_case()
    other = _id_number("19700505", seq="123")
    open_case(id_number=other, service_code="MX-005", conversation_id="conv-2")
    limit = get_settings().status_max_failures
    for n in range(limit):
        r = _lookup(client, SERVICE, phone_last4="0000", conversation_id=f"guesser-{n}")
        assert r.status_code == 404
    assert _lookup(client, SERVICE, phone_last4=PHONE4, conversation_id="honest").status_code == 429
    elsewhere = client.post(LOOKUP, json={"id_last6": other[-6:], "phone_last4": PHONE4,
                                          "conversation_id": "honest"}, headers=SERVICE)
    assert elsewhere.status_code == 200  # another person's lookups go on


def test_one_conversations_guesses_at_many_people_lock_that_conversation(client, open_case):
    open_case()
    limit = get_settings().status_max_failures
    for n in range(limit):
        r = client.post(LOOKUP, json={"id_last6": f"{n:05d}9", "phone_last4": PHONE4, "conversation_id": "guesser"},
                        headers=SERVICE)
        assert r.status_code == 404
    assert _lookup(client, SERVICE, phone_last4=PHONE4, conversation_id="guesser").status_code == 429
    assert _lookup(client, SERVICE, phone_last4=PHONE4, conversation_id="someone-else").status_code == 200


def test_a_conversation_that_found_a_case_asks_its_status_without_digits(client, open_case):
    no = open_case(conversation_id="conv-first-phone")["case_no"]
    status = f"/api/v1/cases/{no}/status"
    later = {"conversation_id": "conv-other-phone"}
    assert client.get(status, params=later, headers=SERVICE).status_code == 404  # not bound yet
    assert _lookup(client, phone_last4=PHONE4).status_code == 200  # the public edge binds nothing
    assert client.get(status, params=later, headers=SERVICE).status_code == 404
    r = _lookup(client, SERVICE, phone_last4=PHONE4, **later)
    assert r.status_code == 200 and [i["case_no"] for i in r.json()["items"]] == [no]
    s = client.get(status, params=later, headers=SERVICE)
    assert s.status_code == 200 and s.json()["case_no"] == no
    cases = client.get("/api/v1/conversations/conv-other-phone/cases", headers=SERVICE).json()["items"]
    assert [c["case_no"] for c in cases] == [no]


def test_the_assistant_must_name_its_conversation(client, open_case):
    open_case()
    r = _lookup(client, SERVICE, phone_last4=PHONE4)
    assert r.status_code == 422 and r.json()["error"]["code"] == "conversation_id_required"


@pytest.mark.parametrize("body,code,field", [
    ({"id_last6": LAST6}, "proof_missing", "phone_last4"),
    ({"id_last6": LAST6, "phone_last4": " ", "applicant_name": ""}, "proof_missing", "phone_last4"),
    ({"id_last6": "01001", "phone_last4": PHONE4}, "id_last6_invalid", "id_last6"),
    ({"id_last6": "X10011", "phone_last4": PHONE4}, "id_last6_invalid", "id_last6"),
    ({"id_last6": "0100111", "phone_last4": PHONE4}, "id_last6_invalid", "id_last6"),
    ({"id_last6": LAST6, "phone_last4": "56a8"}, "phone_last4_invalid", "phone_last4"),
    ({"phone_last4": PHONE4}, "field_missing", "id_last6"),
])
def test_malformed_requests_are_422_in_chinese(client, open_case, body, code, field):
    open_case()
    r = client.post(LOOKUP, json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])
    # A malformed request is no failed guess: the right answer still works at once, every time.
    for _ in range(get_settings().status_max_failures):
        client.post(LOOKUP, json=body)
    assert _lookup(client, phone_last4=PHONE4).status_code == 200


def test_too_long_fields_are_422(client):
    r = client.post(LOOKUP, json={"id_last6": LAST6, "applicant_name": "杨" * 65})
    assert r.status_code == 422 and r.json()["error"]["code"] == "field_too_long"


def _alembic() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", get_settings().database_url)
    return cfg


def test_the_migration_fills_in_cases_opened_before_it(client, open_case, db):
    from erma.cases.models import Case

    number = _id_number("19500304", check="X")
    first = open_case()["case_no"]
    second = open_case(id_number=number, service_code="MX-005")["case_no"]
    with db() as s:
        s.execute(update(Case).values(id_last6_hash=None))
        s.commit()
    assert _lookup(client, phone_last4=PHONE4).status_code == 404
    cfg = _alembic()
    parent = ScriptDirectory.from_config(cfg).get_revision("0013").down_revision
    erma_db.get_engine().dispose()
    command.downgrade(cfg, parent)
    command.upgrade(cfg, "head")
    reload_county_data()
    erma_db.get_engine().dispose()
    with db() as s:
        assert s.scalar(select(Case.id_last6_hash).where(Case.case_no == first)) is not None
    assert [i["case_no"] for i in _lookup(client, phone_last4=PHONE4).json()["items"]] == [first]
    found = client.post(LOOKUP, json={"id_last6": number[-6:], "applicant_name": "杨子妹"})
    assert [i["case_no"] for i in found.json()["items"]] == [second]
