"""Inbound XML (parsed with defusedxml: no entities, no DTDs) and the passive text reply."""
from __future__ import annotations

import time
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_BODY_BYTES = 64 * 1024


class BadMessage(Exception):
    pass


@dataclass(frozen=True)
class Inbound:
    to_user: str  # the Official Account's own id (gh_…)
    from_user: str  # the resident's openid
    create_time: str
    msg_type: str  # text | voice | image | location | link | video | shortvideo | event | …
    fields: dict[str, str]

    @property
    def msg_id(self) -> str | None:
        return self.fields.get("MsgId") or None

    @property
    def event(self) -> str:
        return (self.fields.get("Event") or "").lower()

    @property
    def dedupe_key(self) -> str:
        """WeChat's own rule: messages by MsgId, events by FromUserName + CreateTime."""
        if self.msg_type != "event" and self.msg_id:
            return f"msg:{self.msg_id}"
        return f"event:{self.from_user}:{self.create_time}"


def parse(body: bytes) -> Inbound:
    if len(body) > MAX_BODY_BYTES:
        raise BadMessage("too large")
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise BadMessage(type(exc).__name__) from None
    if root.tag != "xml":
        raise BadMessage("not a WeChat message")
    fields = {child.tag: (child.text or "").strip() for child in root if len(child) == 0}
    for required in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not fields.get(required):
            raise BadMessage(f"missing {required}")
    return Inbound(to_user=fields["ToUserName"], from_user=fields["FromUserName"],
                   create_time=fields["CreateTime"], msg_type=fields["MsgType"].lower(), fields=fields)


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(inbound: Inbound, content: str, now: int | None = None) -> str:
    """The passive reply: addressed back to the sender, from the account the message was sent to."""
    return ("<xml>"
            f"<ToUserName>{_cdata(inbound.from_user)}</ToUserName>"
            f"<FromUserName>{_cdata(inbound.to_user)}</FromUserName>"
            f"<CreateTime>{int(now if now is not None else time.time())}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content>"
            "</xml>")


def render(replies: list[dict]) -> str:
    """Assistant replies as one WeChat text: texts joined, buttons as numbered lines (numbered
    across all replies, in the order `choices` resolves them)."""
    parts, number = [], 0
    for reply in replies:
        lines = [reply["text"]] if reply.get("text") else []
        for button in reply.get("buttons") or []:
            number += 1
            lines.append(f"{number}. {button.get('title') or button.get('payload')}")
        if lines:
            parts.append("\n".join(lines))
    if number:
        parts.append("（回复数字即可选择）")
    return "\n\n".join(parts)
