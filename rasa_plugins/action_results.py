"""Rasa 3.6 checks every custom action's answer with `jsonschema.validate(answer, schema)`
(RemoteAction._validate_action_result), which first checks the schema itself against JSON Schema's
metaschema: Rasa's event schema is large, and that check was most of the CPU an action turn cost
Rasa (py-spy during `make bench`, docs/benchmarks.md). The schema is Rasa's own constant, so here its
validator is built once; every answer is still validated against the same schema and a bad one
raises the same error (`jsonschema.validate` raises the `best_match` of the errors). Installed when
Rasa imports this package (rasa_plugins/__init__.py), i.e. when endpoints.yml names its tracker store.
"""
from __future__ import annotations

from typing import Any, Dict

from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_SCHEMA = RemoteAction.action_response_format_spec()
_VALIDATOR = validators.validator_for(_SCHEMA)(_SCHEMA)


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    error = best_match(_VALIDATOR.iter_errors(result))
    if error is not None:
        # Rasa's own wording for a bad answer (rasa/core/actions/action.py).
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
