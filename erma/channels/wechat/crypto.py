"""WeChat safe mode (安全模式 / 兼容模式): AES-256-CBC message encryption of the Official Account.

The published scheme (WXBizMsgCrypt): key = base64(EncodingAESKey + "="), IV = the key's first
16 bytes, PKCS#7 padding to 32-byte blocks; the plaintext is 16 random bytes, the message length
(4 bytes, big-endian), the message, and the account's AppID. Every encrypted message carries
`msg_signature` = sha1 of token, timestamp, nonce and the ciphertext, sorted and joined.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CryptoError(Exception):
    """Not decryptable, wrong AppID, or a bad signature: the request is refused."""


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class MessageCrypto:
    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        try:
            self.key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("EncodingAESKey is not valid base64") from None
        if len(encoding_aes_key) != 43 or len(self.key) != 32:
            raise CryptoError("EncodingAESKey must be 43 characters")
        self.token, self.app_id = token, app_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def check(self, signature_value: str | None, timestamp: str | None, nonce: str | None, encrypted: str) -> bool:
        if not self.token or not signature_value or timestamp is None or nonce is None:
            return False
        expected = msg_signature(self.token, timestamp, nonce, encrypted)
        return hmac.compare_digest(expected.encode(), signature_value.lower().encode())  # bytes: any text is safe

    def decrypt(self, encrypted: str) -> bytes:
        """The inner XML of one message; CryptoError when anything about it is wrong."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("not base64") from None
        if not data or len(data) % 16:
            raise CryptoError("bad length")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise CryptoError("too short")
        (length,) = struct.unpack(">I", content[:4])
        message, app_id = content[4:4 + length], content[4 + length:]
        if len(message) != length or not hmac.compare_digest(app_id, self.app_id.encode()):
            raise CryptoError("wrong AppID")
        return message

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        body = message.encode()
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body + self.app_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def wrap_reply(self, reply_xml: str, nonce: str, timestamp: str | None = None) -> str:
        """A passive reply in safe mode: the encrypted XML with its own signature."""
        timestamp = timestamp or str(int(time.time()))
        encrypted = self.encrypt(reply_xml)
        signature_value = msg_signature(self.token, timestamp, nonce, encrypted)
        return ("<xml>"
                f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
                f"<MsgSignature><![CDATA[{signature_value}]]></MsgSignature>"
                f"<TimeStamp>{timestamp}</TimeStamp>"
                f"<Nonce><![CDATA[{nonce}]]></Nonce>"
                "</xml>")
