"""OpenAI's chat-completions answers, whole and streamed, and OpenAI's error shape (which the
embeddings route and the control API share).

A streamed text answer is a role chunk, one content chunk per token, the finish chunk, the
usage chunk (with ``stream_options.include_usage``) and ``[DONE]``. A streamed tool call
replaces the role chunk with one carrying the call's id, name and empty arguments, and the
content chunks with argument fragments (one token each).
"""

from collections.abc import Mapping

from proxy.simulator.faults import error_event_body
from proxy.simulator.prompt import JsonObject
from proxy.simulator.responder import Completion
from proxy.simulator.wire import Event, EventStream, Reply, ResponseMeta, sse_event

SSE_DONE = b"data: [DONE]\n\n"
_CLIENT_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


class OpenAIChat:
    """The ``GenerationFormat`` of ``POST /{provider}/v1/chat/completions``."""

    id_prefix = "chatcmpl-sim-"
    sse_data_prefix = b"data: "
    sse_separator = b"\n\n"

    def error_body(self, status: int, message: str) -> JsonObject:
        return error_body(status, message)

    def error_event_body(self) -> JsonObject:
        return error_event_body()

    def error_event(self) -> bytes:
        return sse_event(error_event_body())

    def whole(self, reply: Reply) -> JsonObject:
        return completion_body(reply.meta, reply.completion)

    def stream(self, reply: Reply) -> EventStream:
        meta, completion = reply.meta, reply.completion
        tail = [Event(sse_event(chunk_body(meta, {}, completion.finish_reason)))]
        if reply.generation.include_usage:
            tail.append(Event(sse_event(usage_chunk_body(meta, completion))))
        tail.append(Event(SSE_DONE))
        return EventStream(
            head=(Event(sse_event(chunk_body(meta, _first_delta(completion)))),),
            body=tuple(
                Event(sse_event(chunk_body(meta, _delta(completion, piece))), tokens=1)
                for piece in completion.deltas
            ),
            tail=tuple(tail),
        )


OPENAI = OpenAIChat()


def _first_delta(completion: Completion) -> JsonObject:
    call = completion.tool_call
    if call is None:
        return {"role": "assistant", "content": ""}
    tool_call = {
        "index": 0,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    return {"role": "assistant", "content": None, "tool_calls": [tool_call]}


def _delta(completion: Completion, piece: str) -> JsonObject:
    if completion.tool_call is None:
        return {"content": piece}
    return {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}


def completion_body(meta: ResponseMeta, completion: Completion) -> JsonObject:
    choice = {
        "index": 0,
        "message": _message(completion),
        "logprobs": None,
        "finish_reason": completion.finish_reason,
    }
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [choice],
        "usage": usage_body(completion),
        "system_fingerprint": meta.system_fingerprint,
    }


def _message(completion: Completion) -> JsonObject:
    call = completion.tool_call
    if call is None:
        return {"role": "assistant", "content": completion.content, "refusal": None}
    tool_call = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": completion.arguments},
    }
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [tool_call]}


def usage_body(completion: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.total_tokens,
    }


def chunk_body(
    meta: ResponseMeta, delta: Mapping[str, object], finish_reason: str | None = None
) -> JsonObject:
    choice = {"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}
    return _chunk_envelope(meta) | {"choices": [choice]}


def usage_chunk_body(meta: ResponseMeta, completion: Completion) -> JsonObject:
    return _chunk_envelope(meta) | {"choices": [], "usage": usage_body(completion)}


def _chunk_envelope(meta: ResponseMeta) -> JsonObject:
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": meta.system_fingerprint,
    }


def error_body(status: int, message: str) -> JsonObject:
    return {"error": {"message": message, "type": error_type(status), "code": None}}


def error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return _CLIENT_ERROR_TYPES.get(status, "invalid_request_error")
