"""Serving each control-API :class:`Fault` in place of the usual answer (``faults.py`` says what
each one looks like on the wire), and the error, malformed and hang responses that the
``[sim:...]`` directives share with them. Errors and SSE framing come from the answer's wire
format: an Anthropic client gets Anthropic errors and ``event:`` lines, a Gemini client
Gemini's."""

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.simulator.answers import (
    Answer,
    drop_connection,
    start_json,
    start_sse,
    stream,
    write_pieces,
)
from proxy.simulator.faults import MALFORMED_JSON, Fault, FaultName, padded_body
from proxy.simulator.responses import error_response, json_response
from proxy.simulator.wire import WireFormat

# Long enough to outlast any sane client timeout; the client disconnecting cancels it.
HANG_SECONDS = 3600.0


async def serve_fault(request: web.Request, answer: Answer, fault: Fault) -> web.StreamResponse:
    return await _FAULT_SERVERS[fault.name](request, answer, fault)


def status_error(wire: WireFormat, status: int, retry_after_s: int = 1) -> web.Response:
    return error_response(
        status, f"Simulated HTTP {status}.", wire=wire, retry_after_s=retry_after_s
    )


def malformed_response() -> web.Response:
    return web.Response(body=MALFORMED_JSON, content_type="application/json")


async def hang(wire: WireFormat) -> web.Response:
    # No headers until the client gives up (or, after HANG_SECONDS, a 504 nobody waits for).
    await asyncio.sleep(HANG_SECONDS)
    return error_response(504, "Simulated hang ended.", wire=wire)


async def _serve_hang(request: web.Request, answer: Answer, fault: Fault) -> web.StreamResponse:
    return await hang(answer.wire)


_FAULT_STATUSES = {FaultName.HTTP_500: 500, FaultName.HTTP_503: 503, FaultName.HTTP_429: 429}


async def _serve_status(request: web.Request, answer: Answer, fault: Fault) -> web.StreamResponse:
    return status_error(answer.wire, _FAULT_STATUSES[fault.name], retry_after_s=fault.retry_after)


async def _serve_error_event(
    request: web.Request, answer: Answer, fault: Fault
) -> web.StreamResponse:
    """A 200 whose first event is an error: the stream then ends, without its end marker, and
    so does the connection."""
    if answer.events is None:
        return json_response(answer.wire.error_event_body())
    response = await start_sse(request, closing=True)
    await response.write(answer.wire.error_event())
    return response


async def _serve_malformed_json(
    request: web.Request, answer: Answer, fault: Fault
) -> web.StreamResponse:
    if answer.events is None:
        return malformed_response()
    response = await start_sse(request, closing=True)
    wire = answer.wire
    await response.write(wire.sse_data_prefix + MALFORMED_JSON + wire.sse_separator)
    return response


async def _serve_cut_stream(
    request: web.Request, answer: Answer, fault: Fault
) -> web.StreamResponse:
    """Streaming: the first ``after_chunks`` events, the role chunk (or message_start)
    included, then a dropped connection. Non-streaming: the 200 headers, then a dropped
    connection."""
    if answer.events is not None:
        return await stream(request, answer, fault.after_chunks)
    response = await start_json(request, content_length=len(answer.json_bytes))
    return drop_connection(request, response)


async def _serve_slow_drip(
    request: web.Request, answer: Answer, fault: Fault
) -> web.StreamResponse:
    """The usual answer, one byte every ``interval_ms`` (instead of the usual timing)."""
    if answer.events is not None:
        body = answer.sse_bytes()
        response = await start_sse(request)
    else:
        body = answer.json_bytes
        response = await start_json(request, content_length=len(body))
    one_byte_each = (body[index : index + 1] for index in range(len(body)))
    return await write_pieces(request, response, one_byte_each, interval_s=fault.interval_ms / 1000)


async def _serve_huge_body(
    request: web.Request, answer: Answer, fault: Fault
) -> web.StreamResponse:
    """A 200 of exactly ``size_bytes`` that is no answer: ``{"padding": "xx…"}``, or one
    ``data: {"padding": "xx…`` line that never ends (after ``event: message_start`` for
    Anthropic); written piece by piece."""
    if answer.events is not None:
        response = await start_sse(request)
        prefix = answer.wire.sse_data_prefix + b'{"padding": "'
        body = padded_body(prefix=prefix, suffix=b"", size_bytes=fault.size_bytes)
    else:
        response = await start_json(request, content_length=fault.size_bytes)
        body = padded_body(prefix=b'{"padding": "', suffix=b'"}', size_bytes=fault.size_bytes)
    return await write_pieces(request, response, body)


_FaultServer = Callable[[web.Request, Answer, Fault], Awaitable[web.StreamResponse]]
_FAULT_SERVERS: dict[FaultName, _FaultServer] = {
    FaultName.HANG: _serve_hang,
    FaultName.HTTP_500: _serve_status,
    FaultName.HTTP_503: _serve_status,
    FaultName.HTTP_429: _serve_status,
    FaultName.ERROR_EVENT: _serve_error_event,
    FaultName.CUT_STREAM: _serve_cut_stream,
    FaultName.MALFORMED_JSON: _serve_malformed_json,
    FaultName.SLOW_DRIP: _serve_slow_drip,
    FaultName.HUGE_BODY: _serve_huge_body,
}
