"""The one interface the gateway uses for endpoint health, and the choice of store."""

from collections.abc import Sequence
from typing import Protocol

from proxy.health.memory import MemoryHealthStore
from proxy.health.policy import BreakerPolicy, EndpointHealth
from proxy.health.redis_store import RedisHealthStore
from proxy.health.stats import EndpointStats


class HealthStore(Protocol):
    """Per-endpoint circuit breakers and rolling statistics.

    Time is always passed in as `now` (epoch seconds): a store never reads the clock, so every
    replica and every test decides what time it is. Each call is one atomic step.
    """

    async def record_success(
        self,
        endpoint_id: int,
        now: float,
        *,
        latency_ms: int | None,
        throughput_tps: float | None,
    ) -> EndpointHealth: ...

    async def record_successes(
        self,
        endpoint_id: int,
        now: float,
        *,
        count: int,
        latencies_ms: Sequence[int],
        throughputs_tps: Sequence[float],
    ) -> EndpointHealth:
        """`count` successes at once, with their samples (oldest first): as if recorded one by
        one at `now`."""
        ...

    async def record_failure(
        self, endpoint_id: int, now: float, *, siblings: Sequence[int]
    ) -> EndpointHealth:
        """`siblings`: the other endpoints of the same model, which keep this one from being
        ejected while all of them are open."""
        ...

    async def record_rate_limited(
        self, endpoint_id: int, now: float, *, retry_after_s: float
    ) -> EndpointHealth: ...

    async def trial_acquire(self, endpoint_id: int, now: float) -> bool:
        """Take the single trial lease of a half-open endpoint; False if closed, open or held."""
        ...

    async def snapshot(
        self, endpoint_ids: Sequence[int], now: float
    ) -> dict[int, EndpointHealth]: ...

    async def stats(self, endpoint_ids: Sequence[int], now: float) -> dict[int, EndpointStats]: ...

    async def idle_or_due(
        self, endpoint_ids: Sequence[int], now: float, *, idle_after_s: float
    ) -> list[int]: ...

    async def close(self) -> None: ...


def health_store_create(*, redis_url: str, prefix: str, policy: BreakerPolicy) -> HealthStore:
    """Redis, shared by every replica, when it is configured; else this process's memory."""
    if redis_url:
        return RedisHealthStore.from_url(redis_url, prefix=prefix, policy=policy)
    return MemoryHealthStore(policy=policy)
