"""Whether this gateway process can serve requests: the checks behind /readyz.

The database always; Redis and the Celery broker only when they are configured (a zero-setup
run has neither). Each check has a short timeout, so a dead dependency answers "not ready"
quickly rather than hanging the load balancer's probe. A check's failure is shown by its
exception's type only: messages of connection errors can name hosts and users.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from django.conf import settings
from kombu import Connection

from marketplace.asyncdb import AsyncDb

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    error: str = ""  # why not, as an exception type ("TimeoutError", "OperationalError")


async def database_ping(db: AsyncDb) -> None:
    await db.fetchone("SELECT 1")


async def redis_ping(url: str, *, timeout_s: float) -> None:
    async with aioredis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
    ) as client:
        await client.ping()


def _broker_connect(url: str, timeout_s: float) -> None:
    with Connection(url, connect_timeout=timeout_s) as connection:
        connection.ensure_connection(max_retries=0)  # connect_timeout bounds the one try


async def broker_ping(url: str, *, timeout_s: float) -> None:
    # kombu speaks every broker Celery can use, but only synchronously: in a thread.
    await asyncio.to_thread(_broker_connect, url, timeout_s)


async def check_run(name: str, probe: Probe, *, timeout_s: float) -> CheckResult:
    try:
        async with asyncio.timeout(timeout_s):
            await probe()
    except Exception as exc:
        logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return CheckResult(name, ok=False, error=type(exc).__name__)
    return CheckResult(name, ok=True)


def readiness_probes(db: AsyncDb) -> dict[str, Probe]:
    """The checks this process's configuration calls for, by name."""
    timeout_s = settings.READINESS_TIMEOUT_S
    probes: dict[str, Probe] = {"database": lambda: database_ping(db)}
    if settings.REDIS_URL:
        probes["redis"] = lambda: redis_ping(settings.REDIS_URL, timeout_s=timeout_s)
    broker = settings.CELERY_BROKER_URL
    if broker and not broker.startswith("memory://"):
        probes["celery_broker"] = lambda: broker_ping(broker, timeout_s=timeout_s)
    return probes


async def readiness_check(db: AsyncDb) -> list[CheckResult]:
    """Every check, run at once."""
    timeout_s = settings.READINESS_TIMEOUT_S
    probes = readiness_probes(db)
    return list(
        await asyncio.gather(
            *(check_run(name, probe, timeout_s=timeout_s) for name, probe in probes.items())
        )
    )
