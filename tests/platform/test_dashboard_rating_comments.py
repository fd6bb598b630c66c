"""The dashboard counts the ratings that came with the resident's words (and the 差评 among them),
as the duty lead and the admin read them from GET /api/v1/dashboard: kept true by the daily summary
as ratings arrive, by a rebuild from the records, and for ratings made before the upgrade that
added the counts (migration 0014). Town reviewers see only their own town's."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

import erma.db as erma_db
from erma.__main__ import main as erma_main
from erma.dashboard.models import DayCounts, StaleDay
from erma.followup.models import Rating
from erma.settings import ROOT, get_settings
from tests.platform.conftest import SERVICE, holder, reload_county_data

CB, NX = "513223114", "513223101"  # 赤不苏镇, 南新镇
OWN = "conv-1"  # the conversation open_case opens its cases from


def _finished_case(client, login, open_case, town: str, reviewer: str, item: str) -> str:
    no = open_case(hukou_town=town, hukou_village=None, service_code=item)["case_no"]
    r = client.post(f"/api/v1/cases/{no}/review", headers=login(reviewer), json={"decision": "approve"})
    assert r.status_code == 200, r.text
    agent = login(holder(no))
    for to, note in (("at_department", None), ("completed", "准予办理")):
        r = client.post(f"/api/v1/cases/{no}/transitions", json={"to": to, "note": note}, headers=agent)
        assert r.status_code == 200, r.text
    return no


def _rate(client, no: str, level, *, said: str | None = None, comment: str | None = None) -> None:
    body = {"conversation_id": OWN, "level": level}
    if said is not None:
        body["said"] = said
    if comment is not None:
        body["comment"] = comment
    r = client.post(f"/api/v1/cases/{no}/rating", json=body, headers=SERVICE)
    assert r.status_code == 200, r.text


def _board(client, login, username: str = "lead-1") -> dict:
    r = client.get("/api/v1/dashboard", headers=login(username))
    assert r.status_code == 200, r.text
    return r.json()


def _words(body: dict) -> tuple:
    """(totals, by_town with ratings, by_item with ratings) as (with words, 差评 with words) pairs."""
    rc = body["rating_comments"]
    pair = lambda f: (f["with_comment"], f["bad_with_comment"])  # noqa: E731
    return (pair(rc["totals"]),
            {code: pair(f) for code, f in rc["by_town"].items() if f["with_comment"]},
            {code: pair(f) for code, f in rc["by_item"].items() if f["with_comment"]})


def _from_records(db) -> tuple[int, int]:
    with db() as s:
        comments = [(level, comment) for level, comment in s.execute(select(Rating.level, Rating.comment))]
    words = [level for level, comment in comments if comment and comment.strip()]
    return len(words), sum(1 for level in words if level <= 2)


def _five_cases(client, login, open_case) -> dict[str, str]:
    return {
        "cb_001_a": _finished_case(client, login, open_case, "赤不苏镇", "reviewer-chibusu", "MX-001"),
        "cb_001_b": _finished_case(client, login, open_case, "赤不苏镇", "reviewer-chibusu", "MX-001"),
        "nx_005": _finished_case(client, login, open_case, "南新镇", "reviewer-nanxin", "MX-005"),
        "nx_001": _finished_case(client, login, open_case, "南新镇", "reviewer-nanxin", "MX-001"),
        "cb_005": _finished_case(client, login, open_case, "赤不苏镇", "reviewer-chibusu", "MX-005"),
    }


def test_ratings_with_and_without_words_are_counted_as_they_arrive(client, login, db, open_case):
    cases = _five_cases(client, login, open_case)
    assert _words(_board(client, login)) == ((0, 0), {}, {})  # the summary is computed, nothing rated yet

    _rate(client, cases["cb_001_a"], "非常满意", said="非常满意，代办员跑前跑后很负责")  # words
    _rate(client, cases["cb_001_b"], "满意", said="满意")  # the level alone
    body = _board(client, login)
    assert body["totals"]["ratings"]["count"] == 2
    assert _words(body) == ((1, 0), {CB: (1, 0)}, {"MX-001": (1, 0)})

    _rate(client, cases["nx_005"], 1, comment="等了一个月，打电话也没人接")  # 差评 with words
    _rate(client, cases["nx_001"], "不满意")  # 差评 without words
    _rate(client, cases["cb_005"], 3, comment="   ")  # blank: no words
    body = _board(client, login)
    ratings = body["totals"]["ratings"]
    assert ratings["count"] == 5 and ratings["bad"] == 2
    assert _words(body) == ((2, 1), {CB: (1, 0), NX: (1, 1)}, {"MX-001": (1, 0), "MX-005": (1, 1)})
    assert _words(body)[0] == _from_records(db)
    # Every town and item in view is listed, with zeros where nothing was said.
    assert set(body["rating_comments"]["by_town"]) == {t["town_code"] for t in body["by_town"]}
    assert set(body["rating_comments"]["by_item"]) == {i["service_code"] for i in body["by_item"]}
    assert "rating_comments" in body["definitions"]
    # The admin reads the same figures; a town reviewer only their own town's.
    assert _words(_board(client, login, "admin")) == _words(body)
    town = _board(client, login, "reviewer-chibusu")
    assert _words(town) == ((1, 0), {CB: (1, 0)}, {"MX-001": (1, 0)})
    assert set(town["rating_comments"]["by_town"]) == {CB}


def _summary_rows(db) -> list[tuple]:
    with db() as s:
        return [tuple(r) for r in s.execute(select(DayCounts.__table__).order_by(
            DayCounts.day, DayCounts.town_code, DayCounts.service_code, DayCounts.stage))]


def test_a_rebuild_from_the_records_counts_the_words_the_same(client, login, db, open_case, capsys):
    cases = _five_cases(client, login, open_case)
    _rate(client, cases["cb_001_a"], 5, said="5星，办得快")
    _rate(client, cases["nx_005"], "非常不满意", said="非常不满意，材料退回了两次")
    _rate(client, cases["nx_001"], 2, comment="窗口说法和网上不一样")
    _rate(client, cases["cb_001_b"], 4)
    _rate(client, cases["cb_005"], "不满意", said="不满意！")  # no words beyond the level
    before = _board(client, login)
    assert _words(before) == ((3, 2), {CB: (1, 0), NX: (2, 2)}, {"MX-001": (2, 1), "MX-005": (1, 1)})
    kept = _summary_rows(db)
    with db() as s:
        assert s.execute(select(func.sum(DayCounts.rating_comments), func.sum(DayCounts.poor_rating_comments))
                         ).one() == (3, 2)
    erma_main(["dashboard-rebuild"])
    assert "统计看板每日汇总已重算完毕" in capsys.readouterr().out
    assert _summary_rows(db) == kept
    assert _words(_board(client, login)) == _words(before)


def _alembic() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", get_settings().database_url)
    return cfg


def test_the_upgrade_counts_the_words_of_ratings_made_before_it(client, login, db, open_case):
    """Ratings stored before migration 0014: their days are recomputed on the first look after it."""
    cases = _five_cases(client, login, open_case)
    _rate(client, cases["cb_001_a"], 4, said="满意，就是排队久了点")
    _rate(client, cases["nx_005"], 1, said="非常不满意，跑了三趟")
    _rate(client, cases["cb_001_b"], 5)
    assert _words(_board(client, login))[0] == (2, 1)  # the summary rows exist, no day is stale
    cfg = _alembic()
    parent = ScriptDirectory.from_config(cfg).get_revision("0014").down_revision
    erma_db.get_engine().dispose()
    command.downgrade(cfg, parent)
    command.upgrade(cfg, "head")
    reload_county_data()
    erma_db.get_engine().dispose()
    with db() as s:
        assert s.scalar(select(func.sum(DayCounts.rating_comments))) == 0  # the new columns start at 0
        assert s.scalar(select(func.count()).select_from(StaleDay)) >= 1  # … and their days are marked
    body = _board(client, login)
    assert _words(body) == ((2, 1), {CB: (1, 0), NX: (1, 1)}, {"MX-001": (1, 0), "MX-005": (1, 1)})
    assert body["totals"]["ratings"]["count"] == 3


def test_the_dashboard_page_shows_the_ratings_with_words(client):
    script = client.get("/staff/static/dashboard.js")
    assert script.status_code == 200
    for label in ("带文字的评价", "差评带文字", "rating_comments", "with_comment", "bad_with_comment"):
        assert label in script.text, label
