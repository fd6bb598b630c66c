"""Inbound XML (parsed with defusedxml: no entities, no DTDs) and the passive text reply."""
from __future__ import annotations

import time
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_BODY_BYTES = 64 * 1024
# WeChat cuts text messages at 2048 bytes (UTF-8: about 680 Chinese characters); stay under it.
MAX_TEXT_BYTES = 2000


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


def _fields(body: bytes) -> dict[str, str]:
    if len(body) > MAX_BODY_BYTES:
        raise BadMessage("too large")
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise BadMessage(type(exc).__name__) from None
    if root.tag != "xml":
        raise BadMessage("not a WeChat message")
    return {child.tag: (child.text or "").strip() for child in root if len(child) == 0}


def encrypted_part(body: bytes) -> str:
    """The `Encrypt` element of a safe-mode delivery (the rest of the outer XML is not trusted)."""
    encrypted = _fields(body).get("Encrypt")
    if not encrypted:
        raise BadMessage("missing Encrypt")
    return encrypted


def parse(body: bytes) -> Inbound:
    fields = _fields(body)
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


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, cut at line ends where possible, so a long
    materials list arrives whole in several messages instead of cut off by WeChat."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > limit:  # one very long line: cut it by characters
            head = line
            while len(head.encode()) > limit:
                head = head[: max(1, len(head) * limit // len(head.encode()) - 1)]
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            line = line[len(head):]
        if len((current + line).encode()) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return [p.strip("\n") for p in pieces if p.strip()]
