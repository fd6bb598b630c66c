"""Synthetic personal data for tests that talk to a running platform."""
from __future__ import annotations

import datetime as dt
import random

from stdnum.cn import ric

_RANDOM = random.SystemRandom()


def fresh_id_number() -> str:
    """A valid synthetic ID number no other test uses (a random birth day in the 1940s and sequence):
    the platform refuses a second open case for the same ID number and item without the resident's
    confirmation, so each application has its own."""
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=_RANDOM.randrange(3650))
    body = "513223" + birth.strftime("%Y%m%d") + f"{_RANDOM.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")  # (it reads the first 17 of 18)


def masked_id(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]
