"""Trying a request's endpoints in turn until one gives a first answer.

An attempt fails over when the provider is unreachable, sends nothing within the first-answer
deadline, answers 5xx, 429 or another provider-side 4xx, or answers 200 with something that is
not a valid first answer. A 4xx caused by the request itself (400, 413, 422...) is the caller's
answer: returned as it is, not retried, and not held against the provider. Nothing has been
sent to the client before the first answer, so a failed attempt costs the client nothing.
"""

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

from catalog.selectors import RoutableEndpoint
from proxy.errors import ApiError, ProvidersRateLimited, UpstreamError, UpstreamRejected
from proxy.metering import Call, Outcome
from proxy.response_cache.keys import STATUS_HEADER
from proxy.routing.trace import Attempt


async def _endpoints_to_try(call: Call) -> AsyncGenerator[RoutableEndpoint, None]:
    """The plan's attempts in order. An endpoint back from a cooldown is tried in its place
    only by the one request that wins its trial; for everyone else it waits at the end."""
    deferred: list[RoutableEndpoint] = []
    for endpoint in call.attempts:
        trial = call.vitals_of(endpoint).trial
        if trial and not await call.gateway.health.trial_acquire(endpoint):
            deferred.append(endpoint)
            continue
        yield endpoint
    for endpoint in deferred:
        yield endpoint


def _timeout_error(endpoint: RoutableEndpoint, timeout_s: float) -> UpstreamError:
    return UpstreamError(
        f"{endpoint.provider_name} sent no answer within {timeout_s:g} s",
        metadata={"provider_name": endpoint.provider_name},
    )


async def first_answer[T](
    call: Call, start: Callable[[RoutableEndpoint], Awaitable[T]], *, timeout_s: float
) -> T:
    """The first endpoint's answer that `start` accepts; `call.endpoint` is left on it."""
    failures: list[UpstreamError] = []
    # Closed here, not left to the garbage collector, which closes an async generator from a
    # task of its own (a loop wake-up and a task on every request).
    async with aclosing(_endpoints_to_try(call)) as endpoints:
        async for endpoint in endpoints:
            call.endpoint, call.outcome = endpoint, Outcome()
            started = time.monotonic()
            try:
                async with asyncio.timeout(timeout_s):
                    answer = await _started(call, endpoint, start)
            except UpstreamRejected as rejected:
                call.trace.append(_attempt(endpoint, started, rejected.status, rejected.message))
                raise
            except TimeoutError:
                failure = _timeout_error(endpoint, timeout_s)
            except UpstreamError as error:
                failure = error
            else:
                call.trace.append(_attempt(endpoint, started, 200, None))
                return answer
            _failed(call, endpoint, started, failure)
            failures.append(failure)
    raise _all_failed(call, failures)


def _failed(call: Call, endpoint: RoutableEndpoint, started: float, failure: UpstreamError) -> None:
    """A failed attempt, traced and told to the endpoint's health."""
    call.trace.append(_attempt(endpoint, started, failure.provider_status, failure.message))
    if not endpoint.byok:  # a user's own key failing says nothing of the shared endpoint
        call.gateway.health.failure(
            endpoint, siblings=call.siblings_of(endpoint), retry_after_s=failure.retry_after_s
        )


async def _started[T](
    call: Call, endpoint: RoutableEndpoint, start: Callable[[RoutableEndpoint], Awaitable[T]]
) -> T:
    """`start(endpoint)`; no error repeats the key it was sent with, the user's own (BYOK) or
    the shared one (a provider's message may quote it)."""
    try:
        return await start(endpoint)
    except ApiError as error:
        error.message = key_redacted(call, endpoint, error.message)
        error.args = (error.message,)
        raise


def key_redacted(call: Call, endpoint: RoutableEndpoint, text: str) -> str:
    """`text` without the key `endpoint` is called with: a provider's message may quote it."""
    key = call.upstream_of(endpoint).api_key
    return text.replace(key, "[redacted]") if key else text


def _attempt(
    endpoint: RoutableEndpoint, started: float, status: int | None, error: str | None
) -> Attempt:
    return Attempt(
        provider=endpoint.provider_slug,
        model=endpoint.model_slug,
        status=status,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def _all_failed(call: Call, failures: list[UpstreamError]) -> ApiError:
    last = failures[-1]
    if len(failures) == 1:
        return last
    attempts = [attempt.payload() for attempt in call.trace]
    message = f"All {len(failures)} providers tried failed; the last: {last.message}"
    if all(failure.rate_limited for failure in failures):
        waits = [f.retry_after_s for f in failures if f.retry_after_s is not None]
        metadata = {"attempts": attempts, "retry_after": min(waits) if waits else None}
        return ProvidersRateLimited(message, metadata=metadata)
    return UpstreamError(message, metadata={**(last.metadata or {}), "attempts": attempts})


def answer_headers(call: Call) -> list[tuple[bytes, bytes]]:
    """Headers of a successful answer: where to look it up, who answered, and whether from
    the response cache (only when the request asked for it)."""
    headers = [
        (b"x-generation-id", call.generation_id.encode()),
        (b"x-switchyard-provider", call.endpoint.provider_slug.encode()),
        call.timer.header(),
    ]
    if call.cache is not None:
        headers.append((STATUS_HEADER, b"HIT" if call.cache.hit else b"MISS"))
    return headers


def record_answer_health(call: Call, completion_tokens: int) -> None:
    """What the answering endpoint's health learns from this request, once it is over."""
    health, endpoint, outcome = call.gateway.health, call.endpoint, call.outcome
    if outcome.failed:  # broke after its first answer: still the provider's failure
        health.failure(endpoint, siblings=call.siblings_of(endpoint), retry_after_s=None)
        return
    if not call.request.stream:
        # A whole answer in one response says nothing about time to first token or speed.
        health.success(endpoint, latency_ms=None, throughput_tps=None)
        return
    first_at, ended_at = outcome.first_token_at, outcome.ended_at
    latency_ms = call.trace[-1].duration_ms if call.trace else None
    throughput = None
    if not outcome.cancelled and first_at and ended_at and ended_at - first_at >= 0.001:
        throughput = completion_tokens / (ended_at - first_at)
    health.success(endpoint, latency_ms=latency_ms, throughput_tps=throughput)
