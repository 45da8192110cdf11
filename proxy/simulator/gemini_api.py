"""The Gemini API, ``POST /{provider}/v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``: answers and errors in Google's shapes.

A whole answer is a ``GenerateContentResponse``: one candidate whose content (role
``model``) holds one part, ``text`` or ``functionCall {name, args}`` (``args`` {} when
``max_tokens`` cut the call short), ``finishReason`` STOP or MAX_TOKENS, ``usageMetadata``,
``modelVersion`` (the model of the URL) and ``responseId``. A stream is ``data:`` events
(CRLF-terminated, as Google sends them) of response chunks: one per text token, then a last
one with empty text and the finish reason; a function call comes whole, finish reason
included, in a single chunk. Every chunk carries the usage so far. Errors are
``{"error": {"code", "message", "status"}}``, in a stream as one such ``data:`` event.
"""

import functools

from aiohttp import web

from proxy.simulator.gemini_request import parse_generate_request
from proxy.simulator.prompt import JsonObject
from proxy.simulator.responder import Completion
from proxy.simulator.responses import error_response
from proxy.simulator.serving import serve_generation
from proxy.simulator.wire import Event, EventStream, Reply, sse_event

_SEPARATOR = b"\r\n\r\n"
_ACTIONS = ("generateContent", "streamGenerateContent")
_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


async def generate_content(request: web.Request) -> web.StreamResponse:
    model, _, action = request.match_info["model_action"].rpartition(":")
    if not model or action not in _ACTIONS:
        # Checked first, so an unknown method is a 404 even on an unknown provider.
        message = f"Unknown method '{request.match_info['model_action']}'."
        return error_response(404, message, wire=GEMINI)
    stream = action == "streamGenerateContent"
    if stream and request.query.get("alt") != "sse":
        return error_response(400, "The simulator streams with alt=sse only.", wire=GEMINI)
    parse = functools.partial(parse_generate_request, model=model, stream=stream)
    return await serve_generation(request, GEMINI, parse, api="gemini")


class GeminiGenerateContent:
    """The ``GenerationFormat`` of the ``generateContent`` family."""

    id_prefix = "sim-"
    sse_data_prefix = b"data: "
    sse_separator = _SEPARATOR

    def error_body(self, status: int, message: str) -> JsonObject:
        return error_body(status, message)

    def error_event_body(self) -> JsonObject:
        return error_body(503, "Simulated upstream error event.")

    def error_event(self) -> bytes:
        return sse_event(self.error_event_body(), separator=_SEPARATOR)

    def whole(self, reply: Reply) -> JsonObject:
        completion = reply.completion
        part: JsonObject = {"text": completion.content}
        if completion.tool_call is not None:
            part = _function_call(completion)
        candidate = _candidate(part) | {"finishReason": finish_reason(completion)}
        return _chunk(reply, candidate, completion.completion_tokens)

    def stream(self, reply: Reply) -> EventStream:
        completion = reply.completion
        if completion.tool_call is not None:
            return EventStream(
                head=(),
                body=(self._event(self.whole(reply), completion.completion_tokens),),
                tail=(),
            )
        body = tuple(
            self._event(_chunk(reply, _candidate({"text": piece}), index + 1), tokens=1)
            for index, piece in enumerate(completion.deltas)
        )
        last = _candidate({"text": ""}) | {"finishReason": finish_reason(completion)}
        tail = (self._event(_chunk(reply, last, completion.completion_tokens)),)
        return EventStream(head=(), body=body, tail=tail)

    @staticmethod
    def _event(chunk: JsonObject, tokens: int = 0) -> Event:
        return Event(sse_event(chunk, separator=_SEPARATOR), tokens=tokens)


GEMINI = GeminiGenerateContent()


def error_body(status: int, message: str) -> JsonObject:
    fallback = "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"
    return {
        "error": {"code": status, "message": message, "status": _STATUSES.get(status, fallback)}
    }


def finish_reason(completion: Completion) -> str:
    return "MAX_TOKENS" if completion.finish_reason == "length" else "STOP"


def _function_call(completion: Completion) -> JsonObject:
    call = completion.tool_call
    assert call is not None
    args = {} if completion.finish_reason == "length" else call.input
    return {"functionCall": {"name": call.name, "args": args}}


def _candidate(part: JsonObject) -> JsonObject:
    return {"content": {"parts": [part], "role": "model"}, "index": 0}


def _chunk(reply: Reply, candidate: JsonObject, completion_tokens: int) -> JsonObject:
    prompt_tokens = reply.completion.prompt_tokens
    usage = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": completion_tokens,
        "totalTokenCount": prompt_tokens + completion_tokens,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": reply.generation.model,
        "responseId": reply.meta.id,
    }
