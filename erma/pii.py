"""Personal data: masking for display, keyed hashes for lookup, encryption at rest.

PIPL Art. 51 asks for encryption and de-identification; full ID numbers and phones are stored
only encrypted, matched by keyed hash, and shown masked unless a role needs them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet

from erma.settings import get_settings


def mask_id_number(number: str | None) -> str:
    if not number:
        return ""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str | None) -> str:
    """杨子妹 → 杨*妹, 王菊 → 王*."""
    if not name:
        return ""
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@lru_cache
def _keys() -> tuple[bytes, Fernet]:
    secret = get_settings().erma_pii_key.encode()
    hash_key = hmac.new(secret, b"erma-pii-hash", hashlib.sha256).digest()
    enc_key = hmac.new(secret, b"erma-pii-encrypt", hashlib.sha256).digest()
    return hash_key, Fernet(base64.urlsafe_b64encode(enc_key))


def keyed_hash(value: str) -> str:
    return hmac.new(_keys()[0], value.encode(), hashlib.sha256).hexdigest()


def encrypt(value: str) -> str:
    return _keys()[1].encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _keys()[1].decrypt(token.encode()).decode()
