"""Endpoint health in Redis, shared by every gateway replica.

Keys, all under the store's prefix P:
  P:circuit:<id>                  hash, the breaker state (see redis_scripts.CIRCUIT_FIELDS)
  P:minute:<id>:<minute>          hash ok / error / rate_limited, expires after 31 minutes
  P:hour:<id>:<hour>              hash ok / error / rate_limited, expires after 25 hours
  P:latency:<id>:<minute>         list, newest first, at most SAMPLES_PER_MINUTE, 31 minutes
  P:throughput:<id>:<minute>      list, likewise
(<minute> and <hour> count from the epoch.) Circuits do not expire: there is one per endpoint.

Each call is one round trip: record_*, trial_acquire and stats are one EVALSHA each,
snapshot and idle_or_due one pipeline of HMGETs.
"""

from collections.abc import Sequence
from typing import Self

import redis.asyncio as redis

from proxy.health import redis_scripts
from proxy.health.policy import (
    BreakerPolicy,
    Circuit,
    EndpointHealth,
    endpoint_health,
    endpoints_due_for_probe,
)
from proxy.health.stats import (
    DAY_WINDOW_HOURS,
    HOUR_BUCKET_TTL_S,
    LONG_WINDOW_MINUTES,
    MINUTE_BUCKET_TTL_S,
    SAMPLES_PER_MINUTE,
    Buckets,
    Counts,
    EndpointStats,
    hour_of,
    minute_of,
    stats_from_buckets,
    window_hours,
    window_minutes,
)


