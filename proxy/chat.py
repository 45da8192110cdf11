"""`POST /api/v1/chat/completions`: authenticate, route, forward, relay, meter."""

import time
from typing import Any

import httpx
import orjson

from billing.money import Usage, format_usd
from catalog.selectors import RoutableEndpoint
from proxy.asgi_io import JSON_HEADERS, Receive, Scope, Send, header, read_body, send_response
from proxy.auth import Principal, authenticate
from proxy.chat_request import ChatRequest, chat_request_parse
from proxy.errors import (
    InsufficientCredits,
    ModelNotFound,
    NoProviderAvailable,
    UpstreamError,
)
from proxy.gateway import Gateway
from proxy.metering import Call, generation_id_new, tokens_estimate
from proxy.providers import openai_compat
from proxy.streaming import relay_stream


async def chat_completions(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    started_at = time.monotonic()
    principal = await authenticate(gateway.db, header(scope, b"authorization"))
    request = chat_request_parse(await read_body(receive, limit=gateway.body_limit))
    endpoint = await _route(gateway, request, principal)
    call = Call(gateway, principal, request, endpoint, generation_id_new(), started_at)
    if request.stream:
        await relay_stream(call, send)
    else:
        await _relay_completion(call, send)


async def _route(gateway: Gateway, request: ChatRequest, principal: Principal) -> RoutableEndpoint:
    endpoints = await gateway.catalog.endpoints_for(request.model)
    if not endpoints:
        raise ModelNotFound(f"Model '{request.model}' does not exist or has no provider")
    if principal.balance_nanos <= 0:
        raise InsufficientCredits(
            "Insufficient credits: add credits to your account to keep using paid models",
            metadata={"balance": format_usd(principal.balance_nanos)},
        )
    fitting = [e for e in endpoints if (request.max_tokens or 0) <= e.max_output_tokens]
    if not fitting:
        raise NoProviderAvailable(
            f"No provider of '{request.model}' accepts max_tokens={request.max_tokens}"
        )
    return fitting[0]  # cheapest first


def _completion_text_bytes(payload: dict[str, Any]) -> int:
    total = 0
    for choice in payload.get("choices", []):
        content = (choice.get("message") or {}).get("content")
        total += len(content.encode()) if isinstance(content, str) else 0
    return total


def _load_completion(endpoint: RoutableEndpoint, response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise openai_compat.upstream_failure(
            endpoint.provider_name, response.status_code, response.content
        )
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
        raise UpstreamError(
            f"{endpoint.provider_name} returned an invalid response",
            metadata={"provider_name": endpoint.provider_name},
        )
    return payload


async def _relay_completion(call: Call, send: Send) -> None:
    url, headers, body = openai_compat.upstream_request(call.request, call.endpoint)
    try:
        response = await call.gateway.client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"{call.endpoint.provider_name} is unreachable ({type(exc).__name__})",
            metadata={"provider_name": call.endpoint.provider_name},
        ) from exc
    payload = _load_completion(call.endpoint, response)
    usage = openai_compat.usage_from(payload) or Usage(
        prompt_tokens=tokens_estimate(call.request.prompt_bytes),
        completion_tokens=tokens_estimate(_completion_text_bytes(payload)),
    )
    charge = call.charge_for(usage)
    choices = payload["choices"]
    native = choices[0].get("finish_reason") if choices else None
    await call.settle(
        usage=usage, charge=charge, finish_reason=native, upstream_id=str(payload.get("id", ""))
    )
    for choice in choices:
        choice["native_finish_reason"] = choice.get("finish_reason")
        choice["finish_reason"] = openai_compat.finish_reason_normalize(choice.get("finish_reason"))
    payload.update(id=call.generation_id, model=call.endpoint.model_slug,
                   provider=call.endpoint.provider_name)  # fmt: skip
    payload["usage"] = {
        **(payload.get("usage") or {}),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost": orjson.Fragment(format_usd(charge.total_nanos)),
        "is_byok": False,
    }
    headers_out = (*JSON_HEADERS, (b"x-generation-id", call.generation_id.encode()))
    await send_response(send, 200, orjson.dumps(payload), headers=headers_out)
