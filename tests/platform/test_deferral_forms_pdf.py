"""The printable 一表一书: 容缺快办审核表 + 诚信背书单 as one A4 PDF in Chinese, read back with poppler
and OCR the way a printed sheet would be read; who may download it; no font → a clear 503.

PDFs and page PNGs are kept under test-artifacts/pdf/ so a person can look at them."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path

import pytest

from erma import pii
from erma.deferral.forms_pdf import FormFacts, cn_date, render_forms_pdf
from erma.settings import get_settings

from tests.platform.conftest import SERVICE, VALID_ID, VALID_PHONE

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pdf"
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴
AGENT = "agent-chibusu-1"
AGENT_CREDENTIAL = "茂代字2026-019"  # catalog/demo_staff.yaml


def _deferral_case(client, login, open_case) -> tuple[str, dict]:
    no = open_case(service_code="MX-013")["case_no"]
    r = client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login(AGENT))
    assert r.status_code == 201, r.text
    return no, r.json()


def _run(*args: str) -> str:
    # One OpenMP thread: tesseract's thread pool only spins against pytest on a 2-core machine.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60, env=env).stdout


def _save(pdf: bytes, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    return path


def _text(path: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return _run("pdftotext", *pages, str(path), "-")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _page_png(path: Path, page: int) -> Path:
    prefix = path.with_suffix("")
    _run("pdftoppm", "-r", "150", "-png", "-f", str(page), "-l", str(page), "-singlefile", str(path),
         f"{prefix}-page{page}")
    return Path(f"{prefix}-page{page}.png")


def _url(no: str) -> str:
    return f"/api/v1/cases/{no}/deferral/forms.pdf"


def test_agent_downloads_both_sheets_as_a_two_page_a4_pdf_in_chinese(client, login, open_case):
    no, deferral = _deferral_case(client, login, open_case)
    r = client.get(_url(no), headers=login(AGENT))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    disposition = r.headers["content-disposition"]
    assert f'filename="yibiaoyishu-{no}.pdf"' in disposition and "filename*=UTF-8''" in disposition
    assert disposition.isascii()
    path = _save(r.content, "yibiaoyishu-agent")

    info = _run("pdfinfo", str(path))
    assert re.search(r"^Pages:\s+2$", info, re.M)
    assert "(A4)" in info
    # Every font is embedded, so the sheet prints the same on the township's printer.
    fonts = _run("pdffonts", str(path)).splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts)

    form, pledge = _text(path, 1), _text(path, 2)
    assert "容缺快办审核表" in form and "诚信背书单" in pledge
    masked_id = pii.mask_id_number(VALID_ID)
    for page in (form, pledge):
        flat = _squeezed(page)
        for expected in (no, deferral["form_no"], deferral["pledge_no"], masked_id, "杨*妹", DEFERRABLE,
                         cn_date(dt.date.fromisoformat(deferral["deadline"])), AGENT_CREDENTIAL, "赤不苏镇", "盖章处"):
            assert _squeezed(expected) in flat, expected
        # Masked as the county requires: never the full ID number, the full name or the phone.
        for secret in (VALID_ID, VALID_PHONE, pii.mask_phone(VALID_PHONE), "杨子妹"):
            assert secret not in flat
    assert "MX-013" in form and "高龄津贴" in form
    assert "收回" in _squeezed(pledge) and "自愿" in pledge

    # The case number is really drawn (not only in the text layer): render page 1 and read it back.
    png = _page_png(path, 1)
    ocr = _squeezed(_run("tesseract", str(png), "-"))
    assert no in ocr and deferral["form_no"] in ocr, ocr


def test_duty_lead_and_admin_may_print_it_too(client, login, open_case):
    no, _ = _deferral_case(client, login, open_case)
    for user in ("lead-1", "admin"):
        r = client.get(_url(no), headers=login(user))
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), (user, r.text[:200])


def test_another_towns_staff_get_the_same_404_as_for_an_unknown_case(client, login, open_case):
    no, _ = _deferral_case(client, login, open_case)
    unknown = client.get(_url("EM-20000101-9999"), headers=login("agent-nanxin-1"))
    assert unknown.status_code == 404
    for user in ("agent-nanxin-1", "reviewer-nanxin"):
        r = client.get(_url(no), headers=login(user))
        assert r.status_code == 404 and r.json()["error"]["code"] == unknown.json()["error"]["code"] == "case_not_found"
        assert no in r.json()["error"]["message"]


def test_the_towns_reviewer_and_the_service_token_may_not_print_it(client, login, open_case):
    no, _ = _deferral_case(client, login, open_case)
    for headers in (login("reviewer-chibusu"), SERVICE):
        r = client.get(_url(no), headers=headers)
        assert r.status_code == 403 and "一表一书" in r.json()["error"]["message"]


def test_a_case_without_deferral_has_no_forms_to_print(client, login, open_case):
    no = open_case(service_code="MX-013")["case_no"]
    r = client.get(_url(no), headers=login(AGENT))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "deferral_not_found" and "容缺" in r.json()["error"]["message"]


@pytest.mark.parametrize("font", ["missing", "latin_only"])
def test_without_a_chinese_font_a_clear_503_not_a_pdf_of_empty_boxes(client, login, open_case, monkeypatch,
                                                                     tmp_path, font):
    no, _ = _deferral_case(client, login, open_case)
    if font == "missing":
        configured = tmp_path / "no-such-font.ttc"
    else:  # a real TrueType font without Chinese glyphs (shipped with reportlab)
        import reportlab

        configured = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
        assert configured.is_file()
    monkeypatch.setattr(get_settings(), "erma_pdf_font", str(configured))
    monkeypatch.setenv("PATH", str(tmp_path))  # and no fontconfig to fall back on
    r = client.get(_url(no), headers=login(AGENT))
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == "pdf_font_missing" and "中文字体" in error["message"]


def test_font_found_through_fontconfig_when_the_configured_file_is_absent(client, login, open_case, monkeypatch,
                                                                          tmp_path):
    no, _ = _deferral_case(client, login, open_case)
    monkeypatch.setattr(get_settings(), "erma_pdf_font", str(tmp_path / "moved-away.ttc"))
    r = client.get(_url(no), headers=login(AGENT))
    assert r.status_code == 200
    assert "容缺快办审核表" in _text(_save(r.content, "yibiaoyishu-fontconfig"), 1)


def test_six_long_missing_materials_stay_on_one_readable_page_per_sheet():
    """Layout: six materials of 20 characters each neither overflow the page nor push a sheet onto a
    third page, and the text is not shrunk below a readable size."""
    missing = [f"第{'一二三四五六'[i]}项后补材料：户口簿本人页的复印件一份" for i in range(6)]
    assert all(len(m) == 20 for m in missing)
    facts = FormFacts(form_no="RQ-2026-0042", pledge_no="BS-2026-0042", case_no="EM-20260302-0042",
                      item_code="MX-013", item_name="高龄津贴（高龄老人生活补贴）申请",
                      applicant_masked="杨*妹", id_number_masked=pii.mask_id_number(VALID_ID),
                      town_name="赤不苏镇", village="雅都村", missing=missing, deadline=dt.date(2026, 3, 16),
                      intake_date=dt.date(2026, 3, 2), agent_name="余三郎", agent_credential=AGENT_CREDENTIAL)
    path = _save(render_forms_pdf(facts), "yibiaoyishu-six-materials")
    _page_png(path, 1)
    _page_png(path, 2)
    assert re.search(r"^Pages:\s+2$", _run("pdfinfo", str(path)), re.M)
    for page in (1, 2):
        text = _squeezed(_text(path, page))
        assert all(m in text for m in missing)
        assert [text.index(m) for m in missing] == sorted(text.index(m) for m in missing)
    # Every word inside the printable area (A4 = 595 x 842 pt, at least 10 mm from each edge)…
    bbox = _run("pdftotext", "-bbox", str(path), "-")
    words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in
             re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', bbox)]
    assert words
    edge = 28.3
    for x0, y0, x1, y1, word in words:
        assert edge <= x0 and x1 <= 595.3 - edge and edge <= y0 and y1 <= 841.9 - edge, word
    # …and the materials are drawn at body size (about 11.5 pt), not shrunk to fit.
    heights = [y1 - y0 for _, y0, _, y1, w in words if "户口簿本人页" in w]
    assert heights and min(heights) >= 11, heights
