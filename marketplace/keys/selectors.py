from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.db.models import Q, QuerySet, Sum

from billing.models import Generation
from marketplace.accounts.models import User
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import period_start


@dataclass(frozen=True, slots=True)
class KeySpend:
    """What a key has spent: in the current period of its limit (all time for a limit that
    never resets), and since the start of the current UTC day, week (Monday) and month."""

    period_usage_nanos: int
    limit_remaining_nanos: int | None
    daily_nanos: int
    weekly_nanos: int
    monthly_nanos: int


def api_keys_listed(
    *, user_id: int, include_disabled: bool = True, inference_only: bool = False
) -> QuerySet[ApiKey]:
    """The user's keys that are not revoked, newest first (a stable order for paging)."""
    keys = ApiKey.objects.filter(user_id=user_id, revoked_at__isnull=True)
    if not include_disabled:
        keys = keys.filter(disabled=False)
    if inference_only:
        keys = keys.filter(is_management=False)
    return keys.order_by("-created_at", "-id")


def inference_key_of(*, user_id: int, key_hash: str) -> ApiKey | None:
    """An inference key of this user that is not revoked, by its hash (None for anyone
    else's: another account's keys are as unknown as missing ones)."""
    keys = api_keys_listed(user_id=user_id, inference_only=True)
    return keys.filter(key_hash=key_hash).first()


def key_period_usage_nanos(api_key: ApiKey, *, now: datetime) -> int:
    """The key's usage counted against its limit now: the triggers start a new period lazily
    (on the next hold), so a counter of an earlier period counts as zero."""
    if api_key.period_start < period_start(api_key.limit_reset, now):
        return 0
    return api_key.period_usage_nanos


def _generation_totals(keys: Sequence[ApiKey], *, now: datetime) -> dict[int, tuple[int, ...]]:
    """Each key's charges since the start of the UTC day, week and month (one query)."""
    day, week, month = (period_start(reset, now) for reset in ("daily", "weekly", "monthly"))
    rows = (
        Generation.objects.filter(
            # The user too, for the index on (user, key, time).
            user_id__in={key.user_id for key in keys},
            api_key__in=keys,
            created_at__gte=min(week, month),
        )
        .values("api_key")
        .annotate(
            daily=Sum("cost_nanos", filter=Q(created_at__gte=day), default=0),
            weekly=Sum("cost_nanos", filter=Q(created_at__gte=week), default=0),
            monthly=Sum("cost_nanos", filter=Q(created_at__gte=month), default=0),
        )
        .order_by()
    )
    return {row["api_key"]: (row["daily"], row["weekly"], row["monthly"]) for row in rows}


def api_key_spends(keys: Sequence[ApiKey], *, now: datetime) -> dict[int, KeySpend]:
    """Each key's spending, from its counters and its generations."""
    totals = _generation_totals(keys, now=now) if keys else {}
    spends = {}
    for key in keys:
        period_usage = key_period_usage_nanos(key, now=now)
        limit = key.limit_nanos
        daily, weekly, monthly = totals.get(key.pk, (0, 0, 0))
        spends[key.pk] = KeySpend(
            period_usage_nanos=period_usage,
            limit_remaining_nanos=None
            if limit is None
            else max(limit - period_usage - key.reserved_nanos, 0),
            daily_nanos=int(daily),
            weekly_nanos=int(weekly),
            monthly_nanos=int(monthly),
        )
    return spends


def key_creation_allowed(*, user: User) -> bool:
    """Keys are created only by people whose e-mail address is verified."""
    return bool(EmailAddress.objects.filter(user=user, verified=True).exists())
