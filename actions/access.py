"""Only Rasa may call the action server: its `/webhook` runs any action on the tracker it is given.

Rasa sends the action endpoint's `token` (endpoints.yml, from ACTIONS_TOKEN) as `?token=`; a request
to `/webhook` without that token is refused. Without ACTIONS_TOKEN every webhook call is refused, so
a server started by hand fails closed rather than open. `make run` also binds it to 127.0.0.1.
"""
from __future__ import annotations

import hmac
import logging
import os
from typing import Optional

import pluggy
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

log = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")
PROTECTED_PATHS = ("/webhook",)


def token_accepted(expected: Optional[str], given: Optional[str]) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


async def refuse_strangers(request: Request) -> Optional[HTTPResponse]:
    if request.path not in PROTECTED_PATHS:
        return None
    if token_accepted(os.environ.get("ACTIONS_TOKEN"), request.args.get("token")):
        return None
    log.warning("action server: refused a %s call without the action token", request.path)
    return json({"error": "forbidden"}, status=401)


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    if not os.environ.get("ACTIONS_TOKEN"):
        log.error("ACTIONS_TOKEN is not set: the action server refuses every /webhook call")
    app.register_middleware(refuse_strangers, "request")
