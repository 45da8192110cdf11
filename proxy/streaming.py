"""Relaying a provider's SSE stream to the client, chunk by chunk, metering as it goes.

Chunks are forwarded as they arrive (no buffering). The provider's usage is held back and sent
once, in a final chunk with empty `choices` and the cost, after the request has been settled,
then `data: [DONE]`. A stream the provider breaks ends with an error chunk
(`finish_reason: "error"`) and no `[DONE]`; a client that goes away stops the upstream. Both
are billed for what was generated (the provider's count if it came, else an estimate).
"""

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from billing.money import format_usd
from catalog.selectors import RoutableEndpoint
from proxy.asgi_io import Receive, Send, end_stream, send_chunk, start_stream
from proxy.errors import UpstreamError
from proxy.failover import answer_headers, first_answer, record_answer_health
from proxy.metering import Bill, Call
from proxy.providers import openai_compat
from proxy.sse import ProviderStreamError, sse_data
from proxy.upstream import read_capped

DONE_EVENT = b"data: [DONE]\n\n"


def _error_text(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:300]


class StreamMeter:
    """Rewrites each chunk for the client and records what billing needs in the call."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.completion_bytes = 0
        self.created = 0

    def rewrite(self, data: bytes) -> bytes | None:
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            raise ProviderStreamError("a stream chunk is not an object")
        if chunk.get("error"):
            raise ProviderStreamError(f"an error event: {_error_text(chunk['error'])}")
        outcome = self.call.outcome
        outcome.upstream_id = outcome.upstream_id or str(chunk.get("id", ""))
        self.created = chunk.get("created") or self.created
        outcome.usage = openai_compat.usage_from(chunk) or outcome.usage
        chunk.pop("usage", None)
        choices = chunk.get("choices") or []
        if not choices:
            return None
        for choice in choices:
            self._meter_choice(choice)
        return self._event(chunk)

    def _meter_choice(self, choice: dict[str, Any]) -> None:
        content = (choice.get("delta") or {}).get("content")
        if isinstance(content, str):
            self.completion_bytes += len(content.encode())
        native = choice.get("finish_reason")
        choice["native_finish_reason"] = native
        if native is not None:
            self.call.outcome.native_finish_reason = native
            choice["finish_reason"] = openai_compat.finish_reason_normalize(native)

    def _event(self, chunk: dict[str, Any]) -> bytes:
        chunk.update(id=self.call.generation_id, model=self.call.endpoint.model_slug,
                     provider=self.call.endpoint.provider_name)  # fmt: skip
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def usage_event(self, bill: Bill) -> bytes:
        chunk = {
            "object": "chat.completion.chunk",
            "created": self.created,
            "choices": [],
            "usage": {
                "prompt_tokens": bill.usage.prompt_tokens,
                "completion_tokens": bill.usage.completion_tokens,
                "total_tokens": bill.usage.total_tokens,
                "cost": orjson.Fragment(format_usd(bill.charge.total_nanos)),
                "is_byok": False,
            },
        }
        if self.call.trace_wanted:
            chunk["switchyard_metadata"] = self.call.trace_payload()
        return self._event(chunk)

    def error_event(self, message: str) -> bytes:
        chunk = {
            "object": "chat.completion.chunk",
            "created": self.created,
            "error": {"code": 502, "message": message},
            "choices": [
                {"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                 "native_finish_reason": self.call.outcome.native_finish_reason}
            ],
        }  # fmt: skip
        return self._event(chunk)


@contextlib.asynccontextmanager
async def _open_upstream(call: Call, endpoint: RoutableEndpoint) -> AsyncIterator[httpx.Response]:
    """The provider's stream, or an ApiError while the client can still get a plain error."""
    url, headers, body = openai_compat.upstream_request(call.request, endpoint)
    provider = endpoint.provider_name
    try:
        async with call.gateway.client.stream("POST", url, content=body, headers=headers) as resp:
            if resp.status_code != 200:
                raise openai_compat.upstream_failure(
                    provider,
                    resp.status_code,
                    await read_capped(resp, call.gateway.upstream_body_limit),
                    retry_after=resp.headers.get("retry-after"),
                )
            yield resp
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"{provider} is unreachable ({type(exc).__name__})",
            metadata={"provider_name": provider},
        ) from exc


