"""A per-process, briefly cached copy of the routable catalog.

The catalog changes rarely; reading it per request would cost a query on the hot path.
Changes made in the admin reach every gateway within `ttl_s` seconds.
"""

import asyncio
import time

from asgiref.sync import sync_to_async

from catalog.selectors import RoutableEndpoint, routable_endpoints


class CatalogCache:
    def __init__(self, *, ttl_s: int = 5) -> None:
        self._ttl_s = ttl_s
        self._endpoints: dict[str, list[RoutableEndpoint]] = {}
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def endpoints_for(self, model_slug: str) -> list[RoutableEndpoint]:
        if time.monotonic() >= self._expires_at:
            await self._refresh()
        return self._endpoints.get(model_slug, [])

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() < self._expires_at:
                return
            self._endpoints = await sync_to_async(routable_endpoints)()
            self._expires_at = time.monotonic() + self._ttl_s
