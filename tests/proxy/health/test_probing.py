"""Probing: which endpoints are half-open or idle and due a probe."""

from proxy.health import HealthStore
from tests.proxy.health.support import T0, eject, succeed


async def test_idle_or_due_lists_half_open_and_idle_endpoints(store: HealthStore) -> None:
    busy, never, half_open, open_, idle = 1, 2, 3, 4, 5
    await succeed(store, idle, T0)
    await eject(store, half_open, T0)
    await eject(store, open_, T0 + 50)
    await succeed(store, busy, T0 + 50)

    due = await store.idle_or_due([busy, never, half_open, open_, idle], T0 + 60, idle_after_s=60)

    assert due == [never, half_open, idle]
