"""Pushes to residents: stage changes, the deficiency list, 容缺 reminders, the result and the rating
request, delivered through the durable outbox to the channel the resident last used (web chat or
WeChat); agents' WeChat replies go the same way. Undeliverable pushes are shown to agents."""
