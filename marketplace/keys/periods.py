"""The periods of a key's credit limit: they start at midnight UTC (weeks on Monday)."""

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(limit_reset: str, now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if limit_reset == "daily":
        return day
    if limit_reset == "weekly":
        return day - timedelta(days=day.weekday())
    if limit_reset == "monthly":
        return day.replace(day=1)
    return EPOCH
