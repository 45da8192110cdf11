"""Per-process state of the gateway: shared connections, created once per event loop."""

from dataclasses import dataclass, field

import httpx
from django.conf import settings

from marketplace.asyncdb import AsyncDb, asyncdb_create
from proxy.catalog_cache import CatalogCache
from proxy.upstream import upstream_client_create


@dataclass
class Gateway:
    db: AsyncDb
    client: httpx.AsyncClient
    catalog: CatalogCache = field(default_factory=CatalogCache)
    fee_bps: int = 0
    body_limit: int = 10 * 1024 * 1024
    hold_ttl_s: int = 900
    deadline_s: int = 600

    async def close(self) -> None:
        await self.client.aclose()
        await self.db.close()


def gateway_create() -> Gateway:
    return Gateway(
        db=asyncdb_create(),
        catalog=CatalogCache(ttl_s=settings.CATALOG_CACHE_TTL_S),
        client=upstream_client_create(),
        fee_bps=settings.INFERENCE_FEE_BPS,
        body_limit=settings.API_MAX_BODY_BYTES,
        hold_ttl_s=settings.HOLD_TTL_S,
        deadline_s=settings.REQUEST_DEADLINE_S,
    )
