"""Endpoint health: the circuit breaker, rolling statistics and probing, on both stores.

Every behaviour test runs on the memory store and on Redis (under a prefix of its own); a
randomized run of both side by side checks that the Lua scripts follow the Python rules.
Time is a plain float that the tests move by hand.
"""

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
import redis
from redis.asyncio.connection import Connection

from proxy.health import (
    BreakerPolicy,
    CircuitState,
    EndpointHealth,
    HealthStore,
    MemoryHealthStore,
    Percentiles,
    RedisHealthStore,
    health_store_create,
)

POLICY = BreakerPolicy()  # 3 failures; cooldown 30 s doubling to 600 s; trial lease 30 s
T0 = 1_699_999_200.0  # on the hour, so minute and hour buckets start at T0
MINUTE = 60.0
HOUR = 3600.0
# Endpoint 1 and 2 serve one model, so either may be ejected while the other is up.
FIRST, SECOND = 1, 2
ALONE = 9  # the only endpoint of its model


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[HealthStore]:
    made: HealthStore
    if request.param == "memory":
        made = MemoryHealthStore(policy=POLICY)
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        made = RedisHealthStore.from_url(url, prefix=prefix, policy=POLICY)
    try:
        yield made
    finally:
        await made.close()


async def health_of(store: HealthStore, endpoint_id: int, now: float) -> EndpointHealth:
    return (await store.snapshot([endpoint_id], now))[endpoint_id]


async def eject(store: HealthStore, endpoint_id: int, now: float) -> EndpointHealth:
    """Fail a closed endpoint up to the threshold, all at `now`; its sibling is up."""
    sibling = SECOND if endpoint_id == FIRST else FIRST
    for _ in range(POLICY.failure_threshold):
        health = await store.record_failure(endpoint_id, now, siblings=[sibling])
    assert health.state is CircuitState.OPEN
    return health


async def succeed(store: HealthStore, endpoint_id: int, now: float) -> EndpointHealth:
    return await store.record_success(endpoint_id, now, latency_ms=None, throughput_tps=None)


# The circuit breaker


async def test_unknown_endpoints_are_closed_with_zeros(store: HealthStore) -> None:
    assert await store.snapshot([7, 8], T0) == {
        7: EndpointHealth(7, CircuitState.CLOSED, 0, 0, 0.0, 0.0, 0.0),
        8: EndpointHealth(8, CircuitState.CLOSED, 0, 0, 0.0, 0.0, 0.0),
    }
    assert await store.snapshot([], T0) == {}


async def test_it_ejects_after_threshold_consecutive_failures(store: HealthStore) -> None:
    first = await store.record_failure(FIRST, T0, siblings=[SECOND])
    second = await store.record_failure(FIRST, T0 + 1, siblings=[SECOND])
    third = await store.record_failure(FIRST, T0 + 2, siblings=[SECOND])

    assert (first.state, first.consecutive_failures) == (CircuitState.CLOSED, 1)
    assert (second.state, second.consecutive_failures) == (CircuitState.CLOSED, 2)
    assert third == EndpointHealth(FIRST, CircuitState.OPEN, 0, 1, T0 + 32, 0.0, T0 + 2)
    assert await health_of(store, FIRST, T0 + 3) == third


async def test_a_success_restarts_the_failure_count(store: HealthStore) -> None:
    for now in (T0, T0 + 1):
        await store.record_failure(FIRST, now, siblings=[SECOND])
    await succeed(store, FIRST, T0 + 2)
    for now in (T0 + 3, T0 + 4):
        health = await store.record_failure(FIRST, now, siblings=[SECOND])

    assert (health.state, health.consecutive_failures) == (CircuitState.CLOSED, 2)


async def test_it_is_half_open_when_the_cooldown_is_over(store: HealthStore) -> None:
    await eject(store, FIRST, T0)

    assert (await health_of(store, FIRST, T0 + 29.999)).state is CircuitState.OPEN
    assert (await health_of(store, FIRST, T0 + 30)).state is CircuitState.HALF_OPEN


