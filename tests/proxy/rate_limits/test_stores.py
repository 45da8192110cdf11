"""The stores themselves: a randomized run of both side by side checks that the Lua script
follows the Python rules; Redis expiry and round trips; the memory store; choosing a store."""

import random

import pytest
import redis

from proxy.rate_limits import (
    MemoryRateLimitStore,
    RedisRateLimitStore,
    StoreUnavailable,
    rate_limit_store_create,
)
from tests.live import free_port
from tests.proxy.rate_limits.support import T0, per_day, per_minute
from tests.redis_sends import redis_sends_during


@pytest.mark.parametrize("seed", range(4))
async def test_the_stores_agree_on_random_traffic(
    seed: int, redis_url: str, redis_prefix: str
) -> None:
    memory = MemoryRateLimitStore()
    shared = RedisRateLimitStore.from_url(redis_url, prefix=redis_prefix, timeout_s=2)
    traffic, now = random.Random(seed), T0
    try:
        for step in range(800):
            now += traffic.choice([0, 0, traffic.uniform(0, 3), traffic.uniform(0, 90), 86_400])
            limits = [
                per_minute(traffic.randint(1, 6), cost=traffic.randint(1, 3), counter="m"),
                per_minute(traffic.randint(3, 9), counter=traffic.choice(["a", "b"])),
                per_day(traffic.randint(10, 40)),
            ]
            chosen = traffic.sample(limits, traffic.randint(1, 3))
            assert await shared.admit(chosen, now) == await memory.admit(chosen, now), step
    finally:
        await shared.close()


async def test_redis_counts_expire_when_their_window_has_passed(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisRateLimitStore.from_url(redis_url, prefix=redis_prefix, timeout_s=2)
    try:
        await store.admit([per_minute(5, counter="m"), per_day(5, counter="d")], T0 + 0.5)
    finally:
        await store.close()
    with redis.Redis.from_url(redis_url) as client:
        assert client.ttl(f"{redis_prefix}:m") == 61  # when second T0 leaves the window
        assert client.ttl(f"{redis_prefix}:d") == 86_400 - int(T0) % 86_400  # at midnight


async def test_a_check_is_one_round_trip(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisRateLimitStore.from_url(redis_url, prefix=redis_prefix, timeout_s=2)
    limits = [per_minute(5, counter="m"), per_minute(50, cost=9, counter="t"), per_day(5)]

    async def admitted() -> None:
        assert await store.admit(limits, T0) is None

    try:
        await store.admit(limits, T0)  # loads the script (once per Redis)
        sends = await redis_sends_during(admitted(), monkeypatch)
    finally:
        await store.close()
    assert sends == 1


async def test_memory_forgets_callers_gone_quiet() -> None:
    store = MemoryRateLimitStore()
    await store.admit([per_minute(5, counter="quiet")], T0)
    await store.admit([per_minute(5, counter="busy")], T0 + 200)
    assert set(store._counts) == {"busy"}


async def test_an_unreachable_redis_is_reported_at_once() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    store = rate_limit_store_create(redis_url=url, prefix="p", timeout_s=0.5)
    try:
        with pytest.raises(StoreUnavailable, match="ConnectionError"):
            await store.admit([per_minute(5)], T0)
    finally:
        await store.close()


def test_without_redis_url_the_store_is_this_process() -> None:
    made = rate_limit_store_create(redis_url="", prefix="p", timeout_s=1)
    assert isinstance(made, MemoryRateLimitStore)
