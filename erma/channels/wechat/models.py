"""What the WeChat channel has to remember across requests and platform processes.

- `wechat_inbound`: one row per message (MsgId) or event (openid + CreateTime) WeChat delivered,
  so its retries are answered once; `state` says whether the answer went out passively
  (`replied`, `reply_text` is sent again to a retry) or by the customer-service API (`deferred`).
- `wechat_followers`: the resident's last interaction, which opens the 48-hour window for
  customer-service messages.
- `wechat_access_tokens`: the API access_token shared by every platform process (each fetch
  invalidates the previous token after a few minutes, so processes must not fetch their own).
- `wechat_nonces`: the nonces of signed requests seen within the accepted timestamp window, so a
  captured request cannot be replayed (by any replica); older rows are purged as new ones come.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class WechatInbound(Base):
    __tablename__ = "wechat_inbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    openid: Mapped[str] = mapped_column(String(128), index=True)
    msg_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="processing")  # processing | replied | deferred
    reply_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WechatFollower(Base):
    __tablename__ = "wechat_followers"

    openid: Mapped[str] = mapped_column(String(128), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    last_interaction_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WechatAccessToken(Base):
    __tablename__ = "wechat_access_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[dt.datetime]
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WechatNonce(Base):
    __tablename__ = "wechat_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
