"""`POST /api/v1/chat/completions`: authenticate, route, hold, forward, relay, settle."""

import asyncio
import time
from typing import Any

import httpx
import orjson

from billing.money import format_usd
from catalog.selectors import RoutableEndpoint
from proxy.asgi_io import JSON_HEADERS, Receive, Scope, Send, header, read_body, send_response
from proxy.auth import authenticate
from proxy.chat_request import ChatRequest, chat_request_parse
from proxy.errors import ModelNotFound, NoProviderAvailable, UpstreamError, UpstreamTimeout
from proxy.gateway import Gateway
from proxy.metering import Bill, Call, generation_id_new
from proxy.providers import openai_compat
from proxy.streaming import relay_stream


async def chat_completions(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    started_at = time.monotonic()
    principal = await authenticate(gateway.db, header(scope, b"authorization"))
    request = chat_request_parse(await read_body(receive, limit=gateway.body_limit))
    endpoint = await _route(gateway, request)
    call = Call(gateway, principal, request, endpoint, generation_id_new(), started_at)
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
    except BaseException:
        call.outcome.failed = True
        raise
    finally:
        await call.settle()  # a no-op if the relay settled already


async def _route(gateway: Gateway, request: ChatRequest) -> RoutableEndpoint:
    endpoints = await gateway.catalog.endpoints_for(request.model)
    if not endpoints:
        raise ModelNotFound(f"Model '{request.model}' does not exist or has no provider")
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
    choices = payload["choices"]
    outcome = call.outcome
    outcome.first_token_at = time.monotonic()
    outcome.usage = openai_compat.usage_from(payload)
    outcome.native_finish_reason = choices[0].get("finish_reason") if choices else None
    outcome.upstream_id = str(payload.get("id", ""))
    bill = await call.settle(completion_bytes=_completion_text_bytes(payload))
    out_headers = (*JSON_HEADERS, (b"x-generation-id", call.generation_id.encode()))
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
    return orjson.dumps(payload)
