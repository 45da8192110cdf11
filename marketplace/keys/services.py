from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.keys.hashing import DISPLAY_PREFIX_LENGTH, api_key_generate, api_key_hash
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import EPOCH


def api_key_create(
    *, user: User, name: str, limit_nanos: int | None = None, limit_reset: str = ""
) -> tuple[ApiKey, str]:
    """Create a key; the plaintext is returned here once and never stored."""
    plaintext = api_key_generate()
    api_key = ApiKey.objects.create(
        user=user,
        name=name.strip() or "default",
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
        key_hash=api_key_hash(plaintext),
        limit_nanos=limit_nanos,
        limit_reset=limit_reset,
    )
    return api_key, plaintext


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key; revoking twice keeps the first revocation time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_limit_set(*, api_key: ApiKey, limit_nanos: int | None, limit_reset: str) -> None:
    """Set a key's credit limit. A new reset period restarts the period's usage from zero:
    the hold triggers compare period starts, which are only comparable within one kind."""
    changes: dict[str, object] = {"limit_nanos": limit_nanos, "limit_reset": limit_reset}
    if limit_reset != api_key.limit_reset:
        changes.update(period_start=EPOCH, period_usage_nanos=0)
    ApiKey.objects.filter(pk=api_key.pk).update(**changes)
    api_key.refresh_from_db()
