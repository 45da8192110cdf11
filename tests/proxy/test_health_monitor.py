"""The gateway's view of health: cached reads, its own writes seen at once, other replicas'
seen when the cache expires, and routing that carries on when the store is unreachable."""

import asyncio

from proxy.health import BreakerPolicy, MemoryHealthStore, RedisHealthStore
from proxy.health_monitor import HealthMonitor
from proxy.routing.plan import Vitals
from tests.proxy.endpoints import endpoint

POLICY = BreakerPolicy(failure_threshold=1, base_cooldown_s=30)


FIRST, SECOND = endpoint(1), endpoint(2)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_its_own_failure_is_seen_at_once_another_replicas_after_the_ttl():
    store, clock = MemoryHealthStore(policy=POLICY), Clock()
    mine = HealthMonitor(store, snapshot_ttl_s=1.0, clock=clock)
    other = HealthMonitor(store, snapshot_ttl_s=1.0, clock=clock)
    assert await mine.vitals([FIRST, SECOND], with_speed=False) == {1: Vitals(), 2: Vitals()}
    assert (await other.vitals([FIRST], with_speed=False))[1].healthy

    mine.failure(FIRST, siblings=[2], retry_after_s=None)
    await mine.settled()

    assert not (await mine.vitals([FIRST], with_speed=False))[1].healthy
    assert (await other.vitals([FIRST], with_speed=False))[1].healthy  # its cached copy
    clock.now += 1.0
    assert not (await other.vitals([FIRST], with_speed=False))[1].healthy


async def test_an_ejected_endpoint_turns_into_a_trial_when_its_cooldown_ends():
    clock = Clock()
    monitor = HealthMonitor(MemoryHealthStore(policy=POLICY), snapshot_ttl_s=3600, clock=clock)
    monitor.failure(FIRST, siblings=[2], retry_after_s=None)
    await monitor.settled()
    clock.now += 30  # the cached reading is not re-read, yet its state moves with the clock
    vitals = (await monitor.vitals([FIRST], with_speed=False))[1]
    assert vitals == Vitals(healthy=True, trial=True)
    assert await monitor.trial_acquire(FIRST)
    assert not await monitor.trial_acquire(FIRST)


async def test_a_rate_limit_rests_the_endpoint_for_its_retry_after():
    clock = Clock()
    monitor = HealthMonitor(MemoryHealthStore(policy=POLICY), snapshot_ttl_s=0, clock=clock)
    monitor.failure(FIRST, siblings=[2], retry_after_s=5)
    await monitor.settled()
    assert not (await monitor.vitals([FIRST], with_speed=False))[1].healthy
    clock.now += 5
    assert (await monitor.vitals([FIRST], with_speed=False))[1] == Vitals()


async def test_speeds_are_read_only_when_routing_needs_them():
    clock = Clock()
    monitor = HealthMonitor(MemoryHealthStore(policy=POLICY), snapshot_ttl_s=0, clock=clock)
    monitor.success(FIRST, latency_ms=120, throughput_tps=80.0)
    await monitor.settled()
    assert (await monitor.vitals([FIRST], with_speed=False))[1].latency_ms is None
    vitals = (await monitor.vitals([FIRST], with_speed=True))[1]
    assert (vitals.latency_ms, vitals.throughput_tps) == (120, 80.0)


async def test_an_unreachable_store_leaves_routing_on_what_it_knows(caplog):
    # Nothing listens on port 1: every Redis call fails to connect.
    store = RedisHealthStore.from_url("redis://127.0.0.1:1/0", prefix="down", policy=POLICY)
    monitor = HealthMonitor(store, snapshot_ttl_s=0)
    try:
        assert await monitor.vitals([FIRST, SECOND], with_speed=True) == {1: Vitals(), 2: Vitals()}
        assert not await monitor.trial_acquire(FIRST)
        monitor.failure(FIRST, siblings=[2], retry_after_s=None)
        monitor.success(SECOND, latency_ms=1, throughput_tps=None)
        await monitor.settled()  # logged, never raised
    finally:
        await monitor.close()
    assert "reading provider health failed" in caplog.text
    assert "recording provider health failed" in caplog.text


class CountingStore(MemoryHealthStore):
    """The real memory store, counting the writes that reach it (a single success is
    written through `record_successes` too)."""

    def __init__(self, policy: BreakerPolicy = POLICY) -> None:
        super().__init__(policy=policy)
        self.writes = 0

    async def record_successes(self, *args, **kwargs):
        self.writes += 1
        return await super().record_successes(*args, **kwargs)


async def test_routine_successes_are_written_together_with_every_sample():
    store, clock = CountingStore(), Clock()
    monitor = HealthMonitor(store, snapshot_ttl_s=0, success_batch_s=60, clock=clock)
    await monitor.vitals([FIRST], with_speed=False)  # closed, no failures: routine
    for latency in (10, 20, 30):
        monitor.success(FIRST, latency_ms=latency, throughput_tps=float(latency))
    await asyncio.sleep(0)
    assert store.writes == 0  # gathered, not yet written

    await monitor.settled()  # writes what is gathered

    assert store.writes == 1
    stats = (await store.stats([1], clock.now))[1]
    assert stats.requests_last_30m == 3
    speed, throughput = stats.latency_last_5m, stats.throughput_last_5m
    assert speed is not None
    assert throughput is not None
    assert (speed.p50, throughput.p50) == (20, 20.0)


async def test_the_gathered_successes_are_written_when_the_batch_time_is_up():
    store = CountingStore()
    monitor = HealthMonitor(store, snapshot_ttl_s=0, success_batch_s=0.05)
    await monitor.vitals([FIRST], with_speed=False)
    monitor.success(FIRST, latency_ms=5, throughput_tps=None)
    monitor.success(FIRST, latency_ms=6, throughput_tps=None)

    for _ in range(100):
        await asyncio.sleep(0.01)
        if store.writes:
            break
    assert store.writes == 1
    await monitor.settled()
    assert store.writes == 1


async def test_a_success_that_clears_failures_is_written_at_once():
    store, clock = CountingStore(policy=BreakerPolicy(failure_threshold=2)), Clock()
    monitor = HealthMonitor(store, snapshot_ttl_s=0, success_batch_s=60, clock=clock)
    monitor.failure(FIRST, siblings=[2], retry_after_s=None)  # one failure, still closed
    await monitor.settled()

    monitor.success(FIRST, latency_ms=1, throughput_tps=None)
    for _ in range(10):
        await asyncio.sleep(0)

    assert store.writes == 1  # not held back: it resets the failure count
    assert (await store.snapshot([1], clock.now))[1].consecutive_failures == 0


async def test_the_redis_store_counts_a_batch_like_single_successes(redis_url, redis_prefix):
    clock = Clock()
    batched = RedisHealthStore.from_url(redis_url, prefix=f"{redis_prefix}:a", policy=POLICY)
    single = RedisHealthStore.from_url(redis_url, prefix=f"{redis_prefix}:b", policy=POLICY)
    try:
        await batched.record_successes(
            1, clock.now, count=3, latencies_ms=[10, 20, 30], throughputs_tps=[1.0, 2.0]
        )
        for latency, throughput in ((10, 1.0), (20, 2.0), (30, None)):
            await single.record_success(1, clock.now, latency_ms=latency, throughput_tps=throughput)
        assert await batched.stats([1], clock.now) == await single.stats([1], clock.now)
        assert await batched.snapshot([1], clock.now) == await single.snapshot([1], clock.now)
    finally:
        await batched.close()
        await single.close()
