"""Counting, on both stores: the sliding minute, costs, all-or-nothing, separate counters and
the UTC day."""

import random

from proxy.rate_limits import RateLimitStore, Refusal
from tests.proxy.rate_limits.support import MIDNIGHT, T0, admitted, per_day, per_minute


async def test_it_admits_up_to_the_limit_then_refuses_until_the_oldest_leaves(
    store: RateLimitStore,
) -> None:
    three = per_minute(3)
    for _ in range(3):
        assert await admitted(store, [three], T0)

    assert await store.admit([three], T0 + 0.5) == Refusal(three, used=3, reset_at=int(T0) + 61)
    # The window is the current second and the 60 before: the first second still counts.
    assert not await admitted(store, [three], T0 + 60.9)
    for _ in range(3):
        assert await admitted(store, [three], T0 + 61)
    assert not await admitted(store, [three], T0 + 61)


async def test_no_sixty_seconds_ever_hold_more_than_the_limit(store: RateLimitStore) -> None:
    traffic = random.Random(7)
    limit, now, times = per_minute(5), T0, []
    for _ in range(300):
        now += traffic.uniform(0, 4)
        if await admitted(store, [limit], now):
            times.append(now)
    for start in times:
        assert sum(start <= t <= start + 60 for t in times) <= 5
    assert len(times) >= 5 * int((now - T0) // 61)  # and it admits what fits


async def test_a_refusal_waits_for_the_oldest_requests_it_needs_gone(
    store: RateLimitStore,
) -> None:
    three = per_minute(3)
    assert await admitted(store, [three], T0)
    assert await admitted(store, [three], T0 + 20.5)
    assert await admitted(store, [three], T0 + 30)

    assert await store.admit([three], T0 + 40) == Refusal(three, used=3, reset_at=int(T0) + 61)
    assert await admitted(store, [three], T0 + 61)
    refusal = await store.admit([three], T0 + 62)
    assert refusal == Refusal(three, used=3, reset_at=int(T0) + 20 + 61)


async def test_tokens_count_their_cost_and_a_refusal_reports_what_remains(
    store: RateLimitStore,
) -> None:
    assert await admitted(store, [per_minute(100, cost=60)], T0)
    refusal = await store.admit([per_minute(100, cost=50)], T0 + 1)
    assert refusal is not None
    assert (refusal.used, refusal.remaining) == (60, 40)
    assert await admitted(store, [per_minute(100, cost=40)], T0 + 1)
    assert not await admitted(store, [per_minute(100, cost=1)], T0 + 2)


async def test_a_request_is_counted_in_all_its_limits_or_in_none(store: RateLimitStore) -> None:
    wide, narrow = per_minute(5, counter="wide"), per_minute(1, counter="narrow")
    assert await admitted(store, [wide, narrow], T0)

    refusal = await store.admit([wide, narrow], T0)
    assert refusal is not None
    assert refusal.limit == narrow
    for _ in range(4):  # the refused request took nothing from `wide`
        assert await admitted(store, [wide], T0)
    assert not await admitted(store, [wide], T0)


async def test_counters_are_separate(store: RateLimitStore) -> None:
    assert await admitted(store, [per_minute(1, counter="a")], T0)
    assert await admitted(store, [per_minute(1, counter="b")], T0)
    assert not await admitted(store, [per_minute(1, counter="a")], T0)


async def test_a_daily_limit_resets_at_midnight_utc(store: RateLimitStore) -> None:
    two = per_day(2)
    assert await admitted(store, [two], MIDNIGHT - 86_401)  # the day before yesterday
    assert await admitted(store, [two], MIDNIGHT - 3600)
    assert await admitted(store, [two], MIDNIGHT - 1)
    assert await store.admit([two], MIDNIGHT - 0.001) == Refusal(two, 2, int(MIDNIGHT))

    assert await admitted(store, [two], MIDNIGHT)
    assert await admitted(store, [two], MIDNIGHT + 86_399)
    assert not await admitted(store, [two], MIDNIGHT + 86_399.5)
