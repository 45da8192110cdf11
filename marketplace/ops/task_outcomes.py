"""Counts of Celery task outcomes (success, failure, retry) by task name, for /metrics.

Workers are processes of their own, so with REDIS_URL they count into one Redis hash that
every gateway reads when scraped; without Redis, tasks run eagerly in the process that sends
them, and this process's own counts are all there is.
"""

import functools
import logging
from collections import Counter

import redis
import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

TaskOutcome = tuple[str, str]  # (task name, outcome)

_in_process: Counter[TaskOutcome] = Counter()
_SEPARATOR = "|"  # task names are dotted paths: never contain it


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def task_outcome_count(*, task: str, outcome: str) -> None:
    """Count one run. A Redis that cannot be reached loses the count, never fails the task."""
    if not settings.REDIS_URL:
        _in_process[(task, outcome)] += 1
        return
    try:
        client = _redis_client(settings.REDIS_URL)
        client.hincrby(settings.TASK_OUTCOMES_REDIS_KEY, f"{task}{_SEPARATOR}{outcome}", 1)
    except redis.RedisError as exc:
        logger.warning("counting a task outcome failed: %s", type(exc).__name__)


async def task_outcome_counts() -> dict[TaskOutcome, int]:
    """Every count so far (all workers' with Redis, else this process's)."""
    if not settings.REDIS_URL:
        return dict(_in_process)
    timeout_s = settings.READINESS_TIMEOUT_S
    async with aioredis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        decode_responses=True,
    ) as client:
        raw = await client.hgetall(settings.TASK_OUTCOMES_REDIS_KEY)
    counts: dict[TaskOutcome, int] = {}
    for field, value in raw.items():
        task, _, outcome = str(field).rpartition(_SEPARATOR)
        counts[(task, outcome)] = int(value)
    return counts
