"""The circuit breaker: ejection, cooldowns, the trial lease, rate limits, siblings, and the
default policy."""

import asyncio

from proxy.health import BreakerPolicy, CircuitState, EndpointHealth, HealthStore, RedisHealthStore
from tests.proxy.health.support import ALONE, FIRST, POLICY, SECOND, T0, eject, health_of, succeed


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


def test_the_default_policy_is_the_documented_one() -> None:
    assert BreakerPolicy() == BreakerPolicy(
        failure_threshold=3, base_cooldown_s=30.0, max_cooldown_s=600.0, trial_timeout_s=30.0
    )
