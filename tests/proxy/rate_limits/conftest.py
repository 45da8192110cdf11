"""The `store` fixture: every store test runs on the memory store and on Redis (under a prefix
of its own)."""

from collections.abc import AsyncIterator

import pytest

from proxy.rate_limits import MemoryRateLimitStore, RateLimitStore, RedisRateLimitStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    made: RateLimitStore
    if request.param == "memory":
        made = MemoryRateLimitStore()
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        made = RedisRateLimitStore.from_url(url, prefix=prefix, timeout_s=2)
    try:
        yield made
    finally:
        await made.close()
