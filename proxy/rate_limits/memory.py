"""Counts in this process's memory: exact when it is the only process (no REDIS_URL)."""

from collections.abc import Mapping, Sequence

from proxy.rate_limits.store import Limit, Refusal


def _reset_at(limit: Limit, counts: Mapping[int, int], used: int, bucket: int) -> int:
    """When enough of the oldest counts have left the window for this request to fit."""
    excess = used + limit.cost - limit.limit
    for counted in sorted(counts):
        excess -= counts[counted]
        if excess <= 0:
            return limit.window.leaves_at(counted)
    return limit.window.leaves_at(bucket)


class MemoryRateLimitStore:
    """This process's counts: exact when it is the only process (no REDIS_URL)."""

    SWEEP_EVERY_S = 60.0

    def __init__(self) -> None:
        self._counts: dict[str, dict[int, int]] = {}
        self._expires_at: dict[str, int] = {}
        self._swept_at = 0.0

    async def admit(self, limits: Sequence[Limit], now: float) -> Refusal | None:
        self._sweep(now)
        for limit in limits:
            bucket = limit.window.bucket(now)
            counts = self._counts.get(limit.counter, {})
            for old in [b for b in counts if b <= bucket - limit.window.span]:
                del counts[old]
            used = sum(counts.values())
            if used + limit.cost > limit.limit:
                return Refusal(limit, used, _reset_at(limit, counts, used, bucket))
        for limit in limits:
            bucket = limit.window.bucket(now)
            counts = self._counts.setdefault(limit.counter, {})
            counts[bucket] = counts.get(bucket, 0) + limit.cost
            self._expires_at[limit.counter] = limit.window.leaves_at(bucket)
        return None

    def _sweep(self, now: float) -> None:
        """Forget the counts of callers gone quiet, so memory stays bounded."""
        if now - self._swept_at < self.SWEEP_EVERY_S:
            return
        self._swept_at = now
        for counter in [c for c, at in self._expires_at.items() if at <= now]:
            del self._expires_at[counter], self._counts[counter]

    async def close(self) -> None:
        pass
