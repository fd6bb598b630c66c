"""The conversation gateway: each resident conversation's owner (bot / queued / agent / closed) and transcript,
and handing it to a person (handoff.py). What happens in it is published as events (events.py)."""
