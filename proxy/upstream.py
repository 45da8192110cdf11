"""The one shared HTTP client to providers: httpx's API on aiohttp's faster transport."""

import httpx
from django.conf import settings
from httpx_aiohttp import HttpxAiohttpClient


def upstream_client_create() -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.UPSTREAM_CONNECT_TIMEOUT_S,
        read=settings.UPSTREAM_READ_TIMEOUT_S,
        write=settings.UPSTREAM_CONNECT_TIMEOUT_S,
        pool=settings.UPSTREAM_CONNECT_TIMEOUT_S,
    )
    limits = httpx.Limits(
        max_connections=settings.UPSTREAM_MAX_CONNECTIONS,
        max_keepalive_connections=settings.UPSTREAM_MAX_CONNECTIONS,
    )
    client: httpx.AsyncClient = HttpxAiohttpClient(
        timeout=timeout, limits=limits, follow_redirects=False, trust_env=False
    )
    return client
