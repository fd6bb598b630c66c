"""The action server runs any action on the tracker it is given, so only Rasa may reach it:
it listens on loopback alone, and `/webhook` needs the token Rasa sends (actions/access.py)."""
from __future__ import annotations

import os
import socket

import httpx
import pytest

from tests.e2e.conftest import Resident

PORTS = {"action server": int(os.environ.get("ACTIONS_PORT", "5055")), "Rasa": int(os.environ.get("RASA_PORT", "5005"))}
ACTIONS = f"http://127.0.0.1:{PORTS['action server']}"
# What a caller would send to run the status action on a tracker of its own making.
FORGED_CALL = {"next_action": "action_check_status", "sender_id": "stranger", "version": "3.6.21",
               "tracker": {"sender_id": "stranger", "slots": {"case_no": "EM-20260101-0001"}, "latest_message": {},
                           "events": [], "paused": False, "followup_action": None, "active_loop": {},
                           "latest_action_name": None},
               "domain": {}}


def _outward_address() -> str | None:
    """This machine's address on its network interface (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_webhook_without_the_token_is_refused() -> None:
    refused = httpx.post(f"{ACTIONS}/webhook", json=FORGED_CALL, timeout=10)
    assert refused.status_code == 401
    wrong = httpx.post(f"{ACTIONS}/webhook", params={"token": "guess"}, json=FORGED_CALL, timeout=10)
    assert wrong.status_code == 401


def test_the_token_rasa_holds_lets_the_call_through(resident: Resident) -> None:
    unknown = dict(FORGED_CALL, next_action="action_that_does_not_exist")
    passed = httpx.post(f"{ACTIONS}/webhook", params={"token": os.environ["ACTIONS_TOKEN"]}, json=unknown, timeout=10)
    assert passed.status_code == 404  # past the gate: the action server looked the action up
    # And Rasa, which holds the token, still runs actions: a requirements question is answered.
    assert "材料" in resident.say("办身份证要带啥子材料")


@pytest.mark.parametrize("name", sorted(PORTS))
def test_listens_on_loopback_only(name: str) -> None:
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no address outside loopback")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(3)
        with pytest.raises(OSError):
            client.connect((address, PORTS[name]))
