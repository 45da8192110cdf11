"""API key format and hashing, shared by key creation and the gateway's authentication."""

import hashlib
import hmac
import secrets

from django.conf import settings

KEY_PREFIX = "sk-sy-v1-"
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6


def api_key_generate() -> str:
    # 256 random bits; the fixed prefix lets secret scanners recognise leaked keys.
    return KEY_PREFIX + secrets.token_hex(32)


def api_key_hash(plaintext: str) -> str:
    secret = settings.API_KEY_HMAC_SECRET.encode()
    return hmac.new(secret, plaintext.encode(), hashlib.sha256).hexdigest()


def api_key_looks_valid(plaintext: str) -> bool:
    return plaintext.startswith(KEY_PREFIX) and len(plaintext) == len(KEY_PREFIX) + 64
