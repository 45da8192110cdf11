"""The two stores agree: randomized traffic on the memory store and on Redis side by side
checks that the Lua scripts follow the Python rules."""

import random
from collections.abc import Awaitable, Callable, Sequence

import pytest

from proxy.health import BreakerPolicy, HealthStore, MemoryHealthStore, RedisHealthStore
from tests.proxy.health.support import HOUR, MINUTE, T0

MODELS = ([1, 2, 3], [4])
EVERY_ENDPOINT = [*MODELS[0], *MODELS[1], 404]  # 404: never seen


@pytest.mark.parametrize("seed", range(6))
async def test_memory_and_redis_agree_on_random_traffic(
    seed: int, redis_url: str, redis_prefix: str
) -> None:
    # A short policy and small steps of time reach every transition many times over.
    policy = BreakerPolicy(
        failure_threshold=2, base_cooldown_s=4.0, max_cooldown_s=40.0, trial_timeout_s=3.0
    )
    memory = MemoryHealthStore(policy=policy)
    shared = RedisHealthStore.from_url(redis_url, prefix=redis_prefix, policy=policy)
    traffic = random.Random(seed)
    now = T0 + traffic.uniform(0, HOUR)
    try:
        for step in range(400):
            now += _time_step(traffic)
            operation = _random_operation(traffic, now)
            assert await operation(shared) == await operation(memory), f"step {step}"
        final = await shared.stats(EVERY_ENDPOINT, now)
        assert final == await memory.stats(EVERY_ENDPOINT, now)
    finally:
        await shared.close()


def _time_step(traffic: random.Random) -> float:
    roll = traffic.random()
    if roll < 0.02:
        return traffic.uniform(HOUR, 3 * HOUR)  # ages out minute buckets
    if roll < 0.1:
        return traffic.uniform(MINUTE, 10 * MINUTE)
    return traffic.uniform(0, 3)


def _random_operation(
    traffic: random.Random, now: float
) -> Callable[[HealthStore], Awaitable[object]]:
    model = traffic.choice(MODELS)
    endpoint_id = traffic.choice(model)
    siblings: Sequence[int] = [other for other in model if other != endpoint_id]
    latency = traffic.choice([None, traffic.randint(1, 5000)])
    tps = traffic.choice([None, traffic.uniform(0.1, 300)])
    retry_after = traffic.choice([1, traffic.uniform(0, 20)])
    operations = [
        lambda s: s.record_success(endpoint_id, now, latency_ms=latency, throughput_tps=tps),
        lambda s: s.record_failure(endpoint_id, now, siblings=siblings),
        lambda s: s.record_failure(endpoint_id, now, siblings=siblings),
        lambda s: s.record_rate_limited(endpoint_id, now, retry_after_s=retry_after),
        lambda s: s.trial_acquire(endpoint_id, now),
        lambda s: s.snapshot(EVERY_ENDPOINT, now),
        lambda s: s.idle_or_due(EVERY_ENDPOINT, now, idle_after_s=30),
        lambda s: s.stats([endpoint_id], now),
    ]
    return traffic.choice(operations)
