"""The read-only Open311 GeoReport v2 façade: the spec's field names, its error shape, the stage →
open/closed mapping, and no personal data in a request."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.platform.conftest import SERVICE, VALID_ID, VALID_PHONE

# Field names as GeoReport v2 spells them (wiki.open311.org/GeoReport_v2): required, then the rest.
SERVICE_REQUIRED = {"service_code", "service_name", "type"}
SERVICE_FIELDS = SERVICE_REQUIRED | {"description", "metadata", "keywords", "group"}
DEFINITION_REQUIRED = {"service_code", "attributes"}
ATTRIBUTE_REQUIRED = {"variable", "code", "datatype", "required"}
ATTRIBUTE_FIELDS = ATTRIBUTE_REQUIRED | {"datatype_description", "order", "description", "values"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
REQUEST_REQUIRED = {"service_request_id", "status", "service_code", "requested_datetime"}
REQUEST_FIELDS = REQUEST_REQUIRED | {"status_notes", "service_name", "description", "agency_responsible",
                                     "service_notice", "updated_datetime", "expected_datetime", "address",
                                     "address_id", "zipcode", "lat", "long", "media_url"}
CHINA = dt.timedelta(hours=8)


def test_service_list_has_every_item_in_the_specs_fields(client):
    services = client.get("/open311/v2/services.json")
    assert services.status_code == 200 and services.headers["content-type"].startswith("application/json")
    listed = services.json()
    catalog = client.get("/api/v1/services").json()["items"]
    assert [s["service_code"] for s in listed] == [i["code"] for i in catalog]
    for s in listed:
        assert SERVICE_REQUIRED <= set(s) <= SERVICE_FIELDS
        assert s["type"] == "realtime" and s["metadata"] is False
        assert isinstance(s["keywords"], str) and isinstance(s["group"], str) and s["description"]
    low = next(s for s in listed if s["service_code"] == "MX-001")
    assert "低保" in low["keywords"].split(", ") and low["group"] == "社会救助"


def test_service_definition_lists_the_materials_in_the_guides_words(client):
    r = client.get("/open311/v2/services/MX-013.json")
    assert r.status_code == 200
    definition = r.json()
    assert set(definition) == DEFINITION_REQUIRED and definition["service_code"] == "MX-013"
    attributes = definition["attributes"]
    item = client.get("/api/v1/services/MX-013").json()
    assert len(attributes) == len(item["materials"])
    answer_lines = client.get("/api/v1/services/MX-013/answer").json()["text"].splitlines()
    for order, (attribute, material) in enumerate(zip(attributes, item["materials"], strict=True), start=1):
        assert ATTRIBUTE_REQUIRED <= set(attribute) <= ATTRIBUTE_FIELDS
        assert attribute["variable"] is False and attribute["order"] == order
        assert attribute["datatype"] in DATATYPES and attribute["required"] is material["required"]
        assert attribute["description"] in answer_lines  # the same words as the chat and the page
        if attribute["datatype"] == "singlevaluelist":
            assert attribute["values"] and all(set(v) == {"key", "name"} for v in attribute["values"])
    deferrable = [a for a, m in zip(attributes, item["materials"], strict=True) if m["deferrable"]]
    assert deferrable and all({"key": "deferred", "name": "容缺后补"} in a["values"] for a in deferrable)
    assert len({a["code"] for a in attributes}) == len(attributes)


@pytest.mark.parametrize("path", ["/open311/v2/services/MX-999.json", "/open311/v2/requests/EM-20000101-9999.json"])
def test_unknown_code_or_case_is_an_open311_error_array(client, path):
    r = client.get(path)
    assert r.status_code == 404
    errors = r.json()
    assert isinstance(errors, list) and len(errors) == 1
    assert errors[0]["code"] == 404 and errors[0]["description"]


def test_a_request_in_the_specs_fields_without_personal_data(client, open_case):
    case = open_case(service_code="MX-013", applicant_name="杨子妹", hukou_town="赤不苏镇", hukou_village="雅都村",
                     current_location="成都")
    r = client.get(f"/open311/v2/requests/{case['case_no'].lower()}.json")
    assert r.status_code == 200
    requests = r.json()
    assert isinstance(requests, list) and len(requests) == 1
    request = requests[0]
    assert REQUEST_REQUIRED <= set(request) <= REQUEST_FIELDS
    assert request["service_request_id"] == case["case_no"] and request["service_code"] == "MX-013"
    assert request["service_name"] == client.get("/api/v1/services/MX-013").json()["name"]
    assert request["agency_responsible"] == client.get("/api/v1/services/MX-013").json()["department"]
    assert request["address"] == "赤不苏镇"
    assert request["status"] == "open" and request["status_notes"] == case["stage_text"]
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        when = dt.datetime.fromisoformat(request[field])
        assert when.utcoffset() == CHINA, field
    assert request["expected_datetime"].startswith(case["expected_completion_date"])
    said = json.dumps(requests, ensure_ascii=False)
    for personal in ("杨子妹", "杨*妹", VALID_ID, VALID_ID[-6:], case.get("id_number") or VALID_ID,
                     VALID_PHONE, case.get("phone") or VALID_PHONE, "雅都", "成都"):
        assert personal not in said, personal


def test_stage_maps_to_open_and_closed(client, open_case):
    case = open_case()
    no = case["case_no"]
    before = client.get(f"/open311/v2/requests/{no}.json").json()[0]
    assert before["status"] == "open"
    moved = client.post(f"/api/v1/cases/{no}/transitions", json={"to": "withdrawn", "note": "群众不办了"},
                        headers=SERVICE)
    assert moved.status_code == 200, moved.text
    after = client.get(f"/open311/v2/requests/{no}.json").json()[0]
    assert after["status"] == "closed" and after["status_notes"] == "已撤回"
    assert after["updated_datetime"] >= before["updated_datetime"]
