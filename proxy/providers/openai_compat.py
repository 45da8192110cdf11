"""The OpenAI chat-completions wire format, spoken by most providers (and the simulator)."""

import os
from typing import Any

import orjson

from billing.money import Usage
from catalog.selectors import RoutableEndpoint
from proxy.chat_request import ChatRequest
from proxy.errors import ApiError, UpstreamError, UpstreamRejected

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "error"})
# A provider's 4xx that are about the provider (its key, its account, its model list, its load),
# not about the request: another provider can serve it.
_PROVIDER_FAULT_4XX = frozenset({401, 402, 403, 404, 408, 409, 429})
_FINISH_ALIASES = {"function_call": "tool_calls", "end_turn": "stop", "max_tokens": "length"}


def upstream_request(
    request: ChatRequest, endpoint: RoutableEndpoint
) -> tuple[str, dict[str, str], bytes]:
    """URL, headers and body for the provider."""
    body = dict(request.payload, model=endpoint.upstream_model_id)
    if request.stream:
        # Bill from the provider's own count, which it only sends in streams when asked.
        body["stream_options"] = {**body.get("stream_options", {}), "include_usage": True}
    return chat_url(endpoint), upstream_headers(endpoint), orjson.dumps(body)


def chat_url(endpoint: RoutableEndpoint) -> str:
    return f"{endpoint.base_url.rstrip('/')}/chat/completions"


def upstream_headers(endpoint: RoutableEndpoint) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    api_key = os.environ.get(endpoint.api_key_env, "") if endpoint.api_key_env else ""
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


def usage_from(payload: dict[str, Any]) -> Usage | None:
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    if prompt < 0 or completion < 0:
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def finish_reason_normalize(native: str | None) -> str | None:
    if native is None or native in FINISH_REASONS:
        return native
    return _FINISH_ALIASES.get(native, "stop")


def error_message(body: bytes) -> str:
    """The provider's own error message, if its body has one."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return ""


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is rare from APIs: ignored)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None


def upstream_failure(
    provider: str, status: int, body: bytes, *, retry_after: str | None = None
) -> ApiError:
    """A provider's non-200 answer. Its 400, 413, 422 and the like are the request's own fault
    and passed on with their status; the rest (auth, payment, not found, timeout, rate limit,
    5xx) are the provider's failure: 502, and another provider is tried."""
    message = error_message(body)
    if 400 <= status < 500 and status not in _PROVIDER_FAULT_4XX:
        return UpstreamRejected(
            status, message or f"{provider} rejected the request", provider=provider
        )
    return UpstreamError(
        f"{provider} failed (HTTP {status})" + (f": {message}" if message else ""),
        metadata={"provider_name": provider, "provider_code": status},
        provider_status=status,
        retry_after_s=retry_after_seconds(retry_after) if status == 429 else None,
    )