class RedisHealthStore:
    def __init__(self, client: redis.Redis, *, prefix: str, policy: BreakerPolicy) -> None:
        """The store owns `client` (it must decode responses) and closes it in `close`."""
        self._client = client
        self._prefix = prefix
        self._policy = policy
        self._record_success = client.register_script(redis_scripts.RECORD_SUCCESS)
        self._record_failure = client.register_script(redis_scripts.RECORD_FAILURE)
        self._record_rate_limited = client.register_script(redis_scripts.RECORD_RATE_LIMITED)
        self._trial_acquire = client.register_script(redis_scripts.TRIAL_ACQUIRE)
        self._read_buckets = client.register_script(redis_scripts.READ_BUCKETS)

    @classmethod
    def from_url(cls, url: str, *, prefix: str, policy: BreakerPolicy) -> Self:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix=prefix, policy=policy)

    async def record_success(
        self,
        endpoint_id: int,
        now: float,
        *,
        latency_ms: int | None,
        throughput_tps: float | None,
    ) -> EndpointHealth:
        return await self.record_successes(
            endpoint_id, now, count=1, latencies_ms=_listed(latency_ms),
            throughputs_tps=_listed(throughput_tps),
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
        minute = minute_of(now)
        keys = [
            *self._record_keys(endpoint_id, now),
            self._key("latency", endpoint_id, minute),
            self._key("throughput", endpoint_id, minute),
        ]
        # Only the newest samples could be kept anyway.
        latencies = list(latencies_ms)[-SAMPLES_PER_MINUTE:]
        throughputs = list(throughputs_tps)[-SAMPLES_PER_MINUTE:]
        args = [now, count, SAMPLES_PER_MINUTE, *self._ttls(), len(latencies)]
        fields = await self._record_success(keys, [*args, *latencies, *throughputs])
        return endpoint_health(endpoint_id, _circuit(fields), now)

    async def record_failure(
        self, endpoint_id: int, now: float, *, siblings: Sequence[int]
    ) -> EndpointHealth:
        keys = [*self._record_keys(endpoint_id, now), *map(self._circuit_key, siblings)]
        policy = self._policy
        args = [now, policy.failure_threshold, policy.base_cooldown_s, policy.max_cooldown_s]
        fields = await self._record_failure(keys, [*args, *self._ttls()])
        return endpoint_health(endpoint_id, _circuit(fields), now)

    async def record_rate_limited(
        self, endpoint_id: int, now: float, *, retry_after_s: float
    ) -> EndpointHealth:
        keys = self._record_keys(endpoint_id, now)
        fields = await self._record_rate_limited(keys, [now, retry_after_s, *self._ttls()])
        return endpoint_health(endpoint_id, _circuit(fields), now)

    async def trial_acquire(self, endpoint_id: int, now: float) -> bool:
        keys = [self._circuit_key(endpoint_id)]
        taken = await self._trial_acquire(keys, [now, self._policy.trial_timeout_s])
        return bool(taken)

    async def snapshot(self, endpoint_ids: Sequence[int], now: float) -> dict[int, EndpointHealth]:
        if not endpoint_ids:
            return {}
        async with self._client.pipeline(transaction=False) as pipe:
            for endpoint_id in endpoint_ids:
                pipe.hmget(self._circuit_key(endpoint_id), redis_scripts.CIRCUIT_FIELDS)
            replies = await pipe.execute()
        return {
            endpoint_id: endpoint_health(endpoint_id, _circuit(fields), now)
            for endpoint_id, fields in zip(endpoint_ids, replies, strict=True)
        }

    async def stats(self, endpoint_ids: Sequence[int], now: float) -> dict[int, EndpointStats]:
        if not endpoint_ids:
            return {}
        minutes, hours = window_minutes(now), window_hours(now)
        keys = [key for i in endpoint_ids for key in self._bucket_keys(i, minutes, hours)]
        replies = await self._read_buckets(keys, [len(minutes), len(hours)])
        stats = {}
        for endpoint_id, reply in zip(endpoint_ids, replies, strict=True):
            stats[endpoint_id] = stats_from_buckets(endpoint_id, _buckets(reply.split(";")))
        return stats

    async def idle_or_due(
        self, endpoint_ids: Sequence[int], now: float, *, idle_after_s: float
    ) -> list[int]:
        healths = (await self.snapshot(endpoint_ids, now)).values()
        return endpoints_due_for_probe(healths, now, idle_after_s=idle_after_s)

    async def close(self) -> None:
        await self._client.aclose()

    def _bucket_keys(self, endpoint_id: int, minutes: list[int], hours: list[int]) -> list[str]:
        """In the order `_buckets` reads the replies."""
        return [
            *(self._key("minute", endpoint_id, minute) for minute in minutes),
            *(self._key("hour", endpoint_id, hour) for hour in hours),
            *(self._key("latency", endpoint_id, minute) for minute in minutes),
            *(self._key("throughput", endpoint_id, minute) for minute in minutes),
        ]

    def _record_keys(self, endpoint_id: int, now: float) -> list[str]:
        return [
            self._circuit_key(endpoint_id),
            self._key("minute", endpoint_id, minute_of(now)),
            self._key("hour", endpoint_id, hour_of(now)),
        ]

    def _circuit_key(self, endpoint_id: int) -> str:
        return f"{self._prefix}:circuit:{endpoint_id}"

    def _key(self, kind: str, endpoint_id: int, bucket: int) -> str:
        return f"{self._prefix}:{kind}:{endpoint_id}:{bucket}"

    @staticmethod
    def _ttls() -> list[int]:
        return [MINUTE_BUCKET_TTL_S, HOUR_BUCKET_TTL_S]


def _listed[T](value: T | None) -> list[T]:
    return [] if value is None else [value]


def _circuit(fields: Sequence[str | None]) -> Circuit:
    failures, ejections, open_until, trial_until, last_request_at = fields
    return Circuit(
        consecutive_failures=int(failures or 0),
        ejections=int(ejections or 0),
        open_until=float(open_until or 0),
        trial_until=float(trial_until or 0),
        last_request_at=float(last_request_at or 0),
    )


def _buckets(replies: Sequence[str]) -> Buckets:
    """One endpoint's replies, in the order of `_bucket_keys`."""
    hours_end = LONG_WINDOW_MINUTES + DAY_WINDOW_HOURS
    latency_end = hours_end + LONG_WINDOW_MINUTES
    return Buckets(
        minutes=[_counts(reply) for reply in replies[:LONG_WINDOW_MINUTES]],
        hours=[_counts(reply) for reply in replies[LONG_WINDOW_MINUTES:hours_end]],
        latency_ms=[_samples(reply) for reply in replies[hours_end:latency_end]],
        throughput_tps=[_samples(reply) for reply in replies[latency_end:]],
    )


def _counts(reply: str) -> Counts:
    ok, error, rate_limited = map(int, reply.split(","))
    return Counts(ok=ok, error=error, rate_limited=rate_limited)


def _samples(reply: str) -> list[float]:
    return [float(sample) for sample in reply.split(",")] if reply else []