async def test_cooldown_doubles_with_each_failed_trial_up_to_the_cap(store: HealthStore) -> None:
    health = await eject(store, FIRST, T0)
    cooldowns = [health.open_until - T0]
    for _ in range(6):
        trial_at = health.open_until
        assert await store.trial_acquire(FIRST, trial_at)
        health = await store.record_failure(FIRST, trial_at, siblings=[SECOND])
        cooldowns.append(health.open_until - trial_at)

    assert cooldowns == [30, 60, 120, 240, 480, 600, 600]
    assert (health.state, health.ejections, health.consecutive_failures) == (
        CircuitState.OPEN,
        7,
        0,
    )


async def test_failures_of_an_open_endpoint_do_not_eject_it_again(store: HealthStore) -> None:
    ejected = await eject(store, FIRST, T0)
    for now in (T0 + 1, T0 + 2, T0 + 3, T0 + 4):
        health = await store.record_failure(FIRST, now, siblings=[SECOND])

    assert (health.ejections, health.open_until) == (1, ejected.open_until)
    assert (health.state, health.consecutive_failures) == (CircuitState.OPEN, 4)


async def test_the_trial_lease_has_a_single_winner(store: HealthStore) -> None:
    await eject(store, FIRST, T0)

    assert await store.trial_acquire(FIRST, T0 + 30)
    assert not await store.trial_acquire(FIRST, T0 + 31)
    health = await health_of(store, FIRST, T0 + 31)
    assert (health.state, health.trial_until) == (CircuitState.HALF_OPEN, T0 + 60)


async def test_concurrent_trial_acquires_have_one_winner(store: HealthStore) -> None:
    await eject(store, FIRST, T0)

    taken = await asyncio.gather(*(store.trial_acquire(FIRST, T0 + 30) for _ in range(20)))

    assert sorted(taken) == [False] * 19 + [True]


async def test_replicas_racing_for_the_trial_lease_have_one_winner(
    redis_url: str, redis_prefix: str
) -> None:
    replicas = [RedisHealthStore.from_url(redis_url, prefix=redis_prefix, policy=POLICY)]
    replicas.append(RedisHealthStore.from_url(redis_url, prefix=redis_prefix, policy=POLICY))
    try:
        await eject(replicas[0], FIRST, T0)
        attempts = [replicas[i % 2].trial_acquire(FIRST, T0 + 30) for i in range(40)]
        taken = await asyncio.gather(*attempts)
    finally:
        for replica in replicas:
            await replica.close()

    assert taken.count(True) == 1


async def test_an_unreturned_trial_lease_expires(store: HealthStore) -> None:
    await eject(store, FIRST, T0)
    assert await store.trial_acquire(FIRST, T0 + 30)

    assert not await store.trial_acquire(FIRST, T0 + 59.999)
    assert await store.trial_acquire(FIRST, T0 + 60)
    assert not await store.trial_acquire(FIRST, T0 + 61)


async def test_only_a_half_open_endpoint_has_a_trial(store: HealthStore) -> None:
    assert not await store.trial_acquire(FIRST, T0)  # never seen: closed
    await store.record_failure(FIRST, T0, siblings=[SECOND])
    assert not await store.trial_acquire(FIRST, T0)  # closed
    await eject(store, FIRST, T0)
    assert not await store.trial_acquire(FIRST, T0 + 29)  # open

    assert (await health_of(store, FIRST, T0 + 29)).trial_until == 0.0


async def test_a_successful_trial_closes_the_endpoint(store: HealthStore) -> None:
    await eject(store, FIRST, T0)
    assert await store.trial_acquire(FIRST, T0 + 30)

    health = await succeed(store, FIRST, T0 + 31)

    assert health == EndpointHealth(FIRST, CircuitState.CLOSED, 0, 0, 0.0, 0.0, T0 + 31)
    again = await eject(store, FIRST, T0 + 40)
    assert (again.ejections, again.open_until) == (1, T0 + 70)  # the cooldown starts over


