"""Users' own provider keys (BYOK): encrypted at rest, shown only as their last four characters.

The plaintext exists only in the request that stores it and, decrypted, in the gateway's
memory; it is never logged, rendered or returned.
"""

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.models import Provider
from marketplace.keys.models import ProviderKey


class ProviderKeyInvalid(ValueError):
    pass


def _fernet() -> Fernet:
    return Fernet(settings.BYOK_ENCRYPTION_KEY.encode())


def provider_key_encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def provider_key_decrypt(token: str) -> str | None:
    """The key, or None when the token was not made with the current encryption key."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def provider_key_set(
    *, user_id: int, provider: Provider, api_key: str, always_use: bool
) -> ProviderKey:
    """Store (or replace) the user's key for a catalog provider."""
    api_key = api_key.strip()
    if len(api_key) < 8 or len(api_key) > 1000 or any(c.isspace() for c in api_key):
        raise ProviderKeyInvalid("Enter the provider's API key (8 to 1000 characters, no spaces)")
    values = {
        "encrypted_key": provider_key_encrypt(api_key),
        "last4": api_key[-4:],
        "always_use": always_use,
    }
    try:
        with transaction.atomic():
            return ProviderKey.objects.create(user_id=user_id, provider=provider, **values)
    except IntegrityError:
        ProviderKey.objects.filter(user_id=user_id, provider=provider).update(**values)
        return ProviderKey.objects.get(user_id=user_id, provider=provider)


def provider_key_set_always_use(*, user_id: int, key_id: int, always_use: bool) -> bool:
    return bool(
        ProviderKey.objects.filter(pk=key_id, user_id=user_id).update(always_use=always_use)
    )


def provider_key_delete(*, user_id: int, key_id: int) -> bool:
    deleted, _ = ProviderKey.objects.filter(pk=key_id, user_id=user_id).delete()
    return bool(deleted)
