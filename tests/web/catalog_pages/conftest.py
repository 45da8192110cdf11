"""The catalog page fixtures: a clean health store per test, the demo catalog, and `health`,
which runs a test on the gateway's memory store and on Redis."""

import uuid
from collections.abc import Iterator

import pytest

from catalog.services import demo_catalog_load
from proxy.health import BreakerPolicy, MemoryHealthStore
from tests.web.catalog_pages.support import SIMULATOR, Health, _RedisHealth


@pytest.fixture(autouse=True)
def _health_of_this_test(settings) -> None:
    # No Redis unless a test asks for it, and never another test's (or a developer's) keys.
    settings.REDIS_URL = ""
    settings.HEALTH_REDIS_PREFIX = f"test-web:{uuid.uuid4().hex}"


@pytest.fixture
def catalog() -> None:
    demo_catalog_load(simulator_url=SIMULATOR)


@pytest.fixture(params=["gateway memory", "redis"])
def health(request: pytest.FixtureRequest, settings) -> Iterator[Health]:
    if request.param == "gateway memory":
        yield Health(MemoryHealthStore(policy=BreakerPolicy()), in_scope=True)
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    settings.REDIS_URL, settings.HEALTH_REDIS_PREFIX = url, prefix
    # A client per recording: a Redis client belongs to the event loop it was used on.
    yield _RedisHealth(url, prefix)
