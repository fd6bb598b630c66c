"""The Official Account callback signature: sha1 of token, timestamp and nonce sorted and joined."""
from __future__ import annotations

import hashlib
import hmac


def signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def check(token: str, signature_value: str | None, timestamp: str | None, nonce: str | None) -> bool:
    """False without a configured token or any of the three values; compared in constant time."""
    if not token or not signature_value or timestamp is None or nonce is None:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII text (a TypeError, i.e. a 500, before).
    return hmac.compare_digest(signature(token, timestamp, nonce).encode(), signature_value.lower().encode())