async def test_a_success_while_open_keeps_the_endpoint_open(store: HealthStore) -> None:
    ejected = await eject(store, FIRST, T0)

    health = await succeed(store, FIRST, T0 + 5)  # a request that was already in flight

    assert (health.state, health.ejections, health.open_until) == (
        CircuitState.OPEN,
        1,
        ejected.open_until,
    )


async def test_rate_limit_rests_exactly_retry_after_then_closes(store: HealthStore) -> None:
    await store.record_failure(FIRST, T0, siblings=[SECOND])

    health = await store.record_rate_limited(FIRST, T0 + 1, retry_after_s=12.5)

    assert health == EndpointHealth(FIRST, CircuitState.OPEN, 1, 0, T0 + 13.5, 0.0, T0 + 1)
    assert (await health_of(store, FIRST, T0 + 13.499)).state is CircuitState.OPEN
    assert (await health_of(store, FIRST, T0 + 13.5)).state is CircuitState.CLOSED


async def test_rate_limit_never_shortens_a_rest(store: HealthStore) -> None:
    ejected = await eject(store, FIRST, T0)

    health = await store.record_rate_limited(FIRST, T0 + 1, retry_after_s=5)

    assert (health.open_until, health.ejections) == (ejected.open_until, 1)


async def test_rate_limits_do_not_count_against_uptime(store: HealthStore) -> None:
    await store.record_rate_limited(FIRST, T0, retry_after_s=1)
    only_limited = (await store.stats([FIRST], T0 + 1))[FIRST]
    await succeed(store, FIRST, T0 + 2)
    await store.record_rate_limited(FIRST, T0 + 3, retry_after_s=1)

    stats = (await store.stats([FIRST], T0 + 4))[FIRST]

    assert only_limited.uptime_last_5m is None
    assert (only_limited.requests_last_30m, only_limited.uptime_last_1d) == (1, None)
    assert (stats.uptime_last_5m, stats.uptime_last_30m, stats.uptime_last_1d) == (100, 100, 100)
    assert stats.requests_last_30m == 3


async def test_the_last_endpoint_up_is_not_ejected(store: HealthStore) -> None:
    await eject(store, FIRST, T0)
    for now in (T0 + 1, T0 + 2, T0 + 3, T0 + 4):
        kept = await store.record_failure(SECOND, now, siblings=[FIRST])

    assert (kept.state, kept.consecutive_failures, kept.ejections) == (CircuitState.CLOSED, 4, 0)
    # Once the first endpoint's cooldown is over it is no longer open, so the second may go.
    ejected = await store.record_failure(SECOND, T0 + 30, siblings=[FIRST])
    assert (ejected.state, ejected.ejections) == (CircuitState.OPEN, 1)


async def test_a_rate_limited_sibling_counts_as_open(store: HealthStore) -> None:
    await store.record_rate_limited(SECOND, T0, retry_after_s=60)
    for now in (T0 + 1, T0 + 2, T0 + 3):
        health = await store.record_failure(FIRST, now, siblings=[SECOND])

    assert (health.state, health.consecutive_failures) == (CircuitState.CLOSED, 3)


async def test_the_only_endpoint_of_a_model_is_never_ejected(store: HealthStore) -> None:
    for second in range(10):
        health = await store.record_failure(ALONE, T0 + second, siblings=[])

    assert (health.state, health.consecutive_failures, health.ejections) == (
        CircuitState.CLOSED,
        10,
        0,
    )


async def test_a_failed_trial_ejects_even_if_the_siblings_are_open(store: HealthStore) -> None:
    await eject(store, FIRST, T0)
    await store.record_rate_limited(SECOND, T0 + 30, retry_after_s=600)

    health = await store.record_failure(FIRST, T0 + 30, siblings=[SECOND])

    assert (health.state, health.ejections, health.open_until) == (
        CircuitState.OPEN,
        2,
        T0 + 90,
    )


