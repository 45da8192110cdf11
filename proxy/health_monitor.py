"""The gateway's view of provider health: reads for routing, writes after each attempt.

Reads are cached for `snapshot_ttl_s` (a second by default) so a request costs no extra round
trip to Redis while the view is fresh; what this process records updates its own view at once,
other replicas see it when their copy expires. Writes run in the background: a response never
waits for health bookkeeping. Health only steers routing, so when the store cannot be reached
requests still flow: on the last known view (or as if every endpoint were healthy), with the
failure logged.

Routine successes (of an endpoint this process sees closed, with no failure counted) change
nothing but counters and samples, so they are written together, one store call per endpoint
every `success_batch_s`: one Redis script per request cost a third of the gateway's CPU.
Anything else (a failure, a rate limit, a success that closes a circuit or clears failures)
is written at once.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
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


def _routine(health: EndpointHealth, now: float) -> bool:
    """A success here changes no circuit: closed, with no failure to clear."""
    return _state_at(health, now) is CircuitState.CLOSED and health.consecutive_failures == 0


@dataclass(slots=True)
class _Successes:
    count: int = 0
    latencies_ms: list[int] = field(default_factory=list)
    throughputs_tps: list[float] = field(default_factory=list)


class HealthMonitor:
    def __init__(
        self,
        store: HealthStore,
        *,
        snapshot_ttl_s: float = 1.0,
        success_batch_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._ttl_s = snapshot_ttl_s
        self._batch_s = success_batch_s
        self._clock = clock
        self._health: dict[int, tuple[float, EndpointHealth]] = {}  # id -> (read at, reading)
        self._stats: dict[int, tuple[float, EndpointStats]] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        self._successes: dict[int, _Successes] = {}  # routine successes not yet written
        self._flush_due: asyncio.TimerHandle | None = None

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
        endpoint_id = endpoint.endpoint_id
        known = self._health.get(endpoint_id)
        if self._batch_s <= 0 or known is None or not _routine(known[1], now):
            self._background(
                self.store.record_success(
                    endpoint_id, now, latency_ms=latency_ms, throughput_tps=throughput_tps
                )
            )
            return
        batch = self._successes.setdefault(endpoint_id, _Successes())
        batch.count += 1
        if latency_ms is not None:
            batch.latencies_ms.append(latency_ms)
        if throughput_tps is not None:
            batch.throughputs_tps.append(throughput_tps)
        if self._flush_due is None:
            self._flush_due = asyncio.get_running_loop().call_later(self._batch_s, self.flush)

    def flush(self) -> None:
        """Write the routine successes gathered so far (in the background)."""
        if self._flush_due is not None:
            self._flush_due.cancel()
            self._flush_due = None
        batches, self._successes = self._successes, {}
        now = self._clock()
        for endpoint_id, batch in batches.items():
            self._background(
                self.store.record_successes(
                    endpoint_id, now, count=batch.count, latencies_ms=batch.latencies_ms,
                    throughputs_tps=batch.throughputs_tps,
                )
            )  # fmt: skip

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
        """Write what is gathered and wait for it (tests, shutdown)."""
        self.flush()
        # (A finished task leaves the set only in a callback of the loop: not awaited here.)
        while pending := [task for task in self._pending if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        await self.settled()
        await self.store.close()
