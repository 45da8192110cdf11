"""Parsing and validation of `POST /chat/completions` bodies, before any upstream is called."""

from dataclasses import dataclass
from typing import Any

import orjson

from proxy.errors import InvalidRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# OpenRouter's own request fields: they steer the gateway and are never sent upstream.
GATEWAY_FIELDS = frozenset(
    {"provider", "models", "route", "transforms", "plugins", "usage", "session_id", "trace",
     "debug", "preset"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    stream: bool
    max_tokens: int | None
    # The body to forward (gateway-only fields removed); the adapter sets model and usage options.
    payload: dict[str, Any]
    # Byte length of the request body: a cheap upper bound of its prompt tokens.
    prompt_bytes: int


def _positive_int(payload: dict[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"'{name}' must be a positive integer")
    return value


def _check_message(index: int, message: Any) -> None:
    if not isinstance(message, dict):
        raise InvalidRequest(f"messages[{index}] must be an object")
    role = message.get("role")
    if role not in ROLES:
        raise InvalidRequest(f"messages[{index}].role must be one of {', '.join(sorted(ROLES))}")
    content = message.get("content")
    if content is None and role == "assistant":
        return  # an assistant turn may carry only tool calls
    if not isinstance(content, str | list):
        raise InvalidRequest(f"messages[{index}].content must be a string or a list of parts")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array")
    for index, message in enumerate(messages):
        _check_message(index, message)


def _load_object(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("Request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("Request body must be a JSON object")
    return payload


def chat_request_parse(body: bytes) -> ChatRequest:
    payload = _load_object(body)
    model = payload.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("'model' is required and must be a string, e.g. 'openai/gpt-4o-mini'")
    _check_messages(payload.get("messages"))
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean")
    # Providers differ on which bound wins when both are sent (OpenAI: max_completion_tokens),
    # so the larger one is the only safe bound of what the request can cost.
    bounds = [_positive_int(payload, name) for name in ("max_tokens", "max_completion_tokens")]
    max_tokens = max((bound for bound in bounds if bound is not None), default=None)
    forwarded = {key: value for key, value in payload.items() if key not in GATEWAY_FIELDS}
    return ChatRequest(
        model=model.strip(),
        stream=stream,
        max_tokens=max_tokens,
        payload=forwarded,
        prompt_bytes=len(body),
    )
