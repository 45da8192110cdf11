"""The one shared HTTP client to providers: httpx's API on aiohttp's faster transport."""

import httpx
from django.conf import settings
from httpx_aiohttp import HttpxAiohttpClient

from proxy.errors import UpstreamError


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


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body, or an UpstreamError once it grows past `limit` bytes: a provider must not be
    able to fill the gateway's memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise UpstreamError(f"The provider's answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
