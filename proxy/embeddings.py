"""`POST /api/v1/embeddings`: vectors for text, routed, held and billed like completions (the
input's tokens at the endpoint's prompt price), failing over like them."""

import time
from typing import Any

import orjson

from catalog.selectors import RoutableEndpoint
from proxy.asgi_io import JSON_HEADERS, Receive, Scope, Send, header, read_body, send_response
from proxy.auth import api_key_header
from proxy.chat import call_create
from proxy.chat_request import GATEWAY_FIELDS, ChatRequest, json_object_parse, tokens_estimate
from proxy.client_formats import usage_payload
from proxy.errors import ApiError, InvalidRequest, UpstreamError
from proxy.failover import answer_headers, first_answer, record_answer_health
from proxy.gateway import Gateway
from proxy.metering import Call
from proxy.observe import CALL_SCOPE_KEY
from proxy.providers import adapter_for
from proxy.providers.openai_compat import Embeddings, embeddings_payload, embeddings_request
from proxy.routing.preferences import model_refs_parse, preferences_parse
from proxy.routing.trace import TRACE_HEADER, trace_wanted
from proxy.timing import UPSTREAM, PhaseTimer
from proxy.upstream import fetch_answer

MAX_INPUTS = 2048


def _input_text_bytes(value: Any) -> int:
    """Bytes of text in `input` (a string, strings, or token-id arrays); 400 when malformed."""
    items = [value] if isinstance(value, str) or _is_tokens(value) else value
    if not isinstance(items, list) or not items or len(items) > MAX_INPUTS:
        raise InvalidRequest(
            f"'input' must be a string, or an array of 1 to {MAX_INPUTS} strings or token arrays"
        )
    total = 0
    for item in items:
        if isinstance(item, str) and item:
            total += len(item.encode())
        elif _is_tokens(item):
            total += len(item) * 4  # a token is ~4 bytes of text
        else:
            raise InvalidRequest("Each 'input' item must be a non-empty string or token array")
    return total


def _is_tokens(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    )


def embeddings_request_parse(body: bytes) -> ChatRequest:
    payload = json_object_parse(body)
    models = model_refs_parse(payload.get("model"), payload.get("models"))
    text_bytes = _input_text_bytes(payload.get("input"))
    dimensions = payload.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidRequest("'dimensions' must be a positive integer")
    if payload.get("encoding_format", "float") not in ("float", "base64"):
        raise InvalidRequest("'encoding_format' must be 'float' or 'base64'")
    return ChatRequest(
        models=models,
        stream=False,
        max_tokens=None,
        payload={k: v for k, v in payload.items() if k not in GATEWAY_FIELDS},
        prompt_bytes=len(body),
        provider=preferences_parse(payload.get("provider")),
        prompt_tokens_estimate=tokens_estimate(text_bytes),
        embeddings=True,
    )


async def _fetch_embeddings(call: Call, endpoint: RoutableEndpoint) -> Embeddings:
    request = embeddings_request(call.request.payload, call.upstream_of(endpoint))
    provider = endpoint.provider_name
    content = await fetch_answer(
        call.gateway.client, request, provider=provider,
        limit=call.gateway.upstream_body_limit, error_message=adapter_for(endpoint).error_message,
    )  # fmt: skip
    try:
        return embeddings_payload(content)
    except ValueError as exc:
        raise UpstreamError(
            f"{provider} returned invalid embeddings ({exc})", metadata={"provider_name": provider}
        ) from exc


def _client_body(call: Call, answer: Embeddings, bill_usage: dict[str, Any]) -> bytes:
    body = {
        "id": call.generation_id,
        "object": "list",
        "data": answer.data,
        "model": call.endpoint.model_slug,
        "provider": call.endpoint.provider_name,
        "usage": {**bill_usage, "total_tokens": bill_usage["prompt_tokens"]},
    }
    if call.trace_wanted:
        body["switchyard_metadata"] = call.trace_payload()
    return orjson.dumps(body)


async def embeddings(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    timer = PhaseTimer(time.monotonic())
    principal = await gateway.authenticate(api_key_header(scope))
    timer.mark("auth")
    request = embeddings_request_parse(await read_body(receive, limit=gateway.body_limit))
    await gateway.rate_limits.admit(gateway.db, principal, request)  # before any hold
    call = await call_create(gateway, principal, request, timer=timer)
    scope[CALL_SCOPE_KEY] = call  # read by proxy.observe once the request is answered
    call.trace_wanted = trace_wanted(header(scope, TRACE_HEADER))
    timer.mark("routing")
    await call.hold()
    timer.mark("hold")
    try:
        answer = await first_answer(
            call, lambda e: _fetch_embeddings(call, e), timeout_s=gateway.response_timeout_s
        )
        timer.mark(UPSTREAM)
        outcome = call.outcome
        outcome.first_token_at = outcome.ended_at = time.monotonic()
        outcome.usage = answer.usage
        outcome.native_finish_reason = "stop"  # a whole answer: charged
        bill = await call.settle()
        timer.mark("settle")
    except ApiError:
        call.outcome.failed = True
        raise
    finally:
        await call.settle()
    record_answer_health(call, 0)
    usage = usage_payload(bill)
    headers = (*JSON_HEADERS, *answer_headers(call))
    await send_response(send, 200, _client_body(call, answer, usage), headers=headers)
