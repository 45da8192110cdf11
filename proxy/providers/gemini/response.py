"""A Gemini `GenerateContentResponse` (a whole answer or one stream event) as canonical: its
first candidate as choice 0, finish reasons normalized, usage made canonical.

Finish reasons: STOP is `stop` (`tool_calls` when the answer calls functions), MAX_TOKENS is
`length`; the safety family (SAFETY, RECITATION, LANGUAGE, BLOCKLIST, PROHIBITED_CONTENT, SPII,
MODEL_ARMOR, IMAGE_*) is `content_filter`; everything else (OTHER, MALFORMED_FUNCTION_CALL,
UNEXPECTED_TOOL_CALL, unknown words) is `error`. `completion_tokens` counts thinking tokens, as
OpenAI's does for reasoning models.
"""

import time
import uuid
from typing import Any

import orjson

from proxy.providers.base import Json, ProviderFormatError

_FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **dict.fromkeys(
        ["SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
         "MODEL_ARMOR", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"],
        "content_filter",
    ),
}  # fmt: skip


def completion_from_answer(answer: Json) -> Json:
    """The canonical `chat.completion` for a whole Gemini answer."""
    choice = candidate_choice(answer, first_call=0)
    completion: Json = {
        "id": answer.get("responseId") or generated_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.get("modelVersion") or "",
        "choices": [choice],
    }
    usage = usage_from(answer.get("usageMetadata"))
    if usage is not None:
        completion["usage"] = usage
    return completion


def generated_id() -> str:
    return f"gen-{uuid.uuid4().hex}"


def error_text(payload: Any) -> str | None:
    """The message of an error body (Gemini sometimes wraps it in a list), or None."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("status") or "an error")
    return str(error) if error else None


def answer_load(data: bytes) -> Json:
    """A Gemini answer or stream event; ProviderFormatError if it is an error or not an
    object."""
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ProviderFormatError("Gemini sent invalid JSON") from None
    error = error_text(answer)
    if error is not None:
        raise ProviderFormatError(f"Gemini sent an error: {error[:300]}")
    if not isinstance(answer, dict):
        raise ProviderFormatError("Gemini's answer is not an object")
    return answer


def finish_reason_normalize(native: str, *, called_tools: bool) -> str:
    """The canonical word for a Gemini finishReason; a word Gemini adds later is an error
    until it is known, as most of its recent additions are failures."""
    if native == "STOP" and called_tools:
        return "tool_calls"
    return _FINISH_REASONS.get(native, "error")


def _delta(candidate: Json, first_call: int) -> tuple[str, str, list[Json]]:
    """The text, the thoughts and the tool calls (numbered from `first_call`) of a candidate."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[Json] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if not isinstance(part, dict):
            raise ProviderFormatError("Gemini sent a part that is not an object")
        call = part.get("functionCall")
        if isinstance(call, dict):
            arguments = orjson.dumps(call.get("args") or {}).decode()
            function = {"name": call.get("name", ""), "arguments": arguments}
            calls.append({"id": f"call_{first_call + len(calls)}", "type": "function",
                          "function": function})  # fmt: skip
        elif isinstance(part.get("text"), str):
            (reasoning if part.get("thought") else text).append(part["text"])
    return "".join(text), "".join(reasoning), calls


def candidate_choice(answer: Json, *, first_call: int) -> Json:
    """Choice 0 of a whole answer, or of one stream event."""
    candidates = answer.get("candidates")
    if not candidates:
        block = block_reason(answer)
        if not block:
            raise ProviderFormatError("Gemini's answer has no candidates")
        return _message_choice("", "", [], "content_filter", block)
    if not isinstance(candidates, list) or not isinstance(candidates[0], dict):
        raise ProviderFormatError("Gemini's candidates are not a list of objects")
    text, reasoning, calls = _delta(candidates[0], first_call)
    native = candidates[0].get("finishReason")
    finish = finish_reason_normalize(str(native), called_tools=bool(calls)) if native else None
    if finish is None:
        finish = "tool_calls" if calls else "stop"
    return _message_choice(text, reasoning, calls, finish, native)


def block_reason(answer: Json) -> str | None:
    """Why Gemini refused the prompt itself (then it sends no candidates)."""
    feedback = answer.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    return str(reason) if reason else None


def _message_choice(
    text: str, reasoning: str, calls: list[Json], finish: str, native: str | None
) -> Json:
    message: Json = {"role": "assistant", "content": text or (None if calls else "")}
    if reasoning:
        message["reasoning"] = reasoning
    if calls:
        message["tool_calls"] = calls
    return {"index": 0, "message": message, "finish_reason": finish,
            "native_finish_reason": native}  # fmt: skip


def usage_from(metadata: Any) -> Json | None:
    """Canonical usage from `usageMetadata`; thinking tokens are completion tokens."""
    if not isinstance(metadata, dict):
        return None
    prompt = metadata.get("promptTokenCount") or 0
    thoughts = metadata.get("thoughtsTokenCount")
    completion = (metadata.get("candidatesTokenCount") or 0) + (thoughts or 0)
    usage: Json = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if metadata.get("cachedContentTokenCount") is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": metadata["cachedContentTokenCount"]}
    if thoughts is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return usage
