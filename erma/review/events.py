"""The household town's review decisions, published by erma/review/service.py (who listens is decided
by erma/wiring.py). `event` is the case's transition that the decision made."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from erma.cases.models import Case, CaseEvent


@dataclass(frozen=True)
class DeficiencyNotified:
    """退回补正: the one-time list of every material still needed, with the reviewer's opinion."""
    case: Case
    event: CaseEvent
    materials: list[str]
    opinion: str
    now: dt.datetime


@dataclass(frozen=True)
class CaseApproved:
    """审核通过 or 同意容缺: the agent takes the materials to the department."""
    case: Case
    event: CaseEvent
    now: dt.datetime


@dataclass(frozen=True)
class CaseRejected:
    """不予受理, with the reviewer's reason."""
    case: Case
    event: CaseEvent
    opinion: str
    now: dt.datetime
