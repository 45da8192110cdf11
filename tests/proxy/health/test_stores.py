"""How the stores are built and what they cost: the factory, Redis keys and their expiry,
one round trip per call."""

from collections.abc import Awaitable, Callable

import pytest
import redis

from proxy.health import MemoryHealthStore, RedisHealthStore, health_store_create
from tests.proxy.health.support import ALONE, FIRST, HOUR, MINUTE, POLICY, SECOND, T0
from tests.redis_sends import redis_sends_during


async def test_the_factory_picks_redis_only_when_configured(
    redis_url: str, redis_prefix: str
) -> None:
    memory = health_store_create(redis_url="", prefix=redis_prefix, policy=POLICY)
    shared = health_store_create(redis_url=redis_url, prefix=redis_prefix, policy=POLICY)
    try:
        assert isinstance(memory, MemoryHealthStore)
        assert isinstance(shared, RedisHealthStore)
    finally:
        await memory.close()
        await shared.close()


async def test_redis_keys_stay_under_the_prefix_and_expire(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisHealthStore.from_url(redis_url, prefix=redis_prefix, policy=POLICY)
    try:
        await store.record_success(FIRST, T0, latency_ms=5, throughput_tps=5.0)
        await store.record_failure(FIRST, T0, siblings=[SECOND])
    finally:
        await store.close()

    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        ttls = {key: client.ttl(key) for key in client.scan_iter(match=f"{redis_prefix}:*")}
    minute, hour = int(T0 // 60), int(T0 // 3600)
    assert set(ttls) == {
        f"{redis_prefix}:circuit:{FIRST}",
        f"{redis_prefix}:minute:{FIRST}:{minute}",
        f"{redis_prefix}:hour:{FIRST}:{hour}",
        f"{redis_prefix}:latency:{FIRST}:{minute}",
        f"{redis_prefix}:throughput:{FIRST}:{minute}",
    }
    assert ttls.pop(f"{redis_prefix}:circuit:{FIRST}") == -1
    assert 24 * HOUR < ttls.pop(f"{redis_prefix}:hour:{FIRST}:{hour}") <= 25 * HOUR
    assert all(30 * MINUTE < ttl <= 31 * MINUTE for ttl in ttls.values())


async def test_each_call_is_one_round_trip(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisHealthStore.from_url(redis_url, prefix=redis_prefix, policy=POLICY)
    ids = [FIRST, SECOND, ALONE]
    calls: dict[str, Callable[[float], Awaitable[object]]] = {
        "record_success": lambda now: store.record_success(
            FIRST, now, latency_ms=1, throughput_tps=1.0
        ),
        "record_failure": lambda now: store.record_failure(FIRST, now, siblings=[SECOND]),
        "record_rate_limited": lambda now: store.record_rate_limited(FIRST, now, retry_after_s=1),
        "trial_acquire": lambda now: store.trial_acquire(FIRST, now),
        "snapshot": lambda now: store.snapshot(ids, now),
        "stats": lambda now: store.stats(ids, now),
        "idle_or_due": lambda now: store.idle_or_due(ids, now, idle_after_s=1),
    }
    try:
        for call in calls.values():  # loads the scripts into Redis
            await call(T0)
        sends = {
            name: await redis_sends_during(call(T0 + 1), monkeypatch)
            for name, call in calls.items()
        }
    finally:
        await store.close()

    assert sends == dict.fromkeys(calls, 1)
