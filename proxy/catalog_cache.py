"""A per-process, briefly cached copy of the routable catalog.

The catalog changes rarely; reading it per request would cost a query on the hot path.
Changes made in the admin reach every gateway within `ttl_s` seconds (plus the time a reload
takes). A copy that has just expired keeps serving while one reload runs in the background:
with a thousand models a reload takes tens of milliseconds, which no request should wait
for. A copy older than twice the TTL (an idle gateway; or a TTL of 0) is reloaded first.
"""

import asyncio
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from catalog.models import Provider
from catalog.selectors import RoutableEndpoint, routable_endpoints
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
    def __init__(self, *, ttl_s: int = 5) -> None:
        self._ttl_s = ttl_s
        self._loaded = _Loaded()
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
            self._loaded = await sync_to_async(_load)()
            self._expires_at = time.monotonic() + self._ttl_s
