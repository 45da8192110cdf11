"""Endpoint health in this process's memory, for a gateway without Redis (one replica).

Every method runs without awaiting, so on one event loop each call is atomic, as the Redis
store's scripts are.
"""

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from proxy.health.policy import (
    BreakerPolicy,
    Circuit,
    EndpointHealth,
    circuit_after_failure,
    circuit_after_rate_limit,
    circuit_after_success,
    circuit_is_open,
    circuit_with_trial,
    endpoint_health,
    endpoints_due_for_probe,
)
from proxy.health.stats import (
    DAY_WINDOW_HOURS,
    LONG_WINDOW_MINUTES,
    SAMPLES_PER_MINUTE,
    Buckets,
    Counts,
    EndpointStats,
    Outcome,
    hour_of,
    minute_of,
    stats_from_buckets,
    window_hours,
    window_minutes,
)

Samples = deque[float]


@dataclass(slots=True)
class _History:
    """One endpoint's buckets, keyed by minute or hour number."""

    minutes: dict[int, Counter[Outcome]] = field(default_factory=dict)
    hours: dict[int, Counter[Outcome]] = field(default_factory=dict)
    latency_ms: dict[int, Samples] = field(default_factory=dict)
    throughput_tps: dict[int, Samples] = field(default_factory=dict)


class MemoryHealthStore:
    def __init__(self, *, policy: BreakerPolicy) -> None:
        self._policy = policy
        self._circuits: dict[int, Circuit] = {}
        self._histories: dict[int, _History] = {}

    async def record_success(
        self,
        endpoint_id: int,
        now: float,
        *,
        latency_ms: int | None,
        throughput_tps: float | None,
    ) -> EndpointHealth:
        return await self.record_successes(
            endpoint_id, now, count=1,
            latencies_ms=[] if latency_ms is None else [latency_ms],
            throughputs_tps=[] if throughput_tps is None else [throughput_tps],
        )  # fmt: skip

    async def record_successes(
        self,
        endpoint_id: int,
        now: float,
        *,
        count: int,
        latencies_ms: Sequence[int],
        throughputs_tps: Sequence[float],
    ) -> EndpointHealth:
        circuit = circuit_after_success(self._circuit(endpoint_id), now)
        history = self._count(endpoint_id, now, Outcome.OK, by=count)
        minute = minute_of(now)
        for latency in latencies_ms:
            _sample(history.latency_ms, minute, float(latency))
        for throughput in throughputs_tps:
            _sample(history.throughput_tps, minute, throughput)
        return self._save(endpoint_id, circuit, now)

    async def record_failure(
        self, endpoint_id: int, now: float, *, siblings: Sequence[int]
    ) -> EndpointHealth:
        all_open = all(circuit_is_open(self._circuit(s), now) for s in siblings)
        circuit = circuit_after_failure(
            self._circuit(endpoint_id), now, policy=self._policy, siblings_all_open=all_open
        )
        self._count(endpoint_id, now, Outcome.ERROR)
        return self._save(endpoint_id, circuit, now)

    async def record_rate_limited(
        self, endpoint_id: int, now: float, *, retry_after_s: float
    ) -> EndpointHealth:
        circuit = circuit_after_rate_limit(
            self._circuit(endpoint_id), now, retry_after_s=retry_after_s
        )
        self._count(endpoint_id, now, Outcome.RATE_LIMITED)
        return self._save(endpoint_id, circuit, now)

    async def trial_acquire(self, endpoint_id: int, now: float) -> bool:
        circuit = circuit_with_trial(self._circuit(endpoint_id), now, policy=self._policy)
        if circuit is None:
            return False
        self._circuits[endpoint_id] = circuit
        return True

    async def snapshot(self, endpoint_ids: Sequence[int], now: float) -> dict[int, EndpointHealth]:
        return {i: endpoint_health(i, self._circuit(i), now) for i in endpoint_ids}

    async def stats(self, endpoint_ids: Sequence[int], now: float) -> dict[int, EndpointStats]:
        return {i: stats_from_buckets(i, self._buckets(i, now)) for i in endpoint_ids}

    async def idle_or_due(
        self, endpoint_ids: Sequence[int], now: float, *, idle_after_s: float
    ) -> list[int]:
        healths = (await self.snapshot(endpoint_ids, now)).values()
        return endpoints_due_for_probe(healths, now, idle_after_s=idle_after_s)

    async def close(self) -> None:
        pass

    def _circuit(self, endpoint_id: int) -> Circuit:
        return self._circuits.get(endpoint_id, Circuit())

    def _save(self, endpoint_id: int, circuit: Circuit, now: float) -> EndpointHealth:
        self._circuits[endpoint_id] = circuit
        return endpoint_health(endpoint_id, circuit, now)

    def _count(self, endpoint_id: int, now: float, outcome: Outcome, *, by: int = 1) -> _History:
        history = self._histories.setdefault(endpoint_id, _History())
        _prune(history, now)
        history.minutes.setdefault(minute_of(now), Counter())[outcome] += by
        history.hours.setdefault(hour_of(now), Counter())[outcome] += by
        return history

    def _buckets(self, endpoint_id: int, now: float) -> Buckets:
        history = self._histories.get(endpoint_id, _History())
        minutes, hours = window_minutes(now), window_hours(now)
        return Buckets(
            minutes=[_counts(history.minutes.get(m)) for m in minutes],
            hours=[_counts(history.hours.get(h)) for h in hours],
            latency_ms=[list(history.latency_ms.get(m, ())) for m in minutes],
            throughput_tps=[list(history.throughput_tps.get(m, ())) for m in minutes],
        )


def _sample(per_minute: dict[int, Samples], minute: int, value: float) -> None:
    # A full deque drops its oldest sample: the newest SAMPLES_PER_MINUTE are kept.
    per_minute.setdefault(minute, deque(maxlen=SAMPLES_PER_MINUTE)).append(value)


def _prune(history: _History, now: float) -> None:
    """Forget the buckets that no window reads any more."""
    oldest_minute = minute_of(now) - LONG_WINDOW_MINUTES + 1
    oldest_hour = hour_of(now) - DAY_WINDOW_HOURS + 1
    for per_minute in (history.minutes, history.latency_ms, history.throughput_tps):
        for minute in [m for m in per_minute if m < oldest_minute]:
            del per_minute[minute]
    for hour in [h for h in history.hours if h < oldest_hour]:
        del history.hours[hour]


def _counts(counter: Counter[Outcome] | None) -> Counts:
    if counter is None:
        return Counts()
    return Counts(
        ok=counter[Outcome.OK],
        error=counter[Outcome.ERROR],
        rate_limited=counter[Outcome.RATE_LIMITED],
    )
