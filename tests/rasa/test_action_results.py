"""rasa_plugins/action_results.py: Rasa checks each custom action's answer against a validator built once
instead of re-checking its schema every time; what it accepts and refuses stays jsonschema.validate's."""
from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import rasa_plugins  # noqa: F401 - importing the package (as Rasa does from endpoints.yml) installs it
from rasa_plugins import action_results

GOOD = {"events": [{"event": "slot", "name": "service_code", "value": "MX-001"}], "responses": [{"text": "好的"}]}
BAD = [{"events": [{"event": "slot", "name": 1}]}, {"events": "nope"}, {"events": [{"event": "no_such_event"}]},
       {"responses": "好的"}]


def test_the_kept_validator_is_installed():
    assert RemoteAction._validate_action_result is action_results._validate_action_result


def test_a_good_answer_passes():
    assert RemoteAction("action_x", None)._validate_action_result(GOOD) is True


@pytest.mark.parametrize("answer", BAD)
def test_a_malformed_answer_is_refused_with_jsonschemas_own_error(answer):
    with pytest.raises(jsonschema.ValidationError) as stock:
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as kept:
        RemoteAction("action_x", None)._validate_action_result(answer)
    assert kept.value.message.startswith(stock.value.message + ". Failed to validate Action server response")
    assert list(kept.value.path) == list(stock.value.path)