# Rolling statistics


async def test_uptime_windows_forget_old_failures(store: HealthStore) -> None:
    for second in (5, 6):
        await store.record_failure(ALONE, T0 + second, siblings=[])  # minute 0
    await store.record_failure(ALONE, T0 + 20 * MINUTE, siblings=[])
    await succeed(store, ALONE, T0 + 20 * MINUTE + 1)  # minute 20
    for second in (1, 2, 3):
        await succeed(store, ALONE, T0 + 40 * MINUTE + second)  # minute 40

    at_42 = (await store.stats([ALONE], T0 + 42 * MINUTE))[ALONE]
    at_52 = (await store.stats([ALONE], T0 + 52 * MINUTE))[ALONE]
    next_day = (await store.stats([ALONE], T0 + 25 * HOUR))[ALONE]

    assert at_42.uptime_last_5m == 100  # minutes 38-42
    assert at_42.uptime_last_30m == pytest.approx(80)  # minutes 13-42: 4 ok, 1 error
    assert at_42.uptime_last_1d == pytest.approx(400 / 7)  # the hour so far: 4 ok, 3 errors
    assert at_42.requests_last_30m == 5
    assert at_52.uptime_last_5m is None
    assert at_52.uptime_last_30m == 100  # minutes 23-52
    assert (next_day.uptime_last_1d, next_day.uptime_last_30m) == (None, None)
    assert next_day.requests_last_30m == 0


async def test_minute_windows_cover_5_and_30_minute_buckets(store: HealthStore) -> None:
    await store.record_failure(ALONE, T0 + 59, siblings=[])  # minute 0
    await store.record_success(ALONE, T0 + 59, latency_ms=40, throughput_tps=None)

    in_both = (await store.stats([ALONE], T0 + 5 * MINUTE - 1))[ALONE]
    in_long = (await store.stats([ALONE], T0 + 5 * MINUTE))[ALONE]
    in_none = (await store.stats([ALONE], T0 + 30 * MINUTE))[ALONE]

    assert (in_both.uptime_last_5m, in_both.uptime_last_30m) == (50, 50)
    assert in_both.latency_last_5m == Percentiles(40, 40, 40, 40)
    assert (in_long.uptime_last_5m, in_long.latency_last_5m) == (None, None)
    assert (in_long.uptime_last_30m, in_long.requests_last_30m) == (50, 2)
    assert (in_none.uptime_last_30m, in_none.latency_last_30m) == (None, None)
    assert in_none.uptime_last_1d == 50


async def test_day_uptime_covers_24_hour_buckets(store: HealthStore) -> None:
    await store.record_failure(ALONE, T0 + 10, siblings=[])  # hour 0
    await succeed(store, ALONE, T0 + 23 * HOUR + 10)  # hour 23

    last_hour_in = (await store.stats([ALONE], T0 + 24 * HOUR - 1))[ALONE]
    first_hour_out = (await store.stats([ALONE], T0 + 24 * HOUR))[ALONE]

    assert last_hour_in.uptime_last_1d == 50
    assert first_hour_out.uptime_last_1d == 100


async def test_percentiles_are_nearest_rank(store: HealthStore) -> None:
    for latency in range(10, 0, -1):
        await store.record_success(ALONE, T0 + 1, latency_ms=latency, throughput_tps=None)
    for tps in range(1, 101):
        await store.record_success(ALONE, T0 + 2, latency_ms=None, throughput_tps=tps / 4)

    stats = (await store.stats([ALONE], T0 + 3))[ALONE]

    assert stats.latency_last_30m == Percentiles(p50=5, p75=8, p90=9, p99=10)
    assert stats.throughput_last_30m == Percentiles(p50=12.5, p75=18.75, p90=22.5, p99=24.75)


