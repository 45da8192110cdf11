"""What the health tests share: the policy, a clock on the hour, endpoint ids and small
helpers that read, eject and succeed an endpoint."""

from proxy.health import BreakerPolicy, CircuitState, EndpointHealth, HealthStore

POLICY = BreakerPolicy()  # 3 failures; cooldown 30 s doubling to 600 s; trial lease 30 s
T0 = 1_699_999_200.0  # on the hour, so minute and hour buckets start at T0
MINUTE = 60.0
HOUR = 3600.0
# Endpoint 1 and 2 serve one model, so either may be ejected while the other is up.
FIRST, SECOND = 1, 2
ALONE = 9  # the only endpoint of its model


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
