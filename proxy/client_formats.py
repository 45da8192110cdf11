"""What the client sees: the canonical answer and chunks written in the format of the route it
called. `/chat/completions` gets OpenAI chat (OpenRouter's extras included); `/completions`
gets legacy text completions; `/messages` gets Anthropic Messages (its own module)."""

from typing import Any, Protocol

import orjson

from billing.money import format_usd
from proxy.metering import Bill, Call

Json = dict[str, Any]
DONE_EVENT = b"data: [DONE]\n\n"


def sse(payload: Json) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def usage_payload(bill: Bill) -> Json:
    """OpenRouter's usage: the tokens billed and what they cost, in USD (exact decimal)."""
    return {
        "prompt_tokens": bill.usage.prompt_tokens,
        "completion_tokens": bill.usage.completion_tokens,
        "total_tokens": bill.usage.total_tokens,
        "cost": orjson.Fragment(format_usd(bill.charge.total_nanos)),
        "is_byok": bill.is_byok,
    }


class ClientFormat(Protocol):
    def answer_body(self, call: Call, answer: Json, bill: Bill) -> bytes:
        """A whole (non-streamed) answer."""
        ...

    def stream_start(self, call: Call) -> bytes:
        """Sent once, before the first chunk."""
        ...

    def chunk_events(self, call: Call, chunk: Json) -> bytes:
        """One canonical chunk (with choices) as the client's events."""
        ...

    def stream_end(self, call: Call, bill: Bill, created: int) -> bytes:
        """After the last chunk of a stream that finished: usage, and the end marker."""
        ...

    def stream_error(self, call: Call, message: str, created: int) -> bytes:
        """The last event of a stream that failed after it started (never a clean end)."""
        ...


def _stamp(call: Call, payload: Json) -> Json:
    payload.update(id=call.generation_id, model=call.endpoint.model_slug,
                   provider=call.endpoint.provider_name)  # fmt: skip
    return payload


class ChatFormat:
    """OpenAI chat completions, as OpenRouter writes them."""

    def answer_body(self, call: Call, answer: Json, bill: Bill) -> bytes:
        _stamp(call, answer)
        answer["object"] = "chat.completion"
        for index, choice in enumerate(answer["choices"]):
            # Adapters of other formats leave out what OpenAI's clients expect to find.
            choice.setdefault("index", index)
            choice.setdefault("logprobs", None)
            choice.setdefault("message", {}).setdefault("role", "assistant")
            choice["message"].setdefault("content", None)
            choice["message"].setdefault("refusal", None)
        answer["usage"] = {**(answer.get("usage") or {}), **usage_payload(bill)}
        if call.trace_wanted:
            answer["switchyard_metadata"] = call.trace_payload()
        return orjson.dumps(answer)

    def stream_start(self, call: Call) -> bytes:
        return b""

    def chunk_events(self, call: Call, chunk: Json) -> bytes:
        chunk["object"] = "chat.completion.chunk"
        return sse(_stamp(call, chunk))

    def stream_end(self, call: Call, bill: Bill, created: int) -> bytes:
        chunk: Json = {"object": "chat.completion.chunk", "created": created, "choices": [],
                       "usage": usage_payload(bill)}  # fmt: skip
        if call.trace_wanted:
            chunk["switchyard_metadata"] = call.trace_payload()
        return sse(_stamp(call, chunk)) + DONE_EVENT

    def stream_error(self, call: Call, message: str, created: int) -> bytes:
        chunk = {
            "object": "chat.completion.chunk",
            "created": created,
            "error": {"code": 502, "message": message},
            "choices": [
                {"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                 "native_finish_reason": call.outcome.native_finish_reason}
            ],
        }  # fmt: skip
        return sse(_stamp(call, chunk))


class TextCompletionFormat:
    """OpenAI's legacy `/completions`: `choices[].text` instead of messages."""

    def answer_body(self, call: Call, answer: Json, bill: Bill) -> bytes:
        choices = [
            {"index": c.get("index", 0), "text": (c.get("message") or {}).get("content") or "",
             "finish_reason": c.get("finish_reason"),
             "native_finish_reason": c.get("native_finish_reason"), "logprobs": None}
            for c in answer.get("choices", [])
        ]  # fmt: skip
        body: Json = {"object": "text_completion", "created": answer.get("created", 0),
                      "choices": choices, "usage": usage_payload(bill)}  # fmt: skip
        if call.trace_wanted:
            body["switchyard_metadata"] = call.trace_payload()
        return orjson.dumps(_stamp(call, body))

    def stream_start(self, call: Call) -> bytes:
        return b""

    def chunk_events(self, call: Call, chunk: Json) -> bytes:
        choices = [
            {"index": c.get("index", 0), "text": (c.get("delta") or {}).get("content") or "",
             "finish_reason": c.get("finish_reason"),
             "native_finish_reason": c.get("native_finish_reason"), "logprobs": None}
            for c in chunk.get("choices", [])
        ]  # fmt: skip
        event = {"object": "text_completion", "created": chunk.get("created", 0),
                 "choices": choices}  # fmt: skip
        return sse(_stamp(call, event))

    def stream_end(self, call: Call, bill: Bill, created: int) -> bytes:
        event: Json = {"object": "text_completion", "created": created, "choices": [],
                       "usage": usage_payload(bill)}  # fmt: skip
        if call.trace_wanted:
            event["switchyard_metadata"] = call.trace_payload()
        return sse(_stamp(call, event)) + DONE_EVENT

    def stream_error(self, call: Call, message: str, created: int) -> bytes:
        choice = {"index": 0, "text": "", "finish_reason": "error", "logprobs": None}
        event = {"object": "text_completion", "created": created,
                 "error": {"code": 502, "message": message}, "choices": [choice]}  # fmt: skip
        return sse(_stamp(call, event))