async def test_short_percentiles_cover_the_last_5_minutes(store: HealthStore) -> None:
    await store.record_success(ALONE, T0, latency_ms=900, throughput_tps=10.0)
    await store.record_success(ALONE, T0 + 10 * MINUTE, latency_ms=100, throughput_tps=50.0)

    stats = (await store.stats([ALONE], T0 + 12 * MINUTE))[ALONE]
    later = (await store.stats([ALONE], T0 + 30 * MINUTE))[ALONE]

    assert stats.latency_last_5m == Percentiles(100, 100, 100, 100)
    assert stats.latency_last_30m == Percentiles(100, 900, 900, 900)
    assert stats.throughput_last_5m == Percentiles(50.0, 50.0, 50.0, 50.0)
    assert stats.throughput_last_30m == Percentiles(10.0, 50.0, 50.0, 50.0)
    assert later.latency_last_30m == Percentiles(100, 100, 100, 100)  # minute 0 aged out


async def test_samples_keep_the_newest_200_per_minute(store: HealthStore) -> None:
    async def sample(value: int, count: int, now: float) -> None:
        for _ in range(count):
            await store.record_success(ALONE, now, latency_ms=value, throughput_tps=value / 2)

    await sample(9, 100, T0 + 1)  # the oldest of minute 0: dropped
    await sample(1, 100, T0 + 2)
    await sample(2, 100, T0 + 3)
    minute_0 = (await store.stats([ALONE], T0 + 4))[ALONE]
    await sample(3, 200, T0 + MINUTE)  # a minute has a cap of its own
    minute_1 = (await store.stats([ALONE], T0 + MINUTE + 1))[ALONE]

    # One sample more or less than 200 would move the median.
    assert minute_0.latency_last_30m == Percentiles(1, 2, 2, 2)
    assert minute_0.throughput_last_30m == Percentiles(0.5, 1.0, 1.0, 1.0)
    assert minute_0.requests_last_30m == 300
    assert minute_1.latency_last_30m == Percentiles(2, 3, 3, 3)
    assert minute_1.latency_last_5m == Percentiles(2, 3, 3, 3)


async def test_stats_without_samples_or_outcomes_are_none(store: HealthStore) -> None:
    await succeed(store, FIRST, T0)

    stats = await store.stats([FIRST, 404], T0 + 1)

    assert stats[FIRST].uptime_last_5m == 100
    assert (stats[FIRST].latency_last_5m, stats[FIRST].throughput_last_30m) == (None, None)
    unknown = stats[404]
    assert (unknown.uptime_last_5m, unknown.uptime_last_30m, unknown.uptime_last_1d) == (
        None,
        None,
        None,
    )
    assert (unknown.requests_last_30m, unknown.latency_last_30m) == (0, None)


# Probing


async def test_idle_or_due_lists_half_open_and_idle_endpoints(store: HealthStore) -> None:
    busy, never, half_open, open_, idle = 1, 2, 3, 4, 5
    await succeed(store, idle, T0)
    await eject(store, half_open, T0)
    await eject(store, open_, T0 + 50)
    await succeed(store, busy, T0 + 50)

    due = await store.idle_or_due([busy, never, half_open, open_, idle], T0 + 60, idle_after_s=60)

    assert due == [never, half_open, idle]


# How the stores are built and what they cost


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
            name: await _sends_during(call(T0 + 1), monkeypatch) for name, call in calls.items()
        }
    finally:
        await store.close()

    assert sends == dict.fromkeys(calls, 1)


async def _sends_during(call: Awaitable[object], monkeypatch: pytest.MonkeyPatch) -> int:
    sends = 0
    original = Connection.send_packed_command

    async def counting(self: Connection, *args: Any, **kwargs: Any) -> None:
        nonlocal sends
        sends += 1
        await original(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Connection, "send_packed_command", counting)
        await call
    return sends


# The two stores agree

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


def test_the_default_policy_is_the_documented_one() -> None:
    assert BreakerPolicy() == BreakerPolicy(
        failure_threshold=3, base_cooldown_s=30.0, max_cooldown_s=600.0, trial_timeout_s=30.0
    )
