"""The gateway's view of health: cached reads, its own writes seen at once, other replicas'
seen when the cache expires, and routing that carries on when the store is unreachable."""

from decimal import Decimal

from catalog.selectors import RoutableEndpoint
from proxy.health import BreakerPolicy, MemoryHealthStore, RedisHealthStore
from proxy.health_monitor import HealthMonitor
from proxy.routing.plan import Vitals

POLICY = BreakerPolicy(failure_threshold=1, base_cooldown_s=30)


def endpoint(endpoint_id: int) -> RoutableEndpoint:
    return RoutableEndpoint(
        endpoint_id=endpoint_id, model_slug="a/m", provider_slug=f"p{endpoint_id}",
        provider_name=f"P{endpoint_id}", adapter="openai", base_url="http://127.0.0.1:9/v1",
        api_key_env="", upstream_model_id="m", prompt_usd_per_mtok=Decimal(1),
        completion_usd_per_mtok=Decimal(1), request_usd=Decimal(0), context_length=1000,
        max_output_tokens=100,
    )  # fmt: skip


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
