"""What happens to a case, published by erma/cases/lifecycle.py (erma/events.py: who listens is
decided by erma/wiring.py)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from erma.cases.models import Case, CaseEvent


@dataclass(frozen=True)
class StageChanged:
    """The case moved from `event.from_stage` to `event.to_stage` (`event.actor_role` made the move).

    `announce` is False when the flow that moved it tells the resident itself: by an event of its own
    (a review decision, a 容缺 opened) or in its own answer (a rating)."""
    case: Case
    event: CaseEvent
    now: dt.datetime
    announce: bool = True
