"""The one shared HTTP client to providers: aiohttp's client session, used directly.

httpx's API on aiohttp's transport (httpx-aiohttp) cost 3.6 times the CPU of aiohttp alone
per request (354 µs against 98 µs, measured on this machine: bench/README.md), all of it in
httpx's request building, cookie and redirect handling. The hot path needs none of that, so it
talks to aiohttp through the three functions below; httpx stays for the catalog sync.
"""

from collections.abc import AsyncIterator, Callable
from types import TracebackType

import aiohttp
from django.conf import settings

from proxy.errors import ApiError, UpstreamError
from proxy.providers.base import UpstreamRequest
from proxy.providers.failures import upstream_failure

UpstreamClient = aiohttp.ClientSession
UpstreamResponse = aiohttp.ClientResponse

# What a broken connection, a refused one or a socket timeout raises.
TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)
# ... and what a stream's bytes raise when they are not a valid event stream.
STREAM_ERRORS = (aiohttp.ClientError, TimeoutError, ValueError)


def upstream_client_create() -> UpstreamClient:
    """Called inside the event loop that will use it."""
    connect_s = settings.UPSTREAM_CONNECT_TIMEOUT_S
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=connect_s,
        sock_connect=connect_s,
        sock_read=settings.UPSTREAM_READ_TIMEOUT_S,
    )
    connector = aiohttp.TCPConnector(limit=settings.UPSTREAM_MAX_CONNECTIONS, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        # One session serves every user: a provider's cookie must never follow another request.
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


class upstream_post:  # a class used as a function: `async with upstream_post(...)`
    """The provider's response (any status), its body not yet read; transport failures (while
    sending, or reading the body inside the block) raise the UpstreamError that lets the next
    provider try. Leaving the block releases the connection.

    A class rather than an `asynccontextmanager` generator: it runs on every request, and the
    generator's machinery cost a tenth of what aiohttp itself does."""

    __slots__ = ("_client", "_provider", "_request", "_response")

    def __init__(self, client: UpstreamClient, request: UpstreamRequest, *, provider: str) -> None:
        self._client = client
        self._request = request
        self._provider = provider
        self._response: UpstreamResponse | None = None

    async def __aenter__(self) -> UpstreamResponse:
        request = self._request
        try:
            self._response = await self._client.post(
                request.url, data=request.body, headers=request.headers, allow_redirects=False
            )
        except TRANSPORT_ERRORS as exc:
            raise unreachable(self._provider, exc) from exc
        return self._response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._response is not None
        await self._response.__aexit__(exc_type, exc, traceback)
        if isinstance(exc, TRANSPORT_ERRORS):
            raise unreachable(self._provider, exc) from exc


def body_chunks(response: UpstreamResponse) -> AsyncIterator[bytes]:
    """The body as it arrives, chunk by chunk (no waiting for a buffer to fill)."""
    return response.content.iter_any()


async def read_capped(response: UpstreamResponse, limit: int) -> bytes:
    """The body, or an UpstreamError once it grows past `limit` bytes: a provider must not be
    able to fill the gateway's memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in body_chunks(response):
        size += len(chunk)
        if size > limit:
            raise UpstreamError(f"The provider's answer is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def unreachable(provider: str, error: BaseException) -> UpstreamError:
    return UpstreamError(
        f"{provider} is unreachable ({type(error).__name__})",
        metadata={"provider_name": provider},
    )


def failure_of(
    provider: str, response: UpstreamResponse, content: bytes, error_message: Callable[[bytes], str]
) -> ApiError:
    """The ApiError for a provider's non-200 answer (see providers.failures)."""
    return upstream_failure(
        provider,
        response.status,
        error_message(content),
        retry_after=response.headers.get("retry-after"),
    )


async def fetch_answer(
    client: UpstreamClient,
    request: UpstreamRequest,
    *,
    provider: str,
    limit: int,
    error_message: Callable[[bytes], str],
) -> bytes:
    """A provider's whole 200 answer (at most `limit` bytes); anything else raises the
    ApiError that says whose fault it was."""
    async with upstream_post(client, request, provider=provider) as response:
        content = await read_capped(response, limit)  # a broken body: unreachable, as above
    if response.status != 200:
        raise failure_of(provider, response, content, error_message)
    return content
