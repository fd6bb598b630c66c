"""The case lifecycle: stages, the allowed transitions, who may make them, and plain wording.

received → town_review → returned_for_correction / rejected / approved → (deferral_accepted)
→ at_department → completed → delivered → rated → followed_up  (domain-notes §2.6)
"""
from __future__ import annotations

from enum import StrEnum

from erma.permissions import HOLDER, Permission, Role, role_in, roles_for


class Stage(StrEnum):
    RECEIVED = "received"
    TOWN_REVIEW = "town_review"
    RETURNED = "returned_for_correction"
    REJECTED = "rejected"
    APPROVED = "approved"
    DEFERRAL_ACCEPTED = "deferral_accepted"
    AT_DEPARTMENT = "at_department"
    COMPLETED = "completed"
    DELIVERED = "delivered"
    RATED = "rated"
    FOLLOWED_UP = "followed_up"
    WITHDRAWN = "withdrawn"
    TERMINATED = "terminated"


S = Stage
R = Role
# to-stage → roles allowed to move a case there, for each from-stage (None: a case being opened).
# HOLDER: the agent who holds (carries) the case, i.e. `case.agent_id`: an agent moves only the cases
# they hold; a colleague's case must be reassigned by the duty lead (or an unassigned one taken) first.
# SERVICE is the assistant (acting for the resident); SYSTEM is the platform itself.
# Who opens a case and who makes the review decisions are permissions (erma/permissions.py).
_REVIEW = roles_for(Permission.DECIDE_REVIEW)
TRANSITIONS: dict[Stage | None, dict[Stage, frozenset[str]]] = {
    None: {S.RECEIVED: roles_for(Permission.OPEN_CASE)},
    S.RECEIVED: {S.TOWN_REVIEW: frozenset({R.SYSTEM, HOLDER, R.ADMIN}),
                 S.WITHDRAWN: frozenset({R.SERVICE, HOLDER, R.ADMIN})},
    S.TOWN_REVIEW: {S.RETURNED: _REVIEW,
                    S.REJECTED: _REVIEW,
                    S.APPROVED: _REVIEW,
                    S.WITHDRAWN: frozenset({R.SERVICE, HOLDER, R.ADMIN})},
    S.RETURNED: {S.TOWN_REVIEW: frozenset({R.SERVICE, HOLDER, R.ADMIN}),
                 S.WITHDRAWN: frozenset({R.SERVICE, HOLDER, R.ADMIN})},
    S.APPROVED: {S.DEFERRAL_ACCEPTED: frozenset({HOLDER, R.ADMIN}),
                 S.AT_DEPARTMENT: frozenset({HOLDER, R.ADMIN})},
    S.DEFERRAL_ACCEPTED: {S.AT_DEPARTMENT: frozenset({HOLDER, R.ADMIN}),
                          S.TERMINATED: frozenset({R.DUTY_LEAD, R.ADMIN})},
    S.AT_DEPARTMENT: {S.COMPLETED: frozenset({HOLDER, R.ADMIN}),
                      S.TERMINATED: frozenset({R.DUTY_LEAD, R.ADMIN})},
    S.COMPLETED: {S.DELIVERED: frozenset({HOLDER, R.ADMIN, R.SYSTEM})},
    S.DELIVERED: {S.RATED: frozenset({R.SERVICE, HOLDER, R.ADMIN}),
                  S.FOLLOWED_UP: frozenset({R.DUTY_LEAD, R.ADMIN})},
    S.RATED: {S.FOLLOWED_UP: frozenset({R.DUTY_LEAD, R.ADMIN})},
}

# Stages that only a dedicated flow may enter (they need more than a note).
FLOW_ONLY = {S.RETURNED: "审核退回须通过审核接口并附一次性补正清单",
             S.REJECTED: "不予受理须通过审核接口并写明理由",
             S.APPROVED: "审核通过须通过审核接口",
             S.DEFERRAL_ACCEPTED: "容缺受理须通过容缺接口办理",
             S.RATED: "评价须通过评价接口",
             S.FOLLOWED_UP: "回访须通过回访任务记录"}

OPEN_STAGES = frozenset({S.RECEIVED, S.TOWN_REVIEW, S.RETURNED, S.APPROVED,
                         S.DEFERRAL_ACCEPTED, S.AT_DEPARTMENT})

# Open stages whose promised-date clock runs, so a case in them can be overdue. Not 退回补正: the case
# waits for the resident, and the promised date moves on by the pause when it is resubmitted
# (erma.cases.timing.shift_for_pause; domain-notes §2.6 补齐补正 pauses the clock).
CLOCK_RUNNING_STAGES = OPEN_STAGES - {S.RETURNED}

# Stages a case ends in without a result: nothing is owed for it any more (deferred 容缺 materials included).
ENDED_WITHOUT_RESULT = frozenset({S.REJECTED, S.WITHDRAWN, S.TERMINATED})
# Stages with no move out (the case has ended): nothing is left for an agent to carry. A case ends
# without a result, or with one once the duty lead has followed it up.
ENDED_STAGES = ENDED_WITHOUT_RESULT | {S.FOLLOWED_UP}

STAGE_TEXT = {
    S.RECEIVED: "已收件",
    S.TOWN_REVIEW: "户籍地镇审核中",
    S.RETURNED: "退回补正",
    S.REJECTED: "不予受理",
    S.APPROVED: "户籍地镇审核通过",
    S.DEFERRAL_ACCEPTED: "容缺受理，先行办理中",
    S.AT_DEPARTMENT: "代办员已送部门办理",
    S.COMPLETED: "已办结",
    S.DELIVERED: "办理结果已告知",
    S.RATED: "已评价",
    S.FOLLOWED_UP: "已回访",
    S.WITHDRAWN: "已撤回",
    S.TERMINATED: "已终止办理",
}

NEXT_STEP = {
    S.RECEIVED: "正在转交{town}审核，不用您跑路。",
    S.TOWN_REVIEW: "等{town}在线审核，审核通过后由代办员送{department}办理。",
    S.RETURNED: "请按一次性补正清单补齐材料，交给代办员或就近便民服务点，补齐后重新审核。",
    S.REJECTED: "本事项不予受理，理由见审核意见；有疑问可联系代办员。",
    S.APPROVED: "代办员正在准备把材料送到{department}办理。",
    S.DEFERRAL_ACCEPTED: "代办员凭容缺快办审核表和诚信背书单先行送办，缺的材料请在期限内补齐。",
    S.AT_DEPARTMENT: "{department}正在办理，办好后代办员会告诉您结果。",
    S.COMPLETED: "已经办好，代办员会把结果告诉您、送到您手上。",
    S.DELIVERED: "结果已告知，欢迎对这次服务作出评价。",
    S.RATED: "感谢您的评价。",
    S.FOLLOWED_UP: "轮值组长已回访，本件办理完毕。",
    S.WITHDRAWN: "本件已撤回，需要时可以重新申请。",
    S.TERMINATED: "本件已终止办理，如有疑问请联系代办员。",
}


def allowed_roles(current: Stage | None, target: Stage) -> frozenset[str] | None:
    """Roles that may move a case from `current` (None: a case being opened) to `target`; None if the
    move is not allowed."""
    return TRANSITIONS.get(current, {}).get(target)


def role_may(roles: frozenset[str], role: str, holds_case: bool) -> bool:
    """Whether a caller of `role` may make a move open to `roles` (HOLDER: an agent holding the case)."""
    return role_in(roles, role, holds_case)
