"""A completion request's life: authenticate, route, hold, forward (failing over), relay,
settle. `POST /chat/completions` here; `/completions` and `/messages` translate their bodies to
the same canonical request and answer in their own format."""

import asyncio
import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

from catalog.selectors import RoutableEndpoint
from proxy.account_defaults import preferences_with_defaults, routing_defaults
from proxy.asgi_io import JSON_HEADERS, Receive, Scope, Send, header, read_body, send_response
from proxy.auth import Principal, api_key_header
from proxy.byok import byok_plan
from proxy.chat_request import ChatRequest, chat_request_parse
from proxy.client_formats import ChatFormat, ClientFormat
from proxy.errors import ApiError, UpstreamError, UpstreamTimeout
from proxy.failover import answer_headers, first_answer, record_answer_health
from proxy.gateway import Gateway
from proxy.metering import Call, generation_id_new
from proxy.observe import CALL_SCOPE_KEY
from proxy.providers import adapter_for
from proxy.providers.base import ProviderFormatError
from proxy.providers.openai_compat import usage_from
from proxy.response_cache.keys import CacheSlot, cache_key, cache_ttl_wanted
from proxy.response_cache.replay import cached_answer_keep, cached_answer_send, cached_endpoint_take
from proxy.response_cache.store import CachedAnswer
from proxy.routing.plan import HEALTHY, Demand, RoutePlan, Vitals, route_plan
from proxy.routing.preferences import Sort, Variant
from proxy.routing.trace import TRACE_HEADER, trace_wanted
from proxy.streaming import relay_stream
from proxy.timing import UPSTREAM, PhaseTimer
from proxy.upstream import fetch_answer


