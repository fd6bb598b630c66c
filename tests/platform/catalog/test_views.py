"""The catalog HTTP API (docs/platform-api.md §Catalog) on a temporary SQLite database."""
from __future__ import annotations


def test_lists_every_item(client):
    body = client.get("/api/v1/services").json()
    assert len(body["items"]) == 109
    first = body["items"][0]
    assert first["code"] == "MX-001" and first["name"] and first["category"] == "社会救助"
    assert sum(i["rongque_listed"] for i in body["items"]) == 22


def test_free_text_search_returns_ranked_items_with_scores(client):
    body = client.get("/api/v1/services", params={"q": "我老汉儿满80了，高龄补贴咋个领", "limit": 3}).json()
    items = body["items"]
    assert items[0]["code"] == "MX-013"
    assert set(items[0]) == {"code", "name", "category", "score"}
    assert len(items) <= 3
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    assert all(0 < i["score"] <= 1 for i in items)


def test_search_for_nonsense_is_an_empty_list(client):
    body = client.get("/api/v1/services", params={"q": "今天天气怎么样"}).json()
    assert body == {"items": [], "ambiguous": False, "choices": []}


def test_search_says_whether_the_item_is_settled(client):
    body = client.get("/api/v1/services", params={"q": "我老汉儿满80了，高龄补贴咋个领"}).json()
    assert body["ambiguous"] is False and body["choices"] == [] and body["items"][0]["code"] == "MX-013"


def test_dibao_is_settled_by_its_everyday_name(client):
    for q in ("低保", "低保要带啥"):
        body = client.get("/api/v1/services", params={"q": q}).json()
        assert body["ambiguous"] is False and body["choices"] == [], q
        assert body["items"][0]["code"] == "MX-001", q


def test_disability_card_alone_offers_the_disability_card_items(client):
    body = client.get("/api/v1/services", params={"q": "残疾证", "limit": 1}).json()
    assert body["ambiguous"] is True
    assert [c["code"] for c in body["choices"]] == ["MX-019", "MX-020"]
    for choice in body["choices"]:
        assert set(choice) == {"code", "name", "category", "score"} and "残疾人证" in choice["name"]
    assert len(body["items"]) == 1  # the limit bounds items, not the choices


def test_lost_disability_card_is_the_replacement_item(client):
    body = client.get("/api/v1/services", params={"q": "残疾证丢了"}).json()
    assert body["ambiguous"] is False and body["choices"] == []
    assert body["items"][0]["code"] == "MX-020"


def test_item_detail_follows_the_contract(client):
    item = client.get("/api/v1/services/MX-013").json()
    for key in ("code", "name", "category", "department", "promised_working_days", "time_limit_unit",
                "agent_handled", "agent_mode", "in_person_required", "rongque_listed", "phrasings", "guide",
                "materials"):
        assert key in item
    assert item["rongque_listed"] is True and item["agent_handled"] is True
    material = item["materials"][0]
    assert set(material) >= {"name", "form", "count", "deferrable", "required", "note"}
    assert material["form"] in ("原件", "复印件", "原件及复印件")
    assert client.get("/api/v1/services/mx-013").json()["code"] == "MX-013"


def test_unknown_item_is_a_404_with_a_chinese_message(client):
    r = client.get("/api/v1/services/MX-200")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "service_not_found", "field": "code",
                                  "message": "没有找到编号为 MX-200 的办事事项，请核对编号。"}}
    assert client.post("/api/v1/services/MX-200/checklist", json={"text": "身份证"}).status_code == 404


def test_checklist_from_free_text(client):
    body = client.post("/api/v1/services/MX-017/checklist", json={"text": "身份证户口本都有，莫得残疾证"}).json()
    assert body["have"] == ["申请人居民身份证", "户口簿"]
    missing = [m["name"] for m in body["missing"]]
    assert "第二代残疾人证" in missing and "户口簿" not in missing
    assert all(m["required"] for m in body["missing"])


def test_checklist_from_named_materials(client):
    body = client.post("/api/v1/services/MX-001/checklist", json={"have": ["申请人居民身份证"]}).json()
    assert body["have"] == ["申请人居民身份证"]
    assert "户口簿" in [m["name"] for m in body["missing"]]
    assert "委托代办书（代办时）" in [m["name"] for m in body["conditional"]]


def test_checklist_without_anything_said_asks_again(client):
    r = client.post("/api/v1/services/MX-001/checklist", json={})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "checklist_empty"
