"""The conversation gateway: each resident conversation's owner (bot / queued / agent / closed) and transcript."""
