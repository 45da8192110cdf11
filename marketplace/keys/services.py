from datetime import datetime
from enum import Enum
from typing import Any

from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.keys.hashing import DISPLAY_PREFIX_LENGTH, api_key_generate, api_key_hash
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import EPOCH


class Unchanged(Enum):
    """What `api_key_update` leaves alone (None is a value: "no limit")."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


class ManagementKeyLimit(ValueError):
    """A management key calls no model, so it has no credit limit."""


def api_key_create(
    *,
    user: User,
    name: str,
    limit_nanos: int | None = None,
    limit_reset: str = "",
    expires_at: datetime | None = None,
    is_management: bool = False,
) -> tuple[ApiKey, str]:
    """Create a key; the plaintext is returned here once and never stored."""
    if is_management and (limit_nanos is not None or limit_reset):
        raise ManagementKeyLimit("A management key cannot have a credit limit")
    plaintext = api_key_generate()
    api_key = ApiKey.objects.create(
        user=user,
        name=name.strip() or "default",
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
        key_hash=api_key_hash(plaintext),
        is_management=is_management,
        expires_at=expires_at,
        limit_nanos=limit_nanos,
        limit_reset=limit_reset,
    )
    return api_key, plaintext


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke (delete) a key; revoking twice keeps the first revocation time. The row stays:
    holds and generations refer to it."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_key_update(
    *,
    api_key: ApiKey,
    name: str | Unchanged = UNCHANGED,
    disabled: bool | Unchanged = UNCHANGED,
    limit_nanos: int | Unchanged | None = UNCHANGED,
    limit_reset: str | Unchanged = UNCHANGED,
) -> bool:
    """Change a key that is not revoked, in one statement; False if it is revoked (or gone).

    A new reset period restarts the period's usage from zero: the hold triggers compare period
    starts, which are only comparable within one kind. The comparison is made by the UPDATE
    itself, so it holds against a concurrent change of the period.
    """
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if name is not UNCHANGED:
        changes["name"] = name.strip() or "default"
    if disabled is not UNCHANGED:
        changes["disabled"] = disabled
    limit_changes = limit_nanos is not UNCHANGED or limit_reset is not UNCHANGED
    if limit_changes and api_key.is_management:
        raise ManagementKeyLimit("A management key cannot have a credit limit")
    if limit_nanos is not UNCHANGED:
        changes["limit_nanos"] = limit_nanos
    if limit_reset is not UNCHANGED:
        changes["limit_reset"] = limit_reset
        same_period = Q(limit_reset=limit_reset)
        changes["period_start"] = Case(When(same_period, then=F("period_start")), default=EPOCH)
        changes["period_usage_nanos"] = Case(
            When(same_period, then=F("period_usage_nanos")), default=Value(0)
        )
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(**changes)
    api_key.refresh_from_db()
    return updated == 1


def api_key_limit_set(*, api_key: ApiKey, limit_nanos: int | None, limit_reset: str) -> None:
    """Set a key's credit limit (see `api_key_update`)."""
    api_key_update(api_key=api_key, limit_nanos=limit_nanos, limit_reset=limit_reset)
