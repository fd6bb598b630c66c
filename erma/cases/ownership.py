"""Which conversations may act on a case: a conversation acts only on its own cases.

A case is bound to the conversation that opened it (`opened`) and to every conversation that proved
ownership (`proved`): a status lookup with the last four digits of the ID number or phone, or a lookup
without the case number by the ID number's last six plus the phone's last four or the applicant's name. A binding also names the channel user (the WeChat openid), so a resident's later
WeChat conversation (a closed one is followed by a new one for the same openid) keeps their cases.

The assistant (service token) may rate a case, and see its status without the last four digits,
only from a bound conversation; to any other conversation the case answers exactly like an
unknown one. Pushes go to the case's opener (erma/pushes/targets.py), never to a conversation
found through the applicant's ID number: anybody may type somebody else's ID number.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma.cases.lifecycle import case_not_found, get_case
from erma.cases.models import Case, CaseBinding
from erma.cases.stages import OPEN_STAGES
from erma.conversations.models import Conversation
from erma.db import utcnow
from erma.permissions import Role
from erma.staff.auth import Principal

OPENED, PROVED = "opened", "proved"


def bind(session: Session, case: Case, conversation_id: str, how: str, now: dt.datetime | None = None, *,
         new_case: bool = False) -> None:
    """Binds the case to the conversation (once; a second binding of the same pair changes nothing).
    `new_case`: the case was inserted in this transaction, so no binding of it exists nor can race
    (intake binds its opener without looking first). Does not commit."""
    if not new_case and session.scalar(select(CaseBinding.id).where(
            CaseBinding.case_id == case.id, CaseBinding.conversation_id == conversation_id)) is not None:
        return
    conversation = session.get(Conversation, conversation_id)
    binding = CaseBinding(case_id=case.id, conversation_id=conversation_id,
                          channel=conversation.channel if conversation else case.channel,
                          external_user_id=conversation.external_user_id if conversation else None,
                          how=how, at=now or utcnow())
    if new_case:
        session.add(binding)
        return
    try:
        with session.begin_nested():  # two lookups of the same pair at once: one binding
            session.add(binding)
    except IntegrityError:
        pass


def _bound_to(session: Session, conversation_id: str):
    """The condition "this binding belongs to the conversation or to its channel user"."""
    mine = CaseBinding.conversation_id == conversation_id
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.external_user_id:
        mine = or_(mine, and_(CaseBinding.channel == conversation.channel,
                              CaseBinding.external_user_id == conversation.external_user_id))
    return mine


def is_bound(session: Session, case: Case, conversation_id: str | None) -> bool:
    if not conversation_id:
        return False
    return bool(session.scalar(select(exists().where(CaseBinding.case_id == case.id,
                                                     _bound_to(session, conversation_id)))))


def own_case(session: Session, case_no: str, principal: Principal, conversation_id: str | None, *,
             for_update: bool = False) -> Case:
    """The case as get_case finds it; for the assistant only when bound to the conversation it acts
    for, else the same 404 as an unknown case. Staff act under their role's rules."""
    case = get_case(session, case_no, principal, for_update=for_update)
    if principal.role == Role.SERVICE and not is_bound(session, case, conversation_id):
        raise case_not_found(case_no)
    return case


def conversation_cases(session: Session, conversation_id: str) -> list[Case]:
    """The cases bound to the conversation (or its channel user): open ones first, then newest first."""
    bound = select(CaseBinding.case_id).where(_bound_to(session, conversation_id))
    is_open = Case.stage.in_([stage.value for stage in OPEN_STAGES])
    return list(session.scalars(select(Case).where(Case.id.in_(bound))
                                .order_by(is_open.desc(), Case.created_at.desc(), Case.id.desc())))


def opener(session: Session, case: Case) -> CaseBinding | None:
    """The binding of the conversation that opened the case (None: opened at a counter, by an agent…)."""
    return session.scalar(select(CaseBinding).where(CaseBinding.case_id == case.id, CaseBinding.how == OPENED)
                          .order_by(CaseBinding.id).limit(1))

