"""好差评 ratings on completed cases, and the duty lead's follow-up tasks."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.bounds import PAGE_DEFAULT, page_of
from erma.cases.lifecycle import transition
from erma.cases.models import Case, CaseEvent
from erma.cases.stages import Stage
from erma.clock import today_local
from erma.db import utcnow
from erma.errors import Conflict, Forbidden, NotFound, ValidationFailed
from erma.followup.levels import BAD_LEVELS, LEVEL_WORDS, LEVELS, parse_level
from erma.followup.models import FollowUpTask, Rating
from erma.permissions import Permission, may
from erma.settings import get_settings
from erma.staff.auth import SYSTEM, Principal
from erma.staff.rota import duty_lead_on
from erma.text_normal import fold_text
from erma.working_days import add_working_days

_EDGES = " \t\r\n，,。.！!？?：:；;、~～…—-"
_LEVEL_DIGIT = re.compile(r"^(?:打|给|评|选)?\s*[1-5]\s*(?:星|分|颗星)?")


def comment_from(said: str | None) -> str | None:
    """What a rating message says beyond its level: "不满意，星期天转人工半天都没人理" →
    "星期天转人工半天都没人理"; "满意" / "5星" → None."""
    text = fold_text(said or "")
    for word, _ in LEVEL_WORDS:  # longest first, so 不满意 is not left as 不
        if word in text:
            text = text.replace(word, " ", 1)
            break
    else:
        text = _LEVEL_DIGIT.sub(" ", text, count=1)
    text = re.sub(r"\s+", " ", text).strip(_EDGES)
    return text if sum(ch.isalnum() for ch in text) >= 2 else None


def rate_case(session: Session, case: Case, principal: Principal, level_raw, comment: str | None,
              channel: str, now: dt.datetime | None = None) -> dict:
    """Records the rating of a completed case. 一事一评: a case is rated once and the rating is final
    (a second one, even from the bound conversation, is 409 `already_rated`): a rating opens the
    差评 follow-up and moves the case on, so replacing it would undo what it started. Who may rate
    (the case's own conversation) is checked by the caller with erma.cases.ownership.own_case."""
    level = parse_level(level_raw)
    if session.scalar(select(Rating).where(Rating.case_id == case.id)) is not None:
        raise Conflict("already_rated", "这件事您已经评价过了，谢谢")
    if case.stage not in (Stage.COMPLETED, Stage.DELIVERED):
        raise Conflict("not_completed", "办件办结后才能评价")
    now = now or utcnow()
    if case.stage == Stage.COMPLETED:
        # A resident rating the result has evidently received it.
        transition(session, case, Stage.DELIVERED, SYSTEM, "群众已知晓办理结果", now=now,
                   announce=False)  # the rating's own answer tells the resident
    session.add(Rating(case_id=case.id, level=level, comment=comment, channel=channel, at=now))
    transition(session, case, Stage.RATED, principal, f"好差评：{LEVELS[level]}" + (f"；{comment}" if comment else ""),
               flow=True, now=now, announce=False)
    task = None
    if level in BAD_LEVELS:
        today = today_local(now)
        lead = duty_lead_on(session, today)
        task = FollowUpTask(kind="bad_rating", case_id=case.id, assignee_id=lead.id if lead else None,
                            due_date=add_working_days(today, get_settings().rating_followup_working_days),
                            reason=f"差评（{LEVELS[level]}）回访整改" + (f"：{comment}" if comment else ""))
        session.add(task)
    session.flush()
    return {"case_no": case.case_no, "level": level, "level_text": LEVELS[level], "follow_up": task is not None,
            "follow_up_due": task.due_date.isoformat() if task else None}


def list_tasks(session: Session, principal: Principal, status: str = "open", limit: int = PAGE_DEFAULT,
               offset: int = 0) -> tuple[list[FollowUpTask], int | None]:
    """One page of the tasks in `status`, earliest due first, and the next page's offset (None: the last)."""
    if not may(principal.role, Permission.FOLLOW_UP):
        raise Forbidden("role_forbidden", "只有轮值组长可以查看回访任务")
    rows = session.scalars(select(FollowUpTask).where(FollowUpTask.status == status)
                           .order_by(FollowUpTask.due_date, FollowUpTask.id).offset(offset).limit(limit + 1)).all()
    return page_of(list(rows), limit, offset)


def complete_task(session: Session, task_id: int, principal: Principal, outcome: str,
                  now: dt.datetime | None = None) -> FollowUpTask:
    if not may(principal.role, Permission.FOLLOW_UP):
        raise Forbidden("role_forbidden", "只有轮值组长可以记录回访")
    task = session.get(FollowUpTask, task_id)
    if task is None:
        raise NotFound("task_not_found", "没有这个回访任务")
    if task.status == "done":
        raise Conflict("task_done", "这个回访任务已经完成")
    if not (outcome or "").strip():
        raise ValidationFailed("outcome_required", "请填写回访结果", field="outcome")
    now = now or utcnow()
    task.status, task.outcome, task.done_at = "done", outcome.strip(), now
    case = session.get(Case, task.case_id)
    session.add(CaseEvent(case_id=case.id, kind="followup", actor=principal.actor, actor_role=principal.role,
                          note=f"回访：{outcome.strip()}", at=now))
    if case.stage in (Stage.DELIVERED, Stage.RATED):
        transition(session, case, Stage.FOLLOWED_UP, principal, f"回访完成：{outcome.strip()}", flow=True, now=now)
    session.flush()
    return task


# The outcome written when the deferred materials arrive: the 督办 has reached its aim by itself.
SUPPLIED_OUTCOME = "材料已补齐，系统自动办结"


def close_deferral_followup(session: Session, case: Case, now: dt.datetime) -> FollowUpTask | None:
    """Close the case's open 容缺逾期督办 task (if any) once the deferred materials are recorded as
    received, so the duty lead no longer chases it; the case history says so. Does not commit.
    A task the lead already closed keeps the lead's own outcome."""
    task = session.scalar(select(FollowUpTask).where(FollowUpTask.kind == "deferral_overdue",
                                                     FollowUpTask.case_id == case.id, FollowUpTask.status == "open"))
    if task is None:
        return None
    task.status, task.outcome, task.done_at = "done", SUPPLIED_OUTCOME, now
    session.add(CaseEvent(case_id=case.id, kind="followup", actor=SYSTEM.actor, actor_role=SYSTEM.role,
                          note=f"容缺逾期督办：{SUPPLIED_OUTCOME}", at=now))
    return task


def task_view(session: Session, task: FollowUpTask, case_no: str | None = None) -> dict:
    if case_no is None:
        case_no = session.scalar(select(Case.case_no).where(Case.id == task.case_id))
    return {"id": task.id, "kind": task.kind, "case_no": case_no, "due_date": task.due_date.isoformat(),
            "status": task.status, "reason": task.reason, "outcome": task.outcome,
            "assignee_id": task.assignee_id}


def task_views(session: Session, tasks: list[FollowUpTask]) -> list[dict]:
    """Views of many tasks with their case numbers read in one query (not one per task)."""
    case_ids = {t.case_id for t in tasks}
    numbers = dict(session.execute(select(Case.id, Case.case_no).where(Case.id.in_(case_ids))).all()) if case_ids else {}
    return [task_view(session, t, numbers.get(t.case_id)) for t in tasks]
