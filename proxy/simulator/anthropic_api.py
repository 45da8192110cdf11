"""The Anthropic Messages API, ``POST /{provider}/v1/messages``: answers and errors in
Anthropic's shapes (the official SDK's types are the reference; the tests validate with them).

A whole answer is a ``Message``: one content block, text or ``tool_use`` (whose ``input`` is
{} when ``max_tokens`` cut its arguments short), ``stop_reason`` ``end_turn``,
``max_tokens``, ``stop_sequence`` or ``tool_use``, and ``usage``. A stream is the real event
sequence, each as ``event: <type>`` and ``data: <json>`` lines: ``message_start`` (usage so
far: the input tokens and 1 output token), ``content_block_start``, ``ping``, one
``content_block_delta`` per token (``text_delta``, or ``input_json_delta`` fragments of the
tool input), ``content_block_stop``, ``message_delta`` (stop reason, final output tokens) and
``message_stop``. A streamed error is an ``event: error`` carrying the error shape.
"""

from aiohttp import web

from proxy.simulator.anthropic_request import parse_messages_request
from proxy.simulator.prompt import JsonObject
from proxy.simulator.responder import Completion
from proxy.simulator.serving import serve_generation
from proxy.simulator.wire import Event, EventStream, Reply, sse_event

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ERROR_EVENT_BODY = {
    "type": "error",
    "error": {"type": "overloaded_error", "message": "Simulated upstream error event."},
}


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    return await serve_generation(request, ANTHROPIC, parse_messages_request, api="messages")


class AnthropicMessages:
    """The ``GenerationFormat`` of ``POST /{provider}/v1/messages``."""

    id_prefix = "msg_sim_"
    sse_data_prefix = b"event: message_start\ndata: "
    sse_separator = b"\n\n"

    def error_body(self, status: int, message: str) -> JsonObject:
        return {"type": "error", "error": {"type": error_type(status), "message": message}}

    def error_event_body(self) -> JsonObject:
        return dict(_ERROR_EVENT_BODY)

    def error_event(self) -> bytes:
        return _event(self.error_event_body()).data

    def whole(self, reply: Reply) -> JsonObject:
        completion = reply.completion
        return _message(reply) | {
            "content": [_block(completion, whole=True)],
            "stop_reason": stop_reason(completion),
            "stop_sequence": completion.stop_sequence,
            "usage": _usage(completion, output_tokens=completion.completion_tokens),
        }

    def stream(self, reply: Reply) -> EventStream:
        completion = reply.completion
        start = _message(reply) | {
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(completion, output_tokens=1),
        }
        block_start = {"type": "content_block_start", "index": 0}
        delta = {"stop_reason": stop_reason(completion), "stop_sequence": completion.stop_sequence}
        usage = {"output_tokens": completion.completion_tokens}
        return EventStream(
            head=(
                _event({"type": "message_start", "message": start}),
                _event(block_start | {"content_block": _block(completion, whole=False)}),
                _event({"type": "ping"}),
            ),
            body=tuple(_delta_event(completion, piece) for piece in completion.deltas),
            tail=(
                _event({"type": "content_block_stop", "index": 0}),
                _event({"type": "message_delta", "delta": delta, "usage": usage}),
                _event({"type": "message_stop"}),
            ),
        )


ANTHROPIC = AnthropicMessages()


def error_type(status: int) -> str:
    fallback = "api_error" if status >= 500 else "invalid_request_error"
    return _ERROR_TYPES.get(status, fallback)


def stop_reason(completion: Completion) -> str:
    if completion.finish_reason == "length":
        return "max_tokens"
    if completion.tool_call is not None:
        return "tool_use"
    return "end_turn" if completion.stop_sequence is None else "stop_sequence"


def _event(payload: JsonObject) -> Event:
    return Event(sse_event(payload, event=str(payload["type"])))


def _delta_event(completion: Completion, piece: str) -> Event:
    if completion.tool_call is None:
        delta = {"type": "text_delta", "text": piece}
    else:
        delta = {"type": "input_json_delta", "partial_json": piece}
    payload = {"type": "content_block_delta", "index": 0, "delta": delta}
    return Event(sse_event(payload, event="content_block_delta"), tokens=1)


def _message(reply: Reply) -> JsonObject:
    return {
        "id": reply.meta.id,
        "type": "message",
        "role": "assistant",
        "model": reply.generation.model,
    }


def _block(completion: Completion, *, whole: bool) -> JsonObject:
    """The content block: complete (``whole``), or as ``content_block_start`` opens it."""
    call = completion.tool_call
    if call is None:
        return {"type": "text", "text": completion.content if whole else ""}
    complete = whole and completion.finish_reason != "length"
    return {
        "type": "tool_use",
        "id": call.id,
        "name": call.name,
        "input": call.input if complete else {},
    }


def _usage(completion: Completion, *, output_tokens: int) -> JsonObject:
    return {
        "input_tokens": completion.prompt_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
