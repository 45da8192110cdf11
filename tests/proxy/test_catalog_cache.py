"""The gateway's copy of the catalog: fresh for a TTL, then checked against the catalog's
version without making a request wait (unless the copy is too old to serve), and reloaded only
when the catalog changed."""

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from catalog.models import Endpoint
from catalog.services import demo_catalog_load
from marketplace.asyncdb import Row, Statement, asyncdb_create
from proxy import catalog_cache
from proxy.catalog_cache import CatalogCache, _Loaded


class VersionDb:
    """Answers the version query with `version`, and counts the queries."""

    vendor = "sqlite"

    def __init__(self) -> None:
        self.version = 1
        self.checks = 0

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        row = await self.fetchone(sql, params)
        return [] if row is None else [row]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        assert "catalog_catalogversion" in sql
        self.checks += 1
        return (self.version,)

    async def transaction(self, statements: Sequence[Statement]) -> list[Row | None]:
        raise AssertionError("the catalog cache only reads")

    async def close(self) -> None:
        pass


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


@pytest.fixture
def db() -> VersionDb:
    return VersionDb()


def cache_of(db: VersionDb, *, ttl_s: int) -> CatalogCache:
    return CatalogCache(db=db, ttl_s=ttl_s)


async def generation(cache: CatalogCache) -> str:
    return (await cache.routing_catalog(platform_fee_bps=0)).provider_slugs["load"]


async def settle() -> None:
    for _ in range(50):  # the one background check (and reload) finishes
        await asyncio.sleep(0.01)


async def test_the_first_read_waits_for_the_catalog(clock, loads, db):
    cache = cache_of(db, ttl_s=5)
    assert await generation(cache) == "1"
    clock[0] += 4.9
    assert await generation(cache) == "1"
    assert (loads[0], db.checks) == (1, 1)


async def test_a_just_expired_copy_serves_while_it_reloads_in_the_background(clock, loads, db):
    cache = cache_of(db, ttl_s=5)
    await generation(cache)
    db.version += 1
    clock[0] += 6

    assert await generation(cache) == "1"  # no waiting for the check or the reload
    assert await generation(cache) == "1"
    await settle()

    assert (loads[0], db.checks) == (2, 2)
    assert await generation(cache) == "2"


async def test_an_expired_copy_of_an_unchanged_catalog_is_kept_without_a_reload(clock, loads, db):
    cache = cache_of(db, ttl_s=5)
    await generation(cache)
    clock[0] += 6

    assert await generation(cache) == "1"
    await settle()
    clock[0] += 4.9  # the check made the copy fresh again
    assert await generation(cache) == "1"

    assert (loads[0], db.checks) == (1, 2)


async def test_a_copy_older_than_twice_the_ttl_is_checked_first(clock, loads, db):
    cache = cache_of(db, ttl_s=5)
    await generation(cache)
    clock[0] += 10
    assert await generation(cache) == "1"  # unchanged: checked, not reloaded
    assert (loads[0], db.checks) == (1, 2)

    db.version += 1
    clock[0] += 10

    assert await generation(cache) == "2"


async def test_with_no_ttl_every_read_checks_and_only_changes_reload(clock, loads, db):
    cache = cache_of(db, ttl_s=0)
    seen = []
    for change in (False, False, True, False, True):
        db.version += change
        seen.append(await generation(cache))

    assert seen == ["1", "1", "2", "2", "3"]
    assert (loads[0], db.checks) == (3, 5)


MODEL = "openai/gpt-4o-mini"


async def _prices(cache: CatalogCache) -> set[Decimal]:
    return {e.prompt_usd_per_mtok for e in await cache.endpoints_for(MODEL)}


async def _reads_around_a_price_change(cache: CatalogCache) -> list[set[Decimal]]:
    seen = [await _prices(cache), await _prices(cache)]
    await sync_to_async(Endpoint.objects.filter(model__slug=MODEL).update)(
        prompt_usd_per_mtok=Decimal("99")
    )
    return [*seen, await _prices(cache)]


@pytest.mark.django_db(transaction=True)  # committed: a PostgreSQL pool must see the rows
def test_a_gateway_cache_reloads_the_database_catalog_only_when_it_changed(monkeypatch):
    demo_catalog_load(simulator_url="http://127.0.0.1:9")
    reloads = []
    real_load = catalog_cache._load

    def counted_load() -> _Loaded:
        reloads.append(1)
        return real_load()

    monkeypatch.setattr(catalog_cache, "_load", counted_load)

    async def scenario() -> list[set[Decimal]]:
        db = asyncdb_create()
        try:
            return await _reads_around_a_price_change(CatalogCache(db=db, ttl_s=0))
        finally:
            if db.vendor == "postgresql":  # on SQLite it is this test's own connection
                await db.close()

    # Run from this sync test so the async code's SQLite work happens on its thread.
    first, second, after_change = async_to_sync(scenario)()

    assert len(reloads) == 2  # the first read and the change; not the read in between
    assert first == second != {Decimal("99")}
    assert after_change == {Decimal("99")}
