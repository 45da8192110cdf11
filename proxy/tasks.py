"""Periodic provider probing (scheduled by CELERY_BEAT_SCHEDULE in settings)."""

import asyncio
import logging

from celery import shared_task
from django.conf import settings

from catalog.selectors import RoutableEndpoint, routable_endpoints
from proxy.gateway import breaker_policy
from proxy.health import health_store_create
from proxy.probe import probe_due_endpoints
from proxy.upstream import upstream_client_create

logger = logging.getLogger(__name__)


async def _probe(endpoints: list[RoutableEndpoint]) -> int:
    store = health_store_create(
        redis_url=settings.REDIS_URL, prefix=settings.HEALTH_REDIS_PREFIX, policy=breaker_policy()
    )
    client = upstream_client_create()
    try:
        results = await probe_due_endpoints(
            store,
            client,
            endpoints,
            idle_after_s=settings.HEALTH_PROBE_IDLE_S,
            timeout_s=settings.UPSTREAM_FIRST_TOKEN_TIMEOUT_S,
        )
    finally:
        await client.close()
        await store.close()
    return len(results)


@shared_task
def probe_endpoints_task() -> int:
    """Probe recovering and idle endpoints; returns how many were probed."""
    if not settings.REDIS_URL:
        # Health lives in each gateway's memory then, and each gateway probes for itself.
        logger.debug("no shared health store: gateways probe their endpoints themselves")
        return 0
    endpoints = [e for group in routable_endpoints().values() for e in group]
    return asyncio.run(_probe(endpoints))
