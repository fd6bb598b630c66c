"""Plugins of the action server: rasa_sdk imports a package of this name at start-up and calls
`init_hooks` (rasa_sdk.plugin). Ours makes the action server answer Rasa alone (actions/access.py)."""
from __future__ import annotations

import pluggy

from actions import access


def init_hooks(manager: pluggy.PluginManager) -> None:
    manager.register(access)