async def chat_completions(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    await complete(gateway, scope, receive, send, parse=chat_request_parse, fmt=ChatFormat())


async def complete(
    gateway: Gateway,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    parse: Callable[[bytes], ChatRequest],
    fmt: ClientFormat,
) -> None:
    timer = PhaseTimer(time.monotonic())
    principal = await gateway.authenticate(api_key_header(scope))
    timer.mark("auth")
    request = parse(await read_body(receive, limit=gateway.body_limit))
    await gateway.rate_limits.admit(gateway.db, principal, request)  # before any hold
    cache = gateway.response_cache
    ttl_s = cache_ttl_wanted(scope, default_s=cache.default_ttl_s, max_s=cache.max_ttl_s)
    call = await call_create(gateway, principal, request, timer=timer)
    timer.mark("routing")
    scope[CALL_SCOPE_KEY] = call  # read by proxy.observe once the request is answered
    call.trace_wanted = trace_wanted(header(scope, TRACE_HEADER))
    if ttl_s is not None:
        call.cache = CacheSlot(cache_key(user_id=principal.user_id, request=request), ttl_s)
        entry = await cache.lookup(call.cache.key)
        if entry is not None and cached_endpoint_take(call, entry):
            call.cache.hit = True
            await _answer_from_cache(call, entry, send, fmt)
            return
    await call.hold()
    timer.mark("hold")
    try:
        if request.stream:
            await relay_stream(call, receive, send, fmt)
        else:
            async with asyncio.timeout(gateway.deadline_s):
                await _relay_completion(call, send, fmt)
    except TimeoutError:
        call.outcome.failed = True
        raise UpstreamTimeout(f"The request took longer than {gateway.deadline_s} s") from None
    except ApiError as error:
        call.outcome.failed = True
        if call.trace_wanted:
            error.metadata = {**(error.metadata or {}), "switchyard_metadata": call.trace_payload()}
        raise
    except BaseException:
        call.outcome.failed = True
        raise
    finally:
        await call.settle()  # a no-op if the relay settled already


async def call_create(
    gateway: Gateway, principal: Principal, request: ChatRequest, *, timer: PhaseTimer
) -> Call:
    """The request routed: the user's own provider keys (BYOK) first, then the plan."""
    plan, vitals = await route(gateway, request, user_id=principal.user_id)
    keys = await gateway.byok.keys_of(gateway.db, principal.user_id)
    plan = byok_plan(plan, keys, max_attempts=gateway.max_attempts)
    call = Call(gateway, principal, request, plan, generation_id_new(), timer, vitals=vitals)
    call.byok_keys = keys
    return call


async def _answer_from_cache(
    call: Call, entry: CachedAnswer, send: Send, fmt: ClientFormat
) -> None:
    await call.hold(free=True)
    try:
        await cached_answer_send(call, entry, send, fmt)
    except BaseException:
        call.outcome.failed = True
        raise
    finally:
        await call.settle()


def _needs_speed(request: ChatRequest) -> bool:
    """Whether the order depends on measured latency or throughput."""
    if request.provider.sort in (Sort.THROUGHPUT, Sort.LATENCY):
        return True
    return request.provider.sort is None and any(m.variant is Variant.NITRO for m in request.models)


async def route(
    gateway: Gateway, request: ChatRequest, *, user_id: int | None = None
) -> tuple[RoutePlan, dict[int, Vitals]]:
    catalog = await gateway.catalog.routing_catalog(platform_fee_bps=gateway.fee_bps)
    if user_id is not None:  # the account's defaults (settings page) where the request is silent
        preferences = preferences_with_defaults(
            request.provider,
            await routing_defaults(gateway.db, user_id),
            provider_slugs=catalog.provider_slugs,
            variant_sort=any(m.variant in (Variant.NITRO, Variant.FLOOR) for m in request.models),
        )
        request = dataclasses.replace(request, provider=preferences)
    endpoints = [e for ref in request.models for e in catalog.endpoints_of(ref.slug)]
    vitals = await gateway.health.vitals(endpoints, with_speed=_needs_speed(request))
    demand = Demand(
        models=request.models,
        preferences=request.provider,
        prompt_tokens_estimate=request.prompt_tokens_estimate,
        max_tokens=request.max_tokens,
        parameters=request.parameters,
        embeddings=request.embeddings,
    )
    plan = route_plan(
        demand, catalog, lambda i: vitals.get(i, HEALTHY), max_attempts=gateway.max_attempts
    )
    return plan, vitals


def _completion_text_bytes(payload: dict[str, Any]) -> int:
    total = 0
    for choice in payload.get("choices", []):
        content = (choice.get("message") or {}).get("content")
        total += len(content.encode()) if isinstance(content, str) else 0
    return total


async def _fetch_completion(call: Call, endpoint: RoutableEndpoint) -> dict[str, Any]:
    """One provider's whole answer, in the canonical format, or an UpstreamError that lets the
    next provider try."""
    adapter = adapter_for(endpoint)
    request = adapter.chat_request(call.request.payload, call.upstream_of(endpoint), stream=False)
    provider = endpoint.provider_name
    content = await fetch_answer(
        call.gateway.client, request, provider=provider,
        limit=call.gateway.upstream_body_limit, error_message=adapter.error_message,
    )  # fmt: skip
    try:
        return adapter.chat_response(content)
    except ProviderFormatError as exc:
        raise UpstreamError(
            f"{provider} returned an invalid response ({exc})",
            metadata={"provider_name": provider},
        ) from exc


async def _relay_completion(call: Call, send: Send, fmt: ClientFormat) -> None:
    payload = await first_answer(
        call,
        functools.partial(_fetch_completion, call),
        timeout_s=call.gateway.response_timeout_s,
    )
    call.timer.mark(UPSTREAM)
    choices = payload["choices"]
    outcome = call.outcome
    outcome.first_token_at = outcome.ended_at = time.monotonic()
    outcome.usage = usage_from(payload)
    outcome.native_finish_reason = choices[0].get("native_finish_reason") if choices else None
    outcome.upstream_id = str(payload.get("id", ""))
    bill = await call.settle(completion_bytes=_completion_text_bytes(payload))
    call.timer.mark("settle")
    record_answer_health(call, bill.usage.completion_tokens)
    if call.cache is not None:  # kept before it is sent: the client's next request may hit it
        await cached_answer_keep(call, payload, bill)
    out_headers = (*JSON_HEADERS, *answer_headers(call))
    await send_response(send, 200, fmt.answer_body(call, payload, bill), headers=out_headers)
