"""Browser tests: headless Debian Chromium driven by Playwright against a running platform.

`scripts/test.sh` starts the platform (with its outbox worker), the action server and Rasa, and sets
ERMA_PLATFORM_URL; screenshots go to test-artifacts/screenshots/ (kept as CI artifacts).
"""
from __future__ import annotations

import os
import pathlib

import httpx
import yaml
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

PLATFORM = os.environ.get("ERMA_PLATFORM_URL", "http://127.0.0.1:8000")
SERVICE = {"Authorization": f"Bearer {os.environ.get('ERMA_SERVICE_TOKEN', 'dev-service-token')}"}
DEMO_PASSWORD = "erma-demo-2026"
SHOTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
# Without the background-networking flags Chromium keeps dialing Google on this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser: Browser, viewport: dict = PHONE, timezone_id: str = "Asia/Shanghai") -> Page:
    """`timezone_id`: the device's zone (pages must show China time whatever it is)."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id=timezone_id,
                                  device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


@pytest.fixture
def phone_page(browser: Browser) -> Page:
    page = new_page(browser, PHONE)
    yield page
    page.context.close()


VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture(params=list(VIEWPORTS))
def console_page(request, browser: Browser) -> Page:
    """A staff page at each width the consoles are built for (a 360-px phone, a desktop), named by
    `page.viewport_name`. A script error on the page (`page.script_errors`) fails the test."""
    page = new_page(browser, VIEWPORTS[request.param])
    page.viewport_name = request.param
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    yield page
    page.context.close()
    assert page.script_errors == []


def screenshot(page: Page, name: str) -> pathlib.Path:
    """Saves a full-page PNG under test-artifacts/screenshots/ and returns its path."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def staff_token(username: str) -> str:
    r = httpx.post(f"{PLATFORM}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD},
                   timeout=10)
    r.raise_for_status()
    return r.json()["access_token"]


def required_materials(service_code: str, *, but: tuple[str, ...] = ()) -> list[str]:
    """The item's required materials from the catalog (less `but`): a case opened with them passes the
    platform's material gates (review approval, department stage, completion)."""
    path = pathlib.Path(__file__).resolve().parents[2] / "catalog" / "services.yaml"
    item = next(i for i in yaml.safe_load(path.read_text(encoding="utf-8"))["items"] if i["code"] == service_code)
    return [m["name"] for m in item["materials"] if m["required"] and m["name"] not in but]


def holder_username(case_view: dict) -> str:
    """The demo agent holding the case (only they move it on), found by the credential number the case names."""
    path = pathlib.Path(__file__).resolve().parents[2] / "catalog" / "demo_staff.yaml"
    staff = yaml.safe_load(path.read_text(encoding="utf-8"))["staff"]
    return next(s["username"] for s in staff if s.get("credential_no") == case_view["agent"]["credential_no"])


def api(method: str, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
    """A platform call the test relies on (the service token unless `headers` say otherwise); fails on 4xx/5xx."""
    r = httpx.request(method, f"{PLATFORM}{path}", headers=headers or SERVICE, timeout=30, **kwargs)
    assert r.status_code < 400, r.text
    return r


def bearer(username: str) -> dict:
    return {"Authorization": f"Bearer {staff_token(username)}"}
