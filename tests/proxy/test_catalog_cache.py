"""The gateway's copy of the catalog: fresh for a TTL, then reloaded without making a request
wait, unless the copy is too old to serve."""

import asyncio
from types import SimpleNamespace

import pytest

from proxy import catalog_cache
from proxy.catalog_cache import CatalogCache, _Loaded


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    # The module's own clock only: the event loop keeps the real one.
    monkeypatch.setattr(catalog_cache, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


@pytest.fixture
def loads(monkeypatch):
    """Each load returns a catalog that names how many loads came before it."""
    count = [0]

    def load() -> _Loaded:
        count[0] += 1
        return _Loaded(provider_slugs={"load": str(count[0])})

    monkeypatch.setattr(catalog_cache, "_load", load)
    return count


async def generation(cache: CatalogCache) -> str:
    return (await cache.routing_catalog(platform_fee_bps=0)).provider_slugs["load"]


async def test_the_first_read_waits_for_the_catalog(clock, loads):
    cache = CatalogCache(ttl_s=5)
    assert await generation(cache) == "1"
    clock[0] += 4.9
    assert await generation(cache) == "1"
    assert loads[0] == 1


async def test_a_just_expired_copy_serves_while_it_reloads_in_the_background(clock, loads):
    cache = CatalogCache(ttl_s=5)
    await generation(cache)
    clock[0] += 6

    assert await generation(cache) == "1"  # no waiting for the reload
    assert await generation(cache) == "1"
    for _ in range(50):  # the one background reload finishes
        await asyncio.sleep(0.01)

    assert loads[0] == 2
    assert await generation(cache) == "2"


async def test_a_copy_older_than_twice_the_ttl_is_reloaded_first(clock, loads):
    cache = CatalogCache(ttl_s=5)
    await generation(cache)
    clock[0] += 10

    assert await generation(cache) == "2"


async def test_with_no_ttl_every_read_sees_the_database(clock, loads):
    cache = CatalogCache(ttl_s=0)
    assert [await generation(cache) for _ in range(3)] == ["1", "2", "3"]
