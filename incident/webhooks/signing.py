"""Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`,
the key being the base64 part of the `whsec_…` secret. Pure: no database, no clock of its own."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

PREFIX = "whsec_"
MIN_KEY, MAX_KEY = 24, 64          # bytes, as the specification recommends
SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$")


def new_secret() -> str:
    """A fresh secret: whsec_ and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of a `whsec_…` secret; ValueError saying what is wrong."""
    if not secret.startswith(PREFIX):
        raise ValueError("must start with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("whsec_ followed by base64") from None
    if not MIN_KEY <= len(key) <= MAX_KEY:
        raise ValueError(f"the key must be {MIN_KEY} to {MAX_KEY} bytes (base64 after whsec_)")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header's value for this message."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, and the body's type."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body), "content-type": "application/json"}
