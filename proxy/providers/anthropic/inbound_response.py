"""A canonical `chat.completion` as an Anthropic `Message`, for `POST /api/v1/messages`: stop
reasons, content blocks and usage (`input_tokens` excludes cache reads and writes) mapped back
to Anthropic's shapes. The stream encoder shares the stop-reason and usage mappings."""

import uuid
from typing import Any

import orjson

from proxy.providers.anthropic._values import as_object, count
from proxy.providers.base import Json

# Canonical finish reasons, as Anthropic stop reasons.
_STOP_REASONS = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "content_filter": "refusal", "error": "end_turn",
}  # fmt: skip
ANTHROPIC_STOP_REASONS = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
     "model_context_window_exceeded"}
)  # fmt: skip


def canonical_response_to_message(completion: Json, *, model: str) -> Json:
    """The Anthropic `Message` for a canonical `chat.completion` (with its `usage`)."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    answer = as_object(choice.get("message"))
    content: list[Json] = []
    reasoning = answer.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        # No signature: the thinking came through the gateway, not from Anthropic itself.
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if text := _text(answer.get("content")):
        content.append({"type": "text", "text": text})
    content.extend(_tool_use(call) for call in answer.get("tool_calls") or [])
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason_from(
            choice.get("finish_reason"), choice.get("native_finish_reason")
        ),
        "stop_sequence": None,
        "usage": message_usage(completion.get("usage")),
    }


def message_id(completion_id: Any) -> str:
    if not isinstance(completion_id, str) or not completion_id:
        return f"msg_{uuid.uuid4().hex}"
    return completion_id if completion_id.startswith("msg_") else f"msg_{completion_id}"


def stop_reason_from(finish_reason: Any, native: Any = None) -> str:
    """The provider's own word when it is Anthropic's (it says more: stop_sequence, pause_turn),
    else the canonical finish reason mapped back."""
    if native in ANTHROPIC_STOP_REASONS:
        return str(native)
    return (
        _STOP_REASONS.get(finish_reason, "end_turn")
        if isinstance(finish_reason, str)
        else "end_turn"
    )


def message_usage(usage: Any) -> Json:
    """Anthropic usage for canonical usage: `input_tokens` excludes cache reads and writes."""
    usage = as_object(usage)
    details = as_object(usage.get("prompt_tokens_details"))
    cached, written = (
        count(details.get("cached_tokens")),
        count(details.get("cache_write_tokens")),
    )
    return {
        "input_tokens": max(count(usage.get("prompt_tokens")) - cached - written, 0),
        "output_tokens": count(usage.get("completion_tokens")),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    }


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return content if isinstance(content, str) else ""


def _tool_use(call: Any) -> Json:
    call = as_object(call)
    function = as_object(call.get("function"))
    return {
        "type": "tool_use",
        "id": str(call.get("id") or f"toolu_{uuid.uuid4().hex}"),
        "name": str(function.get("name", "")),
        "input": _arguments(function.get("arguments")),
    }


def _arguments(raw: Any) -> Json:
    """A model's arguments that are not a JSON object (it happens) become `{}`: Anthropic's
    `input` must be an object, and the answer has been paid for."""
    try:
        arguments = orjson.loads(raw) if isinstance(raw, str) and raw else {}
    except orjson.JSONDecodeError:
        return {}
    return arguments if isinstance(arguments, dict) else {}
