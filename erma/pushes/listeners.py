"""What the pushes do when the domain publishes an event (subscribed by erma/wiring.py): the words
(erma/pushes/templates.py), the notices, and their delivery put on the outbox — all in the transaction
of the change itself.

One message per stage change: the flow's own (the deficiency list, the rejection with its reason, the
approval, 容缺) or the result on completion, else the stage wording; completion also queues the rating
request. Changes the assistant makes for the resident (role `service`: withdrawing, resubmitting) are
not pushed: the assistant tells the resident in the same conversation.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from erma.cases.events import StageChanged
from erma.cases.models import Case, CaseEvent
from erma.cases.stages import Stage
from erma.conversations.events import AgentReplied, OwnerChanged
from erma.deferral.events import DeferralOpened, DeferralOverdue, DeferralReminderDue
from erma.permissions import Role
from erma.places.models import Town
from erma.pushes import templates
from erma.pushes.notices import notify_staff
from erma.pushes.service import notify_resident, queue_wechat, request_rating
from erma.review.events import CaseApproved, CaseRejected, DeficiencyNotified
from erma.staff.models import Staff

# The role the assistant acts in for the resident: it tells the resident itself.
ASSISTANT_ROLE = Role.SERVICE


def _tell(session: Session, case: Case, event: CaseEvent, kind: str, text: str, now: dt.datetime) -> None:
    """The one push of a stage change (named by its case event, so it is queued once)."""
    if event.actor_role == ASSISTANT_ROLE:
        return
    notify_resident(session, case, kind, text, push_key=f"case_event:{event.id}", now=now)


# ---------------------------------------------------------------- cases, review, 容缺

def on_stage_changed(session: Session, changed: StageChanged) -> None:
    if not changed.announce or changed.event.actor_role == ASSISTANT_ROLE:
        return
    case, target = changed.case, Stage(changed.event.to_stage)
    if target == Stage.COMPLETED:
        _tell(session, case, changed.event, "result",
              templates.result(templates.case_words(session, case), case.result or ""), changed.now)
        request_rating(session, case, changed.now)
        return
    _tell(session, case, changed.event, "stage_changed", templates.stage_change(session, case), changed.now)


def on_deficiency_notified(session: Session, notified: DeficiencyNotified) -> None:
    words = templates.case_words(session, notified.case)
    _tell(session, notified.case, notified.event, "deficiency_notice",
          templates.deficiency_list(words, notified.materials, notified.opinion), notified.now)


def on_case_approved(session: Session, approved: CaseApproved) -> None:
    words = templates.case_words(session, approved.case)
    _tell(session, approved.case, approved.event, "approved", templates.approved(words), approved.now)


def on_case_rejected(session: Session, rejected: CaseRejected) -> None:
    words = templates.case_words(session, rejected.case)
    _tell(session, rejected.case, rejected.event, "rejected", templates.rejected(words, rejected.opinion), rejected.now)


def on_deferral_opened(session: Session, opened: DeferralOpened) -> None:
    words = templates.case_words(session, opened.case)
    deferral = opened.deferral
    _tell(session, opened.case, opened.event, "deferral_opened",
          templates.deferral_opened(words, deferral.missing_materials, deferral.deadline), opened.now)


def on_deferral_reminder_due(session: Session, due: DeferralReminderDue) -> None:
    """The resident is reminded once (named by the deferral); the agent carrying the case gets a copy."""
    case, deferral = due.case, due.deferral
    notify_resident(session, case, "deferral_reminder",
                    templates.deferral_reminder(templates.case_words(session, case), deferral.missing_materials,
                                                deferral.deadline),
                    push_key=f"deferral_reminder:{deferral.id}", now=due.now)
    town = session.get(Town, deferral.endorser_town_code)
    notify_staff(session, case.agent_id, case, "deferral_reminder",
                 templates.deferral_reminder_staff(case.case_no, deferral.deadline, town.name,
                                                   deferral.missing_materials))


def on_deferral_overdue(session: Session, overdue: DeferralOverdue) -> None:
    notify_staff(session, overdue.lead.id if overdue.lead else None, overdue.case, "deferral_overdue",
                 templates.deferral_overdue_staff(overdue.case.case_no, overdue.deferral.deadline))


# ---------------------------------------------------------------- the conversation gateway

def relay_owner_change(session: Session, changed: OwnerChanged) -> None:
    """A person took, handed back or ended a WeChat conversation: the resident reads the same words
    the web page shows (who is serving them, with the credential number, or that the assistant is
    back), in the outbox's order with the replies."""
    conversation, entry = changed.conversation, changed.entry
    if conversation.channel != "wechat" or not conversation.external_user_id:
        return
    queue_wechat(session, conversation, entry.seq, entry.text, staff_id=entry.agent_staff_id)


def relay_agent_reply(session: Session, replied: AgentReplied) -> None:
    """An agent's reply, in the reply's transaction. The web page reads the transcript itself; a
    WeChat resident gets it by the customer-service API."""
    conversation, entry = replied.conversation, replied.entry
    if conversation.channel != "wechat" or not conversation.external_user_id:
        return
    agent = session.get(Staff, entry.agent_staff_id) if entry.agent_staff_id else None
    queue_wechat(session, conversation, entry.seq, templates.agent_reply(agent.display_name if agent else None, entry.text),
                 staff_id=entry.agent_staff_id)


# Event → listener, in the order they run (erma/wiring.py subscribes them before the outbox's).
SUBSCRIPTIONS = (
    (StageChanged, on_stage_changed),
    (DeficiencyNotified, on_deficiency_notified),
    (CaseApproved, on_case_approved),
    (CaseRejected, on_case_rejected),
    (DeferralOpened, on_deferral_opened),
    (DeferralReminderDue, on_deferral_reminder_due),
    (DeferralOverdue, on_deferral_overdue),
    (OwnerChanged, relay_owner_change),
    (AgentReplied, relay_agent_reply),
)
