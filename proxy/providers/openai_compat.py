"""The OpenAI chat-completions wire format, spoken by most providers (and the simulator).

It is also the gateway's canonical format, so translating is mostly checking: the answer must
be an object with choices, finish reasons are normalized (the provider's own word is kept as
`native_finish_reason`), and an error where an answer should be is a failure.
"""

import time
from dataclasses import dataclass
from typing import Any

import orjson

from billing.money import Usage
from proxy.providers.base import (
    FINISH_REASONS,
    Json,
    ProviderFormatError,
    Upstream,
    UpstreamRequest,
)

_FINISH_ALIASES = {"function_call": "tool_calls", "end_turn": "stop", "max_tokens": "length"}


def finish_reason_normalize(native: str | None) -> str | None:
    if native is None or native in FINISH_REASONS:
        return native
    return _FINISH_ALIASES.get(native, "stop")


def usage_from(payload: Json) -> Usage | None:
    """The usage of a canonical answer or chunk, if it has a valid one."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    if prompt < 0 or completion < 0:
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def _error_text(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:300]


def _normalize_choices(payload: Json) -> Json:
    for choice in payload["choices"]:
        if isinstance(choice, dict):
            native = choice.get("finish_reason")
            choice["native_finish_reason"] = native
            choice["finish_reason"] = finish_reason_normalize(native)
    return payload


def _load_object(data: bytes, what: str) -> Json:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ProviderFormatError(f"{what} is not JSON") from None
    if not isinstance(payload, dict):
        raise ProviderFormatError(f"{what} is not an object")
    if payload.get("error"):
        raise ProviderFormatError(f"an error {what}: {_error_text(payload['error'])}")
    return payload


class OpenAIStreamTranslator:
    def feed(self, data: bytes) -> list[Json]:
        chunk = _load_object(data, "event")
        if not isinstance(chunk.get("choices", []), list):
            raise ProviderFormatError("a stream chunk without a choices list")
        chunk.setdefault("choices", [])
        return [_normalize_choices(chunk)]

    def finish(self) -> list[Json]:
        return []


class OpenAIAdapter:
    def chat_request(self, payload: Json, upstream: Upstream, *, stream: bool) -> UpstreamRequest:
        body = dict(payload, model=upstream.model, stream=stream)
        if stream:
            # Bill from the provider's own count, which it only sends in streams when asked.
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            body.pop("stream_options", None)
        headers = {"content-type": "application/json", "accept": "application/json"}
        if upstream.api_key:
            headers["authorization"] = f"Bearer {upstream.api_key}"
        url = f"{upstream.base_url.rstrip('/')}/chat/completions"
        return UpstreamRequest(url, headers, orjson.dumps(body))

    def chat_response(self, body: bytes) -> Json:
        payload = _load_object(body, "answer")
        if not isinstance(payload.get("choices"), list):
            raise ProviderFormatError("an answer without a choices list")
        payload.setdefault("created", int(time.time()))
        return _normalize_choices(payload)

    def stream_translator(self) -> OpenAIStreamTranslator:
        return OpenAIStreamTranslator()

    def error_message(self, body: bytes) -> str:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return ""
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        return ""


@dataclass(frozen=True, slots=True)
class Embeddings:
    data: list[Json]
    usage: Usage | None


def embeddings_request(payload: Json, upstream: Upstream) -> UpstreamRequest:
    """An OpenAI-compatible `/embeddings` request (the one format that serves embeddings)."""
    headers = {"content-type": "application/json", "accept": "application/json"}
    if upstream.api_key:
        headers["authorization"] = f"Bearer {upstream.api_key}"
    url = f"{upstream.base_url.rstrip('/')}/embeddings"
    return UpstreamRequest(url, headers, orjson.dumps(dict(payload, model=upstream.model)))


def embeddings_payload(body: bytes) -> Embeddings:
    payload = _load_object(body, "answer")
    data = payload.get("data")
    valid = isinstance(data, list) and all(
        isinstance(item, dict) and isinstance(item.get("embedding"), list | str) for item in data
    )
    if not valid or not data:
        raise ProviderFormatError("an answer without embeddings")
    usage = payload.get("usage")
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if not isinstance(prompt, int) or isinstance(prompt, bool) or prompt < 0:
        return Embeddings(data, None)
    return Embeddings(data, Usage(prompt, 0))
