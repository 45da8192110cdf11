"""Provider health for the web pages, which are sync Django views.

Where the figures come from:
- With Redis (REDIS_URL) every process sees them. A page reads them through the gateway's own
  store when its request came through the gateway (see below), else through a store opened for
  the one read and closed after it.
- Without Redis they live only in the gateway's memory, in the process that serves both the API
  and the pages. `GatewayApp` hands its store to Django with each request it passes on, under
  `HEALTH_STORE_SCOPE_KEY` in the ASGI scope. A page served any other way (the test client, a
  gateway that has not served an API request yet) has no measurements, and says so.

The stores are async: `health_read` runs them with `async_to_sync`, which under the ASGI server
runs them on the server's own event loop, the one the gateway's store belongs to (the memory
store is safe to read there because each of its calls runs without awaiting).
"""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest

from proxy.gateway import breaker_policy
from proxy.health import EndpointHealth, EndpointStats, HealthStore, health_store_create

logger = logging.getLogger(__name__)

HEALTH_STORE_SCOPE_KEY = "switchyard.health_store"
# Endpoints per stats call: each one's read touches about a hundred keys, and one Redis script
# must never run long enough to hold up the gateway's own health updates.
STATS_CHUNK = 100


@dataclass(frozen=True, slots=True)
class HealthReading:
    """What is known of some endpoints' health. `available` is False when no store could be
    read: then nothing is known, which is not the same as "healthy"."""

    available: bool
    circuits: dict[int, EndpointHealth] = field(default_factory=dict)
    stats: dict[int, EndpointStats] = field(default_factory=dict)


UNAVAILABLE = HealthReading(available=False)


def live_health_store(request: HttpRequest) -> HealthStore | None:
    """The store of the gateway this request came through, if it came through one."""
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict):
        return None
    return cast("HealthStore | None", scope.get(HEALTH_STORE_SCOPE_KEY))


def health_source_exists(live_store: HealthStore | None) -> bool:
    return live_store is not None or bool(settings.REDIS_URL)


def health_read(
    endpoint_ids: Sequence[int], *, live_store: HealthStore | None, circuits: bool = True
) -> HealthReading:
    """The circuits (unless `circuits` is False) and rolling statistics of `endpoint_ids`."""
    if not health_source_exists(live_store):
        return UNAVAILABLE
    try:
        return async_to_sync(_read)(list(endpoint_ids), live_store, circuits)
    except Exception:
        # Health only informs the pages; they are still served without it.
        logger.exception("reading provider health for a page failed")
        return UNAVAILABLE


async def _read(
    endpoint_ids: list[int], live_store: HealthStore | None, circuits: bool
) -> HealthReading:
    store = live_store or _store_create()
    try:
        now = time.time()
        reading = HealthReading(available=True)
        if circuits and endpoint_ids:
            reading.circuits.update(await store.snapshot(endpoint_ids, now))
        for start in range(0, len(endpoint_ids), STATS_CHUNK):
            chunk = endpoint_ids[start : start + STATS_CHUNK]
            reading.stats.update(await store.stats(chunk, now))
        return reading
    finally:
        if store is not live_store:
            await store.close()


def _store_create() -> HealthStore:
    return health_store_create(
        redis_url=settings.REDIS_URL, prefix=settings.HEALTH_REDIS_PREFIX, policy=breaker_policy()
    )
