"""Parsing and validation of `POST /chat/completions` bodies, before any upstream is called."""

from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.errors import InvalidRequest
from proxy.routing.preferences import (
    ModelRef,
    ProviderPreferences,
    model_refs_parse,
    preferences_parse,
)

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# OpenRouter's own request fields: they steer the gateway and are never sent upstream.
GATEWAY_FIELDS = frozenset(
    {"provider", "models", "route", "transforms", "plugins", "usage", "session_id", "trace",
     "debug", "preset"}
)  # fmt: skip
# Request parameters a provider may or may not support (OpenRouter's `supported_parameters`).
PARAMETERS = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "response_format", "structured_outputs",
     "temperature", "top_p", "top_k", "min_p", "top_a", "stop", "seed", "max_tokens",
     "frequency_penalty", "presence_penalty", "repetition_penalty", "logit_bias", "logprobs",
     "top_logprobs", "reasoning", "include_reasoning", "web_search_options", "verbosity"}
)  # fmt: skip
_PARAMETER_ALIASES = {"max_completion_tokens": "max_tokens", "reasoning_effort": "reasoning"}
# Without the provider's tokenizer, ~4 bytes of text per token is the usual rule of thumb.
BYTES_PER_TOKEN_ESTIMATE = 4


def tokens_estimate(byte_count: int) -> int:
    return -(-byte_count // BYTES_PER_TOKEN_ESTIMATE)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    # The models to try, in order: `model`, then the `models` fallbacks.
    models: tuple[ModelRef, ...]
    stream: bool
    max_tokens: int | None
    # The body to forward (gateway-only fields removed); the adapter sets model and usage options.
    payload: dict[str, Any]
    # Byte length of the request body: a cheap upper bound of its prompt tokens.
    prompt_bytes: int
    provider: ProviderPreferences = field(default_factory=ProviderPreferences)
    # The request parameters it uses, under their canonical names.
    parameters: frozenset[str] = frozenset()
    # Estimated from the messages' text, to check which endpoints' context fits.
    prompt_tokens_estimate: int = 0
    # An embeddings request (`input` instead of messages; no completion).
    embeddings: bool = False

    @property
    def model(self) -> str:
        return str(self.models[0])


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


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array")
    for index, message in enumerate(messages):
        _check_message(index, message)
    return messages


def json_object_parse(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("Request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("Request body must be a JSON object")
    return payload


def _text_bytes(content: Any) -> int:
    if isinstance(content, str):
        return len(content.encode())
    if isinstance(content, list):
        texts = (p.get("text") for p in content if isinstance(p, dict))
        return sum(len(text.encode()) for text in texts if isinstance(text, str))
    return 0


def _parameters_used(payload: dict[str, Any]) -> frozenset[str]:
    used = {_PARAMETER_ALIASES.get(name, name) for name, v in payload.items() if v is not None}
    return frozenset(used & PARAMETERS)


def chat_request_parse(body: bytes) -> ChatRequest:
    payload = json_object_parse(body)
    models = model_refs_parse(payload.get("model"), payload.get("models"))
    messages = _check_messages(payload.get("messages"))
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean")
    # Providers differ on which bound wins when both are sent (OpenAI: max_completion_tokens),
    # so the larger one is the only safe bound of what the request can cost.
    bounds = [_positive_int(payload, name) for name in ("max_tokens", "max_completion_tokens")]
    max_tokens = max((bound for bound in bounds if bound is not None), default=None)
    forwarded = {key: value for key, value in payload.items() if key not in GATEWAY_FIELDS}
    prompt_text_bytes = sum(_text_bytes(message.get("content")) for message in messages)
    return ChatRequest(
        models=models,
        stream=stream,
        max_tokens=max_tokens,
        payload=forwarded,
        prompt_bytes=len(body),
        provider=preferences_parse(payload.get("provider")),
        parameters=_parameters_used(forwarded),
        prompt_tokens_estimate=tokens_estimate(prompt_text_bytes),
    )
