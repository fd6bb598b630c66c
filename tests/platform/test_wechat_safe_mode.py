"""WeChat safe mode (AES), replies too long for one message, and claims left by a dead process.

Fixtures and helpers come from test_wechat.py: a local fake of WeChat's API server and a fake Rasa
webhook; the platform side is the real application.
"""
from __future__ import annotations

import datetime as dt
import time

import pytest
from defusedxml.ElementTree import fromstring
from sqlalchemy import select

from erma.channels.wechat.crypto import CryptoError, MessageCrypto, msg_signature
from erma.channels.wechat.messages import split_text
from erma.channels.wechat.models import WechatInbound
from erma.db import utcnow
from erma.settings import get_settings
from tests.platform.test_wechat import (ACCOUNT, APP_ID, OPENID, TOKEN, _msg_ids, fake_rasa, fake_wechat,  # noqa: F401
                                        post, signed, text_xml, transcript_of, wait_for, wechat_conversation)

AES_KEY = "Erma2026mxSafeModeKeyForTestsOnly0123456789"  # 43 characters, as WeChat issues them

# Tencent's published WXBizMsgCrypt sample (token spamtest): an independent known answer.
SAMPLE = {"token": "spamtest", "key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "app_id": "wx2c2769f8efd9abc2",
          "timestamp": "1409735669", "nonce": "1320562132", "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
          "encrypt": ("hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHF"
                      "VAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVt"
                      "icbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0Vxp"
                      "Ae+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCu"
                      "mEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=")}


def test_the_published_sample_message_decrypts_and_its_signature_checks():
    crypto = MessageCrypto(SAMPLE["token"], SAMPLE["key"], SAMPLE["app_id"])
    assert crypto.check(SAMPLE["msg_signature"], SAMPLE["timestamp"], SAMPLE["nonce"], SAMPLE["encrypt"])
    inner = {c.tag: c.text for c in fromstring(crypto.decrypt(SAMPLE["encrypt"]))}
    assert inner["Content"] == "abcdteT" and inner["MsgId"] == "6054768590064713728"
    assert not crypto.check(SAMPLE["msg_signature"], SAMPLE["timestamp"], "1320562133", SAMPLE["encrypt"])
    with pytest.raises(CryptoError):  # the same ciphertext is not accepted for another account
        MessageCrypto(SAMPLE["token"], SAMPLE["key"], "wx-someone-else").decrypt(SAMPLE["encrypt"])


@pytest.fixture
def safe_mode(monkeypatch, fake_wechat):  # noqa: F811
    monkeypatch.setattr(get_settings(), "wechat_encoding_aes_key", AES_KEY)
    return MessageCrypto(TOKEN, AES_KEY, APP_ID)


def encrypted_post(client, crypto: MessageCrypto, inner_xml: str, *, forge: bool = False, nonce: str | None = None):
    encrypted = crypto.encrypt(inner_xml)
    params = signed(nonce=nonce)
    sig = msg_signature(TOKEN, params["timestamp"], params["nonce"], encrypted)
    params.update(encrypt_type="aes", msg_signature=("0" * 40 if forge else sig), openid=OPENID)
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return post(client, body, params)


def test_safe_mode_message_is_decrypted_answered_and_the_reply_encrypted(client, db, fake_rasa, safe_mode):  # noqa: F811
    r = encrypted_post(client, safe_mode, text_xml("办残疾证要带什么"), nonce="n0nce42")
    assert r.status_code == 200, r.text
    outer = {c.tag: c.text for c in fromstring(r.content)}
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert outer["Nonce"] == "n0nce42"
    assert safe_mode.check(outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    reply = {c.tag: c.text for c in fromstring(safe_mode.decrypt(outer["Encrypt"]))}
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == ACCOUNT
    assert reply["Content"].startswith("收到：办残疾证要带什么")
    assert fake_rasa.messages() == ["办残疾证要带什么"]


def test_safe_mode_refuses_forged_or_foreign_messages_and_processes_nothing(client, db, fake_rasa, safe_mode,  # noqa: F811
                                                                            monkeypatch):
    assert encrypted_post(client, safe_mode, text_xml("伪造的消息"), forge=True).status_code == 403
    other_account = MessageCrypto(TOKEN, AES_KEY, "wx-another-account")
    assert encrypted_post(client, other_account, text_xml("别的公众号的消息")).status_code == 403
    monkeypatch.setattr(get_settings(), "wechat_encoding_aes_key", "")
    assert encrypted_post(client, safe_mode, text_xml("没配置密钥")).status_code == 403
    assert fake_rasa.received == []
    assert wechat_conversation(db) is None


def test_split_text_keeps_everything_in_order_within_wechats_limit():
    text = "\n".join(f"{i}. 居民身份证原件及复印件一份，户口簿原件及首页复印件" for i in range(1, 90))
    pieces = split_text(text)
    assert len(pieces) > 1 and all(len(p.encode()) <= 2000 for p in pieces)
    assert "\n".join(pieces) == text
    assert split_text("很" * 1500) and "".join(split_text("很" * 1500)) == "很" * 1500
    assert split_text("短消息") == ["短消息"]


def test_a_reply_too_long_for_one_message_arrives_whole_in_order(client, db, fake_rasa, fake_wechat):  # noqa: F811
    long_text = "\n".join(f"{i}. 需要带的材料：居民身份证原件及复印件一份，户口簿原件及首页复印件" for i in range(1, 70))
    fake_rasa.on_message = lambda body: [{"recipient_id": body["sender"], "text": long_text}]
    r = post(client, text_xml("低保要带啥"))
    assert r.status_code == 200 and r.text == "success"  # nothing passive: all of it by the customer-service API
    sent = wait_for(lambda: fake_wechat.delivered() if len(fake_wechat.delivered()) >= 2 else None)
    contents = [s["text"]["content"] for s in sent]
    assert all(s["touser"] == OPENID for s in sent)
    assert all(len(c.encode()) <= 2048 for c in contents)
    assert "\n".join(contents) == long_text
    # A retry of the same message does not send it again.
    before = len(fake_wechat.sends)
    assert post(client, r.request.content.decode()).text == "success"
    time.sleep(0.3)
    assert len(fake_wechat.sends) == before


def test_a_claim_left_by_a_dead_process_is_taken_over_by_the_retry(client, db, fake_rasa, fake_wechat):  # noqa: F811
    msg_id = next(_msg_ids)
    long_ago = utcnow() - dt.timedelta(seconds=60)
    with db() as session:  # what a process that died right after claiming leaves behind
        session.add(WechatInbound(dedupe_key=f"msg:{msg_id}", openid=OPENID, msg_type="text", state="processing",
                                  created_at=long_ago, updated_at=long_ago))
        session.commit()
    r = post(client, text_xml("我的事办到哪了", msg_id=msg_id))
    assert fromstring(r.content).find("Content").text.startswith("收到：我的事办到哪了")
    assert fake_rasa.messages() == ["我的事办到哪了"]
    with db() as session:
        assert session.scalar(select(WechatInbound.state).where(WechatInbound.dedupe_key == f"msg:{msg_id}")) == "replied"

    # A claim that is merely recent (its request still waiting) is left alone: the retry gets `success`.
    fresh_id = next(_msg_ids)
    with db() as session:
        now = utcnow()
        session.add(WechatInbound(dedupe_key=f"msg:{fresh_id}", openid=OPENID, msg_type="text", state="processing",
                                  created_at=now, updated_at=now))
        session.commit()
    assert post(client, text_xml("还在处理的消息", msg_id=fresh_id)).text == "success"
    assert fake_rasa.messages() == ["我的事办到哪了"]
