"""The gateway's view of provider health: reads for routing, writes after each attempt.

Reads are cached for `snapshot_ttl_s` (a second by default) so a request costs no extra round
trip to Redis while the view is fresh; what this process records updates its own view at once,
other replicas see it when their copy expires. Writes run in the background: a response never
waits for health bookkeeping. Health only steers routing, so when the store cannot be reached
requests still flow: on the last known view (or as if every endpoint were healthy), with the
failure logged.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from catalog.selectors import RoutableEndpoint
from proxy.health import CircuitState, EndpointHealth, EndpointStats, HealthStore
from proxy.routing.plan import Vitals

logger = logging.getLogger(__name__)


def _state_at(health: EndpointHealth, now: float) -> CircuitState:
    """The state of a cached reading now (an open circuit becomes half-open with time)."""
    if now < health.open_until:
        return CircuitState.OPEN
    return CircuitState.HALF_OPEN if health.ejections > 0 else CircuitState.CLOSED


def _vitals(health: EndpointHealth | None, stats: EndpointStats | None, now: float) -> Vitals:
    state = _state_at(health, now) if health is not None else CircuitState.CLOSED
    latency = stats.latency_last_5m if stats else None
    throughput = stats.throughput_last_5m if stats else None
    return Vitals(
        healthy=state is not CircuitState.OPEN,
        trial=state is CircuitState.HALF_OPEN,
        latency_ms=latency.p50 if latency else None,
        throughput_tps=throughput.p50 if throughput else None,
    )


class HealthMonitor:
    def __init__(
        self,
        store: HealthStore,
        *,
        snapshot_ttl_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._ttl_s = snapshot_ttl_s
        self._clock = clock
        self._health: dict[int, tuple[float, EndpointHealth]] = {}  # id -> (read at, reading)
        self._stats: dict[int, tuple[float, EndpointStats]] = {}
        self._pending: set[asyncio.Task[Any]] = set()

    async def vitals(
        self, endpoints: Sequence[RoutableEndpoint], *, with_speed: bool
    ) -> dict[int, Vitals]:
        now = self._clock()
        ids = [e.endpoint_id for e in endpoints]
        health = await self._fresh(self._health, ids, now, self.store.snapshot)
        stats = await self._fresh(self._stats, ids, now, self.store.stats) if with_speed else {}
        return {i: _vitals(health.get(i), stats.get(i), now) for i in ids}

    async def _fresh[T](
        self,
        cache: dict[int, tuple[float, T]],
        ids: list[int],
        now: float,
        read: Callable[[Sequence[int], float], Coroutine[Any, Any, dict[int, T]]],
    ) -> dict[int, T]:
        stale = [i for i in ids if i not in cache or now - cache[i][0] >= self._ttl_s]
        if stale:
            try:
                readings = await read(stale, now)
            except Exception:
                logger.exception("reading provider health failed; routing on what is known")
                readings = {}
            for endpoint_id, reading in readings.items():
                cache[endpoint_id] = (now, reading)
        return {i: cache[i][1] for i in ids if i in cache}

    async def trial_acquire(self, endpoint: RoutableEndpoint) -> bool:
        try:
            return await self.store.trial_acquire(endpoint.endpoint_id, self._clock())
        except Exception:
            logger.exception("taking a trial lease failed; the endpoint waits its turn")
            return False

    def success(
        self,
        endpoint: RoutableEndpoint,
        *,
        latency_ms: int | None,
        throughput_tps: float | None,
    ) -> None:
        now = self._clock()
        self._background(
            self.store.record_success(
                endpoint.endpoint_id, now, latency_ms=latency_ms, throughput_tps=throughput_tps
            )
        )

    def failure(
        self, endpoint: RoutableEndpoint, *, siblings: Sequence[int], retry_after_s: float | None
    ) -> None:
        now = self._clock()
        if retry_after_s is not None:
            recording = self.store.record_rate_limited(
                endpoint.endpoint_id, now, retry_after_s=retry_after_s
            )
        else:
            recording = self.store.record_failure(endpoint.endpoint_id, now, siblings=siblings)
        self._background(recording)

    def _background(self, record: Coroutine[Any, Any, EndpointHealth]) -> None:
        task = asyncio.ensure_future(self._remember(record))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _remember(self, record: Coroutine[Any, Any, EndpointHealth]) -> None:
        try:
            health = await record
        except Exception:
            logger.exception("recording provider health failed")
            return
        self._health[health.endpoint_id] = (self._clock(), health)

    async def settled(self) -> None:
        """Wait for the health records still being written (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self) -> None:
        await self.settled()
        await self.store.close()
