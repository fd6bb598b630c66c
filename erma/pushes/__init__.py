"""Pushes to residents: stage changes, the deficiency list, 容缺 reminders, the result and the rating
request, delivered through the durable outbox to the case's own conversation (the one that opened
it; for WeChat the openid's current one), web chat or WeChat; agents' WeChat replies go the same way. Undeliverable pushes are shown to agents."""
