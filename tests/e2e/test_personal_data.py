"""After a whole application through the web chat, the resident's ID number and phone are nowhere in
clear: not in any log file of the run, not in Rasa's tracker store, not in a transcript row.

`scripts/test.sh` names the log folder (E2E_LOG_DIR), Rasa's tracker file (E2E_TRACKER_DB) and the
platform's database (DATABASE_URL) of the processes it started.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text
from stdnum.cn import ric

from tests.e2e.conftest import platform_get, staff

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / os.environ.get("E2E_LOG_DIR", "test-artifacts/logs")
TRACKER_DB = ROOT / os.environ.get("E2E_TRACKER_DB", "var/test-tracker.db")

# Used by no other test, so finding them anywhere can only come from this conversation.
_BODY = "51322319530728461"
ID_NUMBER = _BODY + ric.calc_check_digit(_BODY + "0")
PHONE = "13982047316"
SECRETS = {
    ID_NUMBER, ID_NUMBER.replace("X", ""),   # the number, and its digits
    ID_NUMBER[6:14] + ID_NUMBER[14:17],      # birth date and sequence (what masking hides)
    PHONE, PHONE[:7], f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}",
}


def _logs() -> dict[str, str]:
    return {str(p): p.read_text(encoding="utf-8", errors="replace") for p in LOG_DIR.rglob("*") if p.is_file()}


def _tracker_rows() -> list[str]:
    with sqlite3.connect(TRACKER_DB) as conn:
        return [" ".join(str(v) for v in row) for row in conn.execute("SELECT * FROM events")]


def _transcript_rows() -> list[str]:
    engine = create_engine(os.environ["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return [" ".join(str(v) for v in row) for row in conn.execute(text("SELECT * FROM transcript_entries"))]
    finally:
        engine.dispose()


def _clear(texts) -> list[str]:
    return [t[:200] for t in texts if any(secret in t for secret in SECRETS)]


def test_an_application_leaves_no_id_number_or_phone_in_logs_trackers_or_transcripts(resident):
    resident.say("我在成都打工，想给屋头老娘申请高龄补贴")
    resident.say("杨子妹")
    resident.say(f"身份证号是{ID_NUMBER}")
    resident.say(f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}")
    resident.say("赤不苏镇雅都村")
    resident.say("我在成都")
    summary = resident.say("身份证和户口本都在屋头老娘那里")
    assert ID_NUMBER[:6] + "********" + ID_NUMBER[-4:] in summary and PHONE[:3] + "****" + PHONE[-4:] in summary
    done = resident.say("对的，提交嘛")
    cases = resident.cases()
    assert len(cases) == 1, resident.transcript
    assert cases[0]["case_no"] in done
    # The case holds the real numbers (the platform resolved the references of this conversation).
    case = platform_get(f"/api/v1/cases/{cases[0]['case_no']}", staff("agent-chibusu-1"))
    shown = str(case)
    assert ID_NUMBER[-4:] in shown and PHONE[-4:] in shown

    logs = _logs()
    assert logs, f"no log files under {LOG_DIR}"
    assert {name: _clear([body]) for name, body in logs.items() if _clear([body])} == {}
    tracker = _tracker_rows()
    assert any(resident.sender in row for row in tracker), "the conversation is in the tracker store"
    assert _clear(tracker) == []
    transcript = _transcript_rows()
    assert any(resident.sender in row and "身份证号是〔身份证#" in row for row in transcript)
    assert _clear(transcript) == []
