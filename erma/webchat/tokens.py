"""The resident's credential for one web-chat conversation.

Residents do not log in: the page gets a signed token when it opens a conversation and keeps it
in localStorage. The token names exactly one conversation; no web-chat endpoint takes a
conversation id, so knowing an id (e.g. from a case) grants nothing without its token.
"""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from erma.errors import Unauthorized
from erma.settings import get_settings

# Own salt: a staff token or any other value signed with the same secret never passes here.
SALT = "erma.webchat.conversation.v1"
# A resident coming back within a month finds the conversation; after that the page starts a new one.
MAX_AGE_SECONDS = 30 * 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().erma_secret_key, salt=SALT)


def issue(conversation_id: str) -> str:
    return _serializer().dumps({"c": conversation_id})


def conversation_id_from(token: str | None) -> str:
    """The conversation the token grants, or 401 for a missing, forged or expired token."""
    if not token:
        raise Unauthorized("chat_token_missing", "缺少会话凭证，请刷新页面")
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:  # also SignatureExpired
        raise Unauthorized("chat_token_invalid", "会话凭证无效或已过期，请刷新页面重新开始") from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        raise Unauthorized("chat_token_invalid", "会话凭证无效或已过期，请刷新页面重新开始")
    return data["c"]
