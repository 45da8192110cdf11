"""An Anthropic `Message` as the canonical `chat.completion`: stop reasons normalized, content
blocks split into text, reasoning and tool calls, and usage made canonical (`prompt_tokens` is
the sum of `input_tokens` and the cache reads and writes, which Anthropic counts apart)."""

import time
from typing import Any

import orjson

from proxy.providers.anthropic._values import count, is_int
from proxy.providers.base import Json, ProviderFormatError

# Anthropic's stop reasons, normalized to the canonical finish reasons.
STOP_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "refusal": "content_filter",
}  # fmt: skip


def finish_reason_from(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return STOP_REASONS.get(stop_reason, "stop")


def error_text(payload: Any) -> str:
    """The message of an Anthropic error body: `{"type": "error", "error": {"type", "message"}}`."""
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else ""


def completion_from_message(message: Json) -> Json:
    """The canonical `chat.completion` for an Anthropic `Message`."""
    if message.get("type") == "error":
        raise ProviderFormatError(f"Anthropic error: {error_text(message) or 'no message'}")
    if message.get("type") != "message" or not isinstance(message.get("content"), list):
        raise ProviderFormatError("the answer is not an Anthropic message")
    text, reasoning, tool_calls = _content(message["content"])
    answer: Json = {"role": "assistant", "content": text}
    if tool_calls:
        answer["tool_calls"] = tool_calls
    if reasoning is not None:
        answer["reasoning"] = reasoning
    stop_reason = message.get("stop_reason")
    completion: Json = {
        "id": str(message.get("id", "")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(message.get("model", "")),
        "choices": [
            {"index": 0, "message": answer, "finish_reason": finish_reason_from(stop_reason),
             "native_finish_reason": stop_reason}
        ],
    }  # fmt: skip
    usage = usage_from(message.get("usage"))
    if usage:
        completion["usage"] = usage
    return completion


def _content(blocks: list[Any]) -> tuple[str | None, str | None, list[Json]]:
    texts: list[str] = []
    thoughts: list[str] = []
    tool_calls: list[Json] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(_field(block, "text", str))
        elif kind == "thinking":
            thoughts.append(_field(block, "thinking", str))
        elif kind == "tool_use":
            arguments = orjson.dumps(_field(block, "input", dict)).decode()
            tool_calls.append(
                {"id": _field(block, "id", str), "type": "function",
                 "function": {"name": _field(block, "name", str), "arguments": arguments}}
            )  # fmt: skip
        # Redacted thinking and server-tool blocks have no canonical form.
    text = "".join(texts) if texts else None
    return text, "".join(thoughts) if thoughts else None, tool_calls


def _field(block: Json, name: str, kind: type) -> Any:
    value = block.get(name)
    if not isinstance(value, kind):
        raise ProviderFormatError(f"a {block.get('type')} block has no valid {name!r}")
    return value


def usage_from(usage: Any) -> Json | None:
    """Canonical usage, or None when the provider's is missing or malformed."""
    if not isinstance(usage, dict):
        return None
    input_tokens, output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
    if not (is_int(input_tokens) and is_int(output_tokens)):
        return None
    details = usage.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    return canonical_usage(
        input_tokens=max(input_tokens, 0),
        output_tokens=max(output_tokens, 0),
        cache_read=count(usage.get("cache_read_input_tokens")),
        cache_write=count(usage.get("cache_creation_input_tokens")),
        reasoning=thinking if is_int(thinking) else None,
    )


def canonical_usage(
    *, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int,
    reasoning: int | None = None,
) -> Json:  # fmt: skip
    prompt = input_tokens + cache_read + cache_write
    usage: Json = {
        "prompt_tokens": prompt,
        "completion_tokens": output_tokens,
        "total_tokens": prompt + output_tokens,
        "prompt_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": cache_write},
    }
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def load_object(data: bytes) -> Json:
    """A JSON object from the provider (an answer or a stream event); ProviderFormatError if
    it is not one."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ProviderFormatError("the answer is not JSON") from None
    if not isinstance(payload, dict):
        raise ProviderFormatError("the answer is not a JSON object")
    return payload
