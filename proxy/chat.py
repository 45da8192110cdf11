"""`POST /api/v1/chat/completions`: authenticate, route, hold, forward (failing over), relay,
settle."""

import asyncio
import functools
import time
from typing import Any

import httpx
import orjson

from billing.money import format_usd
from catalog.selectors import RoutableEndpoint
from proxy.asgi_io import JSON_HEADERS, Receive, Scope, Send, header, read_body, send_response
from proxy.auth import authenticate
from proxy.chat_request import ChatRequest, chat_request_parse
from proxy.errors import ApiError, UpstreamError, UpstreamTimeout
from proxy.failover import answer_headers, first_answer, record_answer_health
from proxy.gateway import Gateway
from proxy.metering import Bill, Call, generation_id_new
from proxy.providers import openai_compat
from proxy.routing.plan import HEALTHY, Demand, RoutePlan, Vitals, route_plan
from proxy.routing.preferences import Sort, Variant
from proxy.routing.trace import TRACE_HEADER, trace_wanted
from proxy.streaming import relay_stream
from proxy.upstream import read_capped


async def chat_completions(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    started_at = time.monotonic()
    principal = await authenticate(gateway.db, header(scope, b"authorization"))
    request = chat_request_parse(await read_body(receive, limit=gateway.body_limit))
    plan, vitals = await _route(gateway, request)
    call = Call(gateway, principal, request, plan, generation_id_new(), started_at, vitals=vitals)
    call.trace_wanted = trace_wanted(header(scope, TRACE_HEADER))
    await call.hold()
    try:
        async with asyncio.timeout(gateway.deadline_s):
            if request.stream:
                await relay_stream(call, receive, send)
            else:
                await _relay_completion(call, send)
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


def _needs_speed(request: ChatRequest) -> bool:
    """Whether the order depends on measured latency or throughput."""
    if request.provider.sort in (Sort.THROUGHPUT, Sort.LATENCY):
        return True
    return request.provider.sort is None and any(m.variant is Variant.NITRO for m in request.models)


async def _route(gateway: Gateway, request: ChatRequest) -> tuple[RoutePlan, dict[int, Vitals]]:
    catalog = await gateway.catalog.routing_catalog(platform_fee_bps=gateway.fee_bps)
    endpoints = [e for ref in request.models for e in catalog.endpoints_of(ref.slug)]
    vitals = await gateway.health.vitals(endpoints, with_speed=_needs_speed(request))
    demand = Demand(
        models=request.models,
        preferences=request.provider,
        prompt_tokens_estimate=request.prompt_tokens_estimate,
        max_tokens=request.max_tokens,
        parameters=request.parameters,
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


def _completion_payload(endpoint: RoutableEndpoint, content: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
        raise UpstreamError(
            f"{endpoint.provider_name} returned an invalid response",
            metadata={"provider_name": endpoint.provider_name},
        )
    return payload


async def _fetch_completion(call: Call, endpoint: RoutableEndpoint) -> dict[str, Any]:
    """One provider's whole answer, or an UpstreamError that lets the next one try."""
    url, headers, body = openai_compat.upstream_request(call.request, endpoint)
    limit = call.gateway.upstream_body_limit
    try:
        async with call.gateway.client.stream("POST", url, content=body, headers=headers) as resp:
            content = await read_capped(resp, limit)
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"{endpoint.provider_name} is unreachable ({type(exc).__name__})",
            metadata={"provider_name": endpoint.provider_name},
        ) from exc
    if resp.status_code != 200:
        raise openai_compat.upstream_failure(
            endpoint.provider_name,
            resp.status_code,
            content,
            retry_after=resp.headers.get("retry-after"),
        )
    return _completion_payload(endpoint, content)


async def _relay_completion(call: Call, send: Send) -> None:
    payload = await first_answer(
        call,
        functools.partial(_fetch_completion, call),
        timeout_s=call.gateway.response_timeout_s,
    )
    choices = payload["choices"]
    outcome = call.outcome
    outcome.first_token_at = outcome.ended_at = time.monotonic()
    outcome.usage = openai_compat.usage_from(payload)
    outcome.native_finish_reason = choices[0].get("finish_reason") if choices else None
    outcome.upstream_id = str(payload.get("id", ""))
    bill = await call.settle(completion_bytes=_completion_text_bytes(payload))
    record_answer_health(call, bill.usage.completion_tokens)
    out_headers = (*JSON_HEADERS, *answer_headers(call))
    await send_response(send, 200, _client_body(call, payload, bill), headers=out_headers)


def _client_body(call: Call, payload: dict[str, Any], bill: Bill) -> bytes:
    for choice in payload["choices"]:
        choice["native_finish_reason"] = choice.get("finish_reason")
        choice["finish_reason"] = openai_compat.finish_reason_normalize(choice.get("finish_reason"))
    payload.update(id=call.generation_id, model=call.endpoint.model_slug,
                   provider=call.endpoint.provider_name)  # fmt: skip
    payload["usage"] = {
        **(payload.get("usage") or {}),
        "prompt_tokens": bill.usage.prompt_tokens,
        "completion_tokens": bill.usage.completion_tokens,
        "total_tokens": bill.usage.total_tokens,
        "cost": orjson.Fragment(format_usd(bill.charge.total_nanos)),
        "is_byok": False,
    }
    if call.trace_wanted:
        payload["switchyard_metadata"] = call.trace_payload()
    return orjson.dumps(payload)
