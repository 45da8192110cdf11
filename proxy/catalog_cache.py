"""A per-process copy of the routable catalog, checked against the database every `ttl_s`.

The catalog changes rarely; reading it per request would cost a query on the hot path.
Every write to the catalog raises its version (database triggers, catalog/migrations/0005),
so once the copy's TTL is over one tiny query says whether it is still current, and the
catalog is reloaded only when it changed: with a thousand models a reload costs milliseconds
of CPU, holding the GIL, which no gateway should spend every few seconds for nothing.
Changes made in the admin reach every gateway within `ttl_s` seconds (plus the time a check
and reload take). A copy that has just expired keeps serving while one check runs in the
background; a copy older than twice the TTL (an idle gateway; or a TTL of 0) is checked first.

Providers' API keys come from the process environment, not the database: they are read
once per reload, as before, and a running process's environment does not change.
"""

import asyncio
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from catalog.models import Provider
from catalog.selectors import CATALOG_VERSION_SQL, RoutableEndpoint, routable_endpoints
from marketplace.asyncdb import AsyncDb
from proxy.routing.plan import Catalog


@dataclass(frozen=True, slots=True)
class _Loaded:
    endpoints: dict[str, list[RoutableEndpoint]] = field(default_factory=dict)
    # Lower-cased slugs and display names of every provider -> slug.
    provider_slugs: dict[str, str] = field(default_factory=dict)


def _load() -> _Loaded:
    providers = Provider.objects.values_list("slug", "name")
    names = {name.lower(): slug for slug, name in providers}
    return _Loaded(
        endpoints=routable_endpoints(),
        provider_slugs={**names, **{slug.lower(): slug for slug, _ in providers}},
    )


class CatalogCache:
    def __init__(self, *, db: AsyncDb, ttl_s: int = 5) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._loaded = _Loaded()
        self._version: int | None = None  # the catalog version of `_loaded`; None: never loaded
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._reloading: asyncio.Task[None] | None = None

    async def endpoints_for(self, model_slug: str) -> list[RoutableEndpoint]:
        return (await self._current()).endpoints.get(model_slug, [])

    async def all_endpoints(self) -> list[RoutableEndpoint]:
        return [e for group in (await self._current()).endpoints.values() for e in group]

    async def routing_catalog(self, *, platform_fee_bps: int) -> Catalog:
        loaded = await self._current()
        return Catalog(
            endpoints_of=lambda slug: loaded.endpoints.get(slug, []),
            provider_slugs=loaded.provider_slugs,
            platform_fee_bps=platform_fee_bps,
        )

    async def _current(self) -> _Loaded:
        now = time.monotonic()
        if now < self._expires_at:
            return self._loaded
        if now >= self._expires_at + self._ttl_s:  # too old to serve, or never loaded
            await self._refresh()
        elif self._reloading is None or self._reloading.done():
            self._reloading = asyncio.ensure_future(self._refresh())
        return self._loaded

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() < self._expires_at:
                return
            # The version is read before the catalog: a change committed in between is loaded
            # now and its version seen next time, which costs one reload too many, never one
            # too few.
            version = await self._version_now()
            if version != self._version:
                self._loaded = await sync_to_async(_load)()
                self._version = version
            self._expires_at = time.monotonic() + self._ttl_s

    async def _version_now(self) -> int:
        row = await self._db.fetchone(CATALOG_VERSION_SQL)
        return int(row[0]) if row else 0