async def _client_events(
    meter: StreamMeter, events: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    """The provider's chunks rewritten for the client, up to the provider's [DONE]."""
    async for data in events:
        if data == b"[DONE]":
            return
        event = meter.rewrite(data)
        if event is not None:
            yield event


async def _first_event(meter: StreamMeter, events: AsyncGenerator[bytes, None]) -> bytes:
    """The first chunk for the client. Until it exists nothing has been sent, so a provider
    that fails here (error, garbage, empty stream) can be replaced by the next one."""
    provider = meter.call.endpoint.provider_name
    try:
        return await anext(events)
    except StopAsyncIteration:
        message = f"{provider} ended the stream without a response"
    except ProviderStreamError as exc:
        message = f"{provider} sent {exc}"
    except (httpx.HTTPError, ValueError) as exc:
        message = f"{provider} sent an invalid stream ({type(exc).__name__})"
    raise UpstreamError(message, metadata={"provider_name": provider})


@dataclass
class _OpenStream:
    """A provider's stream that has produced its first chunk, and what closes it."""

    meter: StreamMeter
    events: AsyncGenerator[bytes, None]
    first: bytes
    closing: contextlib.AsyncExitStack


async def _open_stream(call: Call, endpoint: RoutableEndpoint) -> _OpenStream:
    closing = contextlib.AsyncExitStack()
    try:
        response = await closing.enter_async_context(_open_upstream(call, endpoint))
        meter = StreamMeter(call)
        data = sse_data(response.aiter_bytes(), line_limit=call.gateway.upstream_body_limit)
        events = _client_events(meter, data)
        closing.push_async_callback(events.aclose)
        return _OpenStream(meter, events, await _first_event(meter, events), closing)
    except BaseException:
        await closing.aclose()  # this provider is done with: close its connection
        raise


async def _pump(meter: StreamMeter, events: AsyncIterator[bytes], send: Send) -> str | None:
    """Forward the remaining chunks; return a failure message, if any."""
    provider = meter.call.endpoint.provider_name
    try:
        async for event in events:
            await send_chunk(send, event)
    except (httpx.HTTPError, ValueError) as exc:
        return f"{provider} stream failed ({type(exc).__name__})"
    if meter.call.outcome.native_finish_reason is None:
        return f"{provider} ended the stream before it finished"
    return None


async def _client_gone(receive: Receive) -> None:
    """Returns when the client disconnects (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _pump_until_disconnect(
    meter: StreamMeter, events: AsyncIterator[bytes], send: Send, receive: Receive
) -> str | None:
    pump = asyncio.ensure_future(_pump(meter, events, send))
    watcher = asyncio.ensure_future(_client_gone(receive))
    try:
        await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not pump.done():
            pump.cancel()  # the client left: stop reading, so the upstream is closed
            meter.call.outcome.cancelled = True
        await asyncio.gather(pump, watcher, return_exceptions=True)
    return None if pump.cancelled() else pump.result()


async def relay_stream(call: Call, receive: Receive, send: Send) -> None:
    opened = await first_answer(
        call, functools.partial(_open_stream, call), timeout_s=call.gateway.first_token_timeout_s
    )
    meter = opened.meter
    async with opened.closing:
        call.outcome.first_token_at = time.monotonic()
        await start_stream(send, extra_headers=answer_headers(call))
        await send_chunk(send, opened.first)
        failure = await _pump_until_disconnect(meter, opened.events, send, receive)
    call.outcome.ended_at = time.monotonic()
    call.outcome.failed = failure is not None
    bill = await call.settle(completion_bytes=meter.completion_bytes)
    record_answer_health(call, bill.usage.completion_tokens)
    if call.outcome.cancelled:
        return  # nobody is listening
    if failure:
        await send_chunk(send, meter.error_event(failure))
    else:
        await send_chunk(send, meter.usage_event(bill))
        await send_chunk(send, DONE_EVENT)
    await end_stream(send)
