"""Everything a push says, in one place: plain words a resident (or an agent) reads on a phone.

Resident texts get the case number put in front by `notify_resident` (【EM-…】), so they do not
repeat it. Stage wording comes from the lifecycle's STAGE_TEXT / NEXT_STEP (via the case presenter).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.cases.presenter import stage_words
from erma.catalog.service import get_item
from erma.followup.levels import LEVELS
from erma.places.models import Town

# The 好差评 levels as numbers (erma/followup/levels.py owns them and reads the reply).
RATING_CHOICES = "、".join(f"{level} {text}" for level, text in LEVELS.items())
NO_CHANNEL = "居民没有在线会话（可能是在窗口或代办点办理的）"
WINDOW_CLOSED = "已超过48小时客服消息时限"
UNSUBSCRIBED = "居民已取消关注公众号"
BAD_OPENID = "微信用户标识无效"


@dataclass(frozen=True)
class CaseWords:
    case_no: str
    service: str
    town: str
    department: str


def case_words(session: Session, case: Case) -> CaseWords:
    item = get_item(session, case.service_code)
    town = session.get(Town, case.hukou_town_code)
    return CaseWords(case_no=case.case_no, service=item.name if item else case.service_code,
                     town=town.name if town else "户籍地镇", department=item.department if item else "主管部门")


def day(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _listed(items: list[str]) -> str:
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, 1))


# ---------------------------------------------------------------- the resident

def stage_change(session: Session, case: Case) -> str:
    """Any stage change without a more specific message: where it stands now and what happens next."""
    words = case_words(session, case)
    stage_text, next_step = stage_words(session, case)
    return f"您办理的“{words.service}”有新进展：{stage_text}。{next_step}"


def result(words: CaseWords, result_text: str) -> str:
    return (f"您办理的“{words.service}”已经办好了（已办结）。办理结果：{result_text.strip().rstrip('。')}。"
            "代办员会把结果告诉您、送到您手上，不用您再跑。")


def deficiency_list(words: CaseWords, materials: list[str], opinion: str) -> str:
    return (f"您办理的“{words.service}”还需要补齐下面的材料（一次性告知，全部在这里）：\n{_listed(materials)}\n"
            f"审核意见：{opinion}\n请把材料交给代办员或就近的便民服务点，补齐后重新审核。")


def rejected(words: CaseWords, opinion: str) -> str:
    return (f"很抱歉，您办理的“{words.service}”经{words.town}审核，不予受理。理由：{opinion.rstrip('。')}。"
            "有疑问可以联系代办员。")


def approved(words: CaseWords) -> str:
    return f"您办理的“{words.service}”已经通过{words.town}审核。代办员正在准备把材料送到{words.department}办理，不用您跑路。"


def deferral_opened(words: CaseWords, missing: list[str], deadline: dt.date) -> str:
    return (f"您办理的“{words.service}”已容缺受理，先行办理。缺的材料请在{day(deadline)}前补齐："
            f"{'、'.join(missing)}。交给代办员或就近的便民服务点就行。")


def deferral_reminder(words: CaseWords, missing: list[str], deadline: dt.date) -> str:
    return (f"提醒：您办理的“{words.service}”容缺后补的材料（{'、'.join(missing)}）请在{day(deadline)}前补齐，"
            "交给代办员或就近的便民服务点。")


def rating_request(words: CaseWords) -> str:
    """Used when the assistant cannot ask (an agent holds the conversation, or Rasa is down)."""
    return (f"您办理的“{words.service}”已经办结。请给我们的服务打个分："
            f"回复“{words.case_no} {LEVELS[4]}”这样的话就行，可选 {'、'.join(LEVELS.values())}。")


def wechat_rating_hint() -> str:
    """WeChat shows no buttons: the levels as numbers, which the assistant reads as scores."""
    return f"回复数字打分：{RATING_CHOICES}"


def wechat_text(messages: list[tuple[str, list | None]]) -> str:
    """The assistant's pushed messages as one WeChat text. Buttons are not numbered: a pushed
    question is not what a bare number answers (see channels/wechat/service._resolve_choice)."""
    parts = []
    for text, buttons in messages:
        lines = [text] if text else []
        payloads = [str(b.get("payload") or "") for b in buttons or []]
        if payloads and all(p.startswith("/rate") for p in payloads):
            lines.append(wechat_rating_hint())
        elif buttons:
            lines.append("可以回复：" + "、".join(str(b.get("title") or b.get("payload")) for b in buttons))
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def agent_reply(agent_name: str | None, text: str) -> str:
    return f"代办员{agent_name}：{text}" if agent_name else f"代办员：{text}"


# ---------------------------------------------------------------- agents (容缺 deadlines, what could not be delivered)

def undeliverable_note(channel: str, reason: str, text: str) -> str:
    """The system entry in the conversation's transcript (the agent console shows it)."""
    how = "通过微信" if channel == "wechat" else ""
    return f"未能{how}送达居民（{reason}），请改用电话等方式联系：{text}"


def deferral_reminder_staff(case_no: str, deadline: dt.date, town: str, missing: list[str]) -> str:
    """The agent's copy of a 容缺 reminder."""
    return f"{case_no} 容缺后补期限 {deadline.isoformat()}，{town}尚未补齐：{'、'.join(missing)}"


def deferral_overdue_staff(case_no: str, deadline: dt.date) -> str:
    """The duty lead's notice of an overdue 容缺."""
    return f"{case_no} 容缺后补已逾期（期限 {deadline.isoformat()}），请督办"


def undeliverable_staff(reason: str, text: str, case_no: str | None = None) -> str:
    prefix = f"【{case_no}】" if case_no else ""
    return f"{prefix}这条消息没能送到居民那里（{reason}），请打电话或当面告知：{text}"


def retries_exhausted(error: str) -> str:
    return f"多次重试仍未发出：{error[:120]}"
