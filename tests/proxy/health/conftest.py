"""The `store` fixture: every behaviour test runs on the memory store and on Redis."""

from collections.abc import AsyncIterator

import pytest

from proxy.health import HealthStore, MemoryHealthStore, RedisHealthStore
from tests.proxy.health.support import POLICY


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[HealthStore]:
    made: HealthStore
    if request.param == "memory":
        made = MemoryHealthStore(policy=POLICY)
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        made = RedisHealthStore.from_url(url, prefix=prefix, policy=POLICY)
    try:
        yield made
    finally:
        await made.close()
