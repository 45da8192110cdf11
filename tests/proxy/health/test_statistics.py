"""Rolling statistics: uptime windows, latency and throughput percentiles, sample caps."""

import pytest

from proxy.health import HealthStore, Percentiles
from tests.proxy.health.support import ALONE, FIRST, HOUR, MINUTE, T0, succeed


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
