"""Resident-facing wording the actions build from platform data (plain, short sentences).

Fixed sentences without data live in domain.yml responses; this module holds the wording that
needs the platform's answers (materials, case numbers, dates) and the outage sentence.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Iterable, List, Optional

OUTAGE = "系统暂时连不上，请稍后再试，或说“转人工”。"

COUNTY_POINT = "县城凤仪镇的尔玛云代办点"

WHERE_TO_SUBMIT = (
    "交到哪里：就近的村便民服务站、镇便民服务中心，或者{county_point}（找{town}窗口）都能交，"
    "不用专门回户籍地。"
)


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


def time_limit(item: Dict[str, Any]) -> Optional[str]:
    days = item.get("promised_working_days")
    if not days:
        return None
    unit = "天" if item.get("time_limit_unit") == "calendar_days" else "个工作日"
    return f"办理时间：承诺{days}{unit}内办好。"


def agent_sentence(item: Dict[str, Any]) -> str:
    mode = item.get("agent_mode") or ""
    if not item.get("agent_handled", True):
        return "代办：这个事项要本人去办，代办员可以帮您预审材料、提前预约，免费。"
    if item.get("in_person_required") or mode.startswith(("帮办", "咨询")):
        return "代办：代办员可以免费帮办，但有的环节要本人到场。"
    return "代办：可以请代办员全程代办，免费，您只要把材料交齐。"


def rongque_sentence(item: Dict[str, Any]) -> str:
    if item.get("rongque_listed"):
        return ("容缺：这个事项可以容缺办理。标〔可后补〕的材料一时没有，户籍镇审核同意后可以先办，"
                "再按期限补交。")
    return "容缺：这个事项不能容缺，材料要交齐才能办。"


_PHOTO_WORDS = ("照片", "相片", "寸照")


def fact_answer(item: Dict[str, Any], fact: Optional[str]) -> Optional[str]:
    """The detail the resident asked first, answered from the catalog before the full list; None
    when the catalog does not hold it (the full answer still follows)."""
    if fact == "eligibility":
        first = ((item.get("guide") or "").splitlines() or [""])[0]
        if first.startswith("申请对象："):
            return "谁能申请：" + first[len("申请对象："):]
        return None
    if fact == "photo":
        photos = [m.get("name", "") for m in item.get("materials") or []
                  if any(w in (m.get("name") or "") for w in _PHOTO_WORDS)]
        return f"要照片：{'、'.join(photos)}（见下面的清单）。" if photos else "这一项不用交照片。"
    if fact == "in_person":
        if item.get("in_person_required") or not item.get("agent_handled", True):
            return "本人到场：这一项有的环节要本人到场，具体见下面的说明。"
        return "本人到场：不用本人回来，家里人或代办员拿齐材料就能帮着递交。"
    if fact == "time":
        return time_limit(item)
    if fact == "fee":
        return agent_sentence(item)
    return None


def requirements_message(item: Dict[str, Any], town: Optional[str] = None, fact: Optional[str] = None) -> str:
    """The complete list of what to bring for one item, in ONE message (design rule 3), led by the
    answer to the detail the resident asked, when the catalog holds it."""
    rongque = bool(item.get("rongque_listed"))
    lead = fact_answer(item, fact)
    lines = ([lead] if lead else []) + [f"办“{item.get('name', '')}”要带这些材料（一次说全）：",
             materials_list(item.get("materials") or [], rongque),
             WHERE_TO_SUBMIT.format(county_point=COUNTY_POINT, town=town or "您户口所在镇的")]
    for extra in (time_limit(item), agent_sentence(item), rongque_sentence(item)):
        if extra:
            lines.append(extra)
    return "\n".join(lines)


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
        lines.append(f"预计办好：{plain_date(status.get('expected_completion_date'))}")
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
    lines.append(f"预计办好：{plain_date(case.get('expected_completion_date'))}")
    lines.append("最多跑一次：材料交齐就不用再跑，办好了我们会通知您。")
    return "\n".join(lines)


PAUSED = ("好的，这次申请还没有提交。您填过的信息我先帮您保留一天，"
          "想接着办就说“继续刚才的申请”；不办了就不用管它。")
EXPIRED = "您上次没填完的申请已经超过一天，为了保护您的信息已经清掉了。我们重新填一下。"


def repeat_question(platform_says: str) -> str:
    """The platform named the applicant's open case for the item (its 409 message); ask before a second."""
    return f"{platform_says}\n一般不用再申请。确实要再申请一件新的吗？要的话说“要”，不用就说“不用了”。"


def repeat_declined(case_no: str) -> str:
    return (f"好的，不再重复申请。原来的办件 {case_no} 还在办，"
            "想查进度就说“我的事办到哪了”。")
