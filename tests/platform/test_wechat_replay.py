"""A signed WeChat callback cannot be replayed: stale timestamps and reused nonces are refused, the
signature parameters never reach a log, and odd signature text is a refusal, not a crash.

Fixtures and helpers come from test_wechat.py (fake WeChat API, fake Rasa, the real application).
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from erma.channels.wechat import replay
from erma.channels.wechat.crypto import MessageCrypto, msg_signature
from erma.channels.wechat.models import WechatNonce
from erma.channels.wechat.signature import signature
from erma.db import utcnow
from erma.settings import get_settings
from tests.platform.test_wechat import (ACCOUNT, APP_ID, TOKEN, fake_rasa, fake_wechat,  # noqa: F401
                                        post, signed, text_xml, wechat_conversation)

ROOT = Path(__file__).resolve().parents[2]


def test_a_validly_signed_request_from_2015_is_refused(client, db, fake_rasa, fake_wechat):  # noqa: F811
    old = signed(timestamp="1420070400")  # 2015-01-01, correctly signed with the real token
    assert post(client, text_xml("你好"), params=old).status_code == 403
    assert client.get("/channels/wechat", params={**signed(timestamp="1420070400"), "echostr": "x"}).status_code == 403
    ahead = signed(timestamp=str(int(time.time()) + 3600))  # an hour ahead
    assert post(client, text_xml("你好"), params=ahead).status_code == 403
    assert fake_rasa.received == [] and wechat_conversation(db) is None
    # Within the window (a clock a minute off) is fine.
    assert post(client, text_xml("你好"), params=signed(timestamp=str(int(time.time()) - 60))).status_code == 200


def test_a_captured_triple_replayed_with_another_body_and_openid_is_refused(client, db, fake_rasa,  # noqa: F811
                                                                            fake_wechat):  # noqa: F811
    captured = signed()
    assert post(client, text_xml("办残疾证要带什么"), params=captured).status_code == 200
    r = post(client, text_xml("查一下我的办件", openid="o-attacker-openid"), params=captured)
    assert r.status_code == 403
    assert wechat_conversation(db, "o-attacker-openid") is None
    assert fake_rasa.messages() == ["办残疾证要带什么"]
    # The GET check is protected the same way.
    triple = signed()
    assert client.get("/channels/wechat", params={**triple, "echostr": "e1"}).text == "e1"
    assert client.get("/channels/wechat", params={**triple, "echostr": "e1"}).status_code == 403


def test_safe_mode_msg_signature_covers_the_encrypted_message(client, db, fake_rasa, fake_wechat,  # noqa: F811
                                                              monkeypatch):
    aes_key = "Erma2026mxSafeModeKeyForTestsOnly0123456789"
    monkeypatch.setattr(get_settings(), "wechat_encoding_aes_key", aes_key)
    crypto = MessageCrypto(TOKEN, aes_key, APP_ID)
    genuine = crypto.encrypt(text_xml("你好"))
    swapped = crypto.encrypt(text_xml("查别人的办件", openid="o-attacker-openid"))
    params = signed()
    params.update(encrypt_type="aes", msg_signature=msg_signature(TOKEN, params["timestamp"], params["nonce"], genuine))
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{swapped}]]></Encrypt></xml>"
    assert post(client, body, params).status_code == 403
    assert fake_rasa.received == [] and wechat_conversation(db, "o-attacker-openid") is None


def test_non_ascii_or_huge_signature_text_is_refused_not_a_crash(client, fake_wechat):  # noqa: F811
    for value in ("签名", "é" * 40, "\u0000"):
        params = {**signed(), "signature": value}
        assert client.get("/channels/wechat", params={**params, "echostr": "x"}).status_code == 403
        assert post(client, text_xml("你好"), params=params).status_code == 403
    r = client.get("/channels/wechat", params={**signed(), "signature": "a" * 5000})
    assert r.status_code == 422 and r.json()["error"]["message"] == "“signature”太长了，最多 128 个字"


def test_old_nonces_are_purged(db):
    now = utcnow()
    with db() as session:
        assert replay.first_use(session, "n-old", now - dt.timedelta(minutes=30))
        assert not replay.first_use(session, "n-old", now - dt.timedelta(minutes=29))
        assert replay.first_use(session, "n-new", now)
        assert session.scalar(select(func.count()).select_from(WechatNonce)) == 1  # n-old is gone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_access_log_of_python_m_erma_serve_has_no_signature_parameters(migrated, tmp_path):
    port, log_path = _free_port(), tmp_path / "serve.log"
    env = {**os.environ, "DATABASE_URL": migrated, "PYTHONPATH": str(ROOT), "WECHAT_TOKEN": TOKEN}
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "erma", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        timestamp, nonce = str(int(time.time())), "n7318950021"
        sig = signature(TOKEN, timestamp, nonce)
        r = httpx.get(f"{base}/channels/wechat", params={"signature": sig, "timestamp": timestamp, "nonce": nonce,
                                                          "echostr": "echo8812"}, timeout=10)
        assert r.status_code == 200 and r.text == "echo8812"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    logged = log_path.read_text()
    assert "GET /channels/wechat?" in logged  # the access log line is there …
    for secret in (sig, timestamp, nonce, "echo8812"):
        assert secret not in logged  # … without what would let anyone replay the request
    assert "signature=***" in logged
