"""Resident-facing wording the actions build from platform data (plain, short sentences).

Fixed sentences without data live in domain.yml responses; this module holds the wording that
needs the platform's answers (materials, case numbers, dates) and the outage sentence. The
requirement answer (一次性告知) comes worded by the platform (GET /api/v1/services/{code}/answer),
the same text the public service guide shows.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, List, Optional

OUTAGE = "系统暂时连不上，请稍后再试，或说“转人工”。"

COUNTY_POINT = "县城凤仪镇的尔玛云代办点"


def material_line(index: int, material: Dict[str, Any], rongque: bool) -> str:
    name = material.get("name", "")
    form = material.get("form") or ""
    count = material.get("count") or 1
    parts = [f"{index}. {name}"]
    detail = "，".join(p for p in (form, f"{count}份") if p)
    parts.append(f"（{detail}）")
    if material.get("required") is False and "如有" not in name:
        parts.append("（有的话带上）")
    note = (material.get("note") or "").strip()
    if rongque and material.get("deferrable"):
        parts.append("〔可后补〕")
        if note.startswith("可容缺"):
            note = ""  # the mark and the 容缺 sentence already say it
    if note:
        parts.append(f"：{note}")
    return "".join(parts)


def materials_list(materials: Iterable[Dict[str, Any]], rongque: bool) -> str:
    return "\n".join(material_line(i, m, rongque) for i, m in enumerate(materials, start=1))


def missing_message(item_name: str, have: List[str], missing: List[Dict[str, Any]], rongque: bool) -> str:
    if not missing:
        have_text = f"您有：{'、'.join(have)}。" if have else ""
        return f"{have_text}办“{item_name}”的材料都齐了！"
    lines = []
    if have:
        lines.append(f"您已经有：{'、'.join(have)}。")
    lines.append(f"办“{item_name}”还差这些（一次说全）：")
    lines.append(materials_list(missing, rongque))
    if rongque and any(m.get("deferrable") for m in missing):
        lines.append("标〔可后补〕的可以容缺：户籍镇审核同意后先办，再按期限补交。")
    return "\n".join(lines)


def plain_date(iso: Optional[str]) -> str:
    """``2026-12-24`` → ``2026年12月24日`` (what elderly readers expect)."""
    if not iso:
        return "暂时还定不了"
    try:
        day = dt.date.fromisoformat(str(iso)[:10])
    except ValueError:
        return str(iso)
    return f"{day.year}年{day.month}月{day.day}日"


def holder_text(holder: Optional[Dict[str, Any]]) -> str:
    if not holder:
        return "工作人员"
    if holder.get("kind") == "agent":
        text = f"代办员{holder.get('name', '')}"
        if holder.get("credential_no"):
            text += f"（证号{holder['credential_no']}）"
        if holder.get("phone"):
            text += f"，电话{holder['phone']}"
        return text
    return str(holder.get("name") or "户籍镇审核人员")


def promised_date(view: Dict[str, Any]) -> str:
    """The promised date, marked （暂定） while the platform says the holiday arrangement it was
    counted over is not published yet."""
    text = plain_date(view.get("expected_completion_date"))
    if view.get("expected_completion_provisional") and view.get("expected_completion_date"):
        text += "（暂定，节假日安排公布后可能调整）"
    return text


def status_message(status: Dict[str, Any]) -> str:
    who = f"，申请人 {status['applicant_masked']}" if status.get("applicant_masked") else ""
    lines = [f"“{status.get('service_name', '')}”（办件号 {status.get('case_no', '')}{who}）："]
    lines.append(f"现在：{status.get('stage_text') or status.get('stage', '')}")
    if status.get("next_step"):
        lines.append(f"下一步：{status['next_step']}")
    lines.append(f"经办人：{holder_text(status.get('holder'))}")
    if status.get("finished_on"):
        lines.append(f"办好日期：{plain_date(status['finished_on'])}")
    elif status.get("ended_on"):
        lines.append(f"结束日期：{plain_date(status['ended_on'])}")
    else:
        lines.append(f"预计办好：{promised_date(status)}")
    return "\n".join(lines)


def case_opened_message(case: Dict[str, Any], missing: List[str]) -> str:
    """After the case is opened: number, agent, what to bring or send and where, 最多跑一次."""
    town = (case.get("hukou_town") or {}).get("name") or "户籍镇"
    lines = ["申请已经提交了！",
             f"办件号：{case.get('case_no', '')}（查进度要用，请记好）"]
    agent = case.get("agent") or {}
    if agent.get("name"):
        agent_text = f"代办员：{agent['name']}"
        if agent.get("credential_no"):
            agent_text += f"（证号{agent['credential_no']}）"
        if agent.get("phone"):
            agent_text += f"，电话{agent['phone']}"
        lines.append(agent_text + "，全程帮您办，免费。")
    lines.append(f"{town}会在网上审核，不用您跑。")
    if missing:
        lines.append("还差这些材料：" + "、".join(missing) + "。")
    lines.append("材料请送到或寄到：就近的村便民服务站、镇便民服务中心，"
                 f"或者{COUNTY_POINT}{town}窗口，交给代办员。人在外地的，可以请家里人代交，也可以邮寄。")
    if case.get("next_step"):
        lines.append(f"下一步：{case['next_step']}")
    lines.append(f"预计办好：{promised_date(case)}")
    lines.append("最多跑一次：材料交齐就不用再跑，办好了我们会通知您。")
    return "\n".join(lines)


PAUSED = ("好的，这次申请还没有提交。您填过的信息我先帮您保留一天，"
          "想接着办就说“继续刚才的申请”；不办了就不用管它。")
EXPIRED = "您上次没填完的申请已经超过一天，为了保护您的信息已经清掉了。我们重新填一下。"


def repeat_question(platform_says: str) -> str:
    """The platform named the applicant's open case for the item (its 409 message); ask before a second."""
    return f"{platform_says}\n一般不用再申请。确实要再申请一件新的吗？要的话说“要”，不用就说“不用了”。"


# `repeat_of` when the platform did not say which case is open (not this conversation's case).
UNNAMED_CASE = "-"


def repeat_declined(case_no: str) -> str:
    if case_no == UNNAMED_CASE:
        return "好的，不再重复申请。原来那一件还在办，想查进度就说“查进度”。"
    return (f"好的，不再重复申请。原来的办件 {case_no} 还在办，"
            "想查进度就说“我的事办到哪了”。")
