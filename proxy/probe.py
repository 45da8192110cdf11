"""Probing endpoints that no request is testing: those back from a cooldown (the probe is their
trial) and those idle for a while (so their health shown to users stays current).

A probe is the smallest real request: one streamed token. Its outcome is recorded like any
request's. It runs from a periodic Celery task when health lives in Redis, and inside each
gateway process when health is that process's own memory.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from catalog.selectors import RoutableEndpoint
from proxy.errors import UpstreamError, UpstreamRejected
from proxy.health import CircuitState, HealthStore
from proxy.providers import adapter_for, upstream_of
from proxy.providers.base import StreamTranslator
from proxy.sse import sse_data
from proxy.upstream import (
    TRANSPORT_ERRORS,
    UpstreamClient,
    UpstreamResponse,
    body_chunks,
    failure_of,
    read_capped,
    upstream_post,
)

logger = logging.getLogger(__name__)

PROBE_MESSAGE = "Reply with one word: ok"
# A probe's answer is one token; anything much bigger is not an answer to it.
_PROBE_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ProbeResult:
    endpoint_id: int
    ok: bool
    detail: str


PROBE_REQUEST = {"messages": [{"role": "user", "content": PROBE_MESSAGE}], "max_tokens": 1}


async def _first_chunk(translator: StreamTranslator, response: UpstreamResponse) -> None:
    """Returns once the stream's first valid chunk has arrived, else raises UpstreamError."""
    try:
        async for data in sse_data(body_chunks(response), line_limit=_PROBE_BODY_LIMIT):
            if data != b"[DONE]" and any(c.get("choices") for c in translator.feed(data)):
                return
    except ValueError as exc:  # garbage, or an error event
        raise UpstreamError(f"an invalid stream ({exc})") from exc
    raise UpstreamError("the stream had no valid first chunk")


async def _send_probe(client: UpstreamClient, endpoint: RoutableEndpoint) -> float:
    """The probe's time to first chunk in ms; raises UpstreamError when the endpoint failed."""
    adapter = adapter_for(endpoint)
    request = adapter.chat_request(PROBE_REQUEST, upstream_of(endpoint), stream=True)
    started = time.monotonic()
    async with upstream_post(client, request, provider=endpoint.provider_name) as response:
        if response.status != 200:
            content = await read_capped(response, _PROBE_BODY_LIMIT)
            raise failure_of(endpoint.provider_name, response, content, adapter.error_message)
        try:
            await _first_chunk(adapter.stream_translator(), response)
        except TRANSPORT_ERRORS as exc:
            raise UpstreamError(f"unreachable ({type(exc).__name__})") from exc
    return (time.monotonic() - started) * 1000


def _siblings(endpoint: RoutableEndpoint, endpoints: Sequence[RoutableEndpoint]) -> list[int]:
    return [
        e.endpoint_id
        for e in endpoints
        if e.model_slug == endpoint.model_slug
        and e.variant == endpoint.variant
        and e.endpoint_id != endpoint.endpoint_id
    ]


async def probe_endpoint(
    store: HealthStore,
    client: UpstreamClient,
    endpoint: RoutableEndpoint,
    endpoints: Sequence[RoutableEndpoint],
    *,
    clock: Callable[[], float],
    timeout_s: float,
) -> ProbeResult:
    endpoint_id = endpoint.endpoint_id
    try:
        async with asyncio.timeout(timeout_s):
            latency_ms = await _send_probe(client, endpoint)
    except TimeoutError:
        failure: UpstreamError | UpstreamRejected = UpstreamError(f"no answer in {timeout_s:g} s")
    except (UpstreamError, UpstreamRejected) as error:
        failure = error
    else:
        await store.record_success(
            endpoint_id, clock(), latency_ms=int(latency_ms), throughput_tps=None
        )
        return ProbeResult(endpoint_id, ok=True, detail=f"first chunk in {latency_ms:.0f} ms")
    if isinstance(failure, UpstreamError) and failure.retry_after_s is not None:
        await store.record_rate_limited(endpoint_id, clock(), retry_after_s=failure.retry_after_s)
    elif isinstance(failure, UpstreamError):
        await store.record_failure(endpoint_id, clock(), siblings=_siblings(endpoint, endpoints))
    # A probe the provider rejects as a bad request says nothing about the provider's health.
    return ProbeResult(endpoint_id, ok=False, detail=failure.message)


async def probe_due_endpoints(
    store: HealthStore,
    client: UpstreamClient,
    endpoints: Sequence[RoutableEndpoint],
    *,
    idle_after_s: float,
    timeout_s: float = 30.0,
    clock: Callable[[], float] = time.time,
) -> list[ProbeResult]:
    """Probe every endpoint that is due, concurrently; returns what each probe found."""
    by_id = {e.endpoint_id: e for e in endpoints}
    now = clock()
    due = await store.idle_or_due(list(by_id), now, idle_after_s=idle_after_s)
    health = await store.snapshot(due, now)
    chosen = []
    for endpoint_id in due:
        recovering = health[endpoint_id].state is CircuitState.HALF_OPEN
        # A recovering endpoint gets one trial at a time, across probes and requests alike.
        if recovering and not await store.trial_acquire(endpoint_id, now):
            continue
        chosen.append(by_id[endpoint_id])
    results = await asyncio.gather(
        *(
            probe_endpoint(store, client, e, endpoints, clock=clock, timeout_s=timeout_s)
            for e in chosen
        )
    )
    for result in results:
        log = logger.info if result.ok else logger.warning
        log("probe of endpoint %d: %s", result.endpoint_id, result.detail)
    return list(results)
