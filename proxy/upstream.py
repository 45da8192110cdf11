"""The one shared HTTP client to providers: httpx's API on aiohttp's faster transport."""

from collections.abc import Callable

import httpx
from django.conf import settings
from httpx_aiohttp import HttpxAiohttpClient

from proxy.errors import UpstreamError
from proxy.providers.base import UpstreamRequest
from proxy.providers.failures import upstream_failure


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


def unreachable(provider: str, error: httpx.HTTPError) -> UpstreamError:
    return UpstreamError(
        f"{provider} is unreachable ({type(error).__name__})",
        metadata={"provider_name": provider},
    )


async def fetch_answer(
    client: httpx.AsyncClient,
    request: UpstreamRequest,
    *,
    provider: str,
    limit: int,
    error_message: Callable[[bytes], str],
) -> bytes:
    """A provider's whole 200 answer (at most `limit` bytes); anything else raises the
    ApiError that says whose fault it was (see providers.failures)."""
    try:
        async with client.stream(
            "POST", request.url, content=request.body, headers=request.headers
        ) as response:
            content = await read_capped(response, limit)
    except httpx.HTTPError as exc:
        raise unreachable(provider, exc) from exc
    if response.status_code != 200:
        raise upstream_failure(
            provider,
            response.status_code,
            error_message(content),
            retry_after=response.headers.get("retry-after"),
        )
    return content
