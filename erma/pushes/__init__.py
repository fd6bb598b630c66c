"""Pushes to residents: stage changes, the deficiency list, 容缺 reminders, the result and the rating
request, delivered through the durable outbox to the case's own conversation (the one that opened
it; for WeChat the openid's current one), web chat or WeChat; agents' WeChat replies go the same way.
Undeliverable pushes are shown to agents.

The pushes listen to the domain's events (listeners.py, subscribed by erma/wiring.py); the words are in
templates.py; the resident and staff notices they write are models.Notice (notices.py)."""
