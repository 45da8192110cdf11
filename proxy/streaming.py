"""Relaying a provider's SSE stream to the client, chunk by chunk, metering as it goes.

Chunks are forwarded as they arrive (no buffering). The provider's usage is held back and sent
once, in a final chunk with empty `choices` and the cost, after the request has been settled,
then `data: [DONE]`. A stream the provider breaks ends with an error chunk
(`finish_reason: "error"`) and no `[DONE]`; a client that goes away stops the upstream. Both
are billed for what was generated (the provider's count if it came, else an estimate).
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import orjson

from billing.money import format_usd
from proxy.asgi_io import Receive, Send, end_stream, send_chunk, start_stream
from proxy.errors import UpstreamError
from proxy.metering import Bill, Call
from proxy.providers import openai_compat

DONE_EVENT = b"data: [DONE]\n\n"


async def sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The payloads of `data:` lines; comments and other fields are skipped."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()


class StreamMeter:
    """Rewrites each chunk for the client and records what billing needs in the call."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.completion_bytes = 0
        self.created = 0

    def rewrite(self, data: bytes) -> bytes | None:
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("stream chunk is not an object")
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
async def _open_upstream(call: Call) -> AsyncIterator[httpx.Response]:
    """The provider's stream, or an ApiError while the client can still get a plain error."""
    url, headers, body = openai_compat.upstream_request(call.request, call.endpoint)
    provider = call.endpoint.provider_name
    try:
        async with call.gateway.client.stream("POST", url, content=body, headers=headers) as resp:
            if resp.status_code != 200:
                raise openai_compat.upstream_failure(provider, resp.status_code, await resp.aread())
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
    that fails here (error, garbage, empty stream) still gets a plain error response."""
    provider = meter.call.endpoint.provider_name
    try:
        return await anext(events)
    except StopAsyncIteration:
        message = f"{provider} ended the stream without a response"
    except (httpx.HTTPError, ValueError) as exc:
        message = f"{provider} sent an invalid stream ({type(exc).__name__})"
    raise UpstreamError(message, metadata={"provider_name": provider})


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
    meter = StreamMeter(call)
    async with _open_upstream(call) as response:
        events = _client_events(meter, sse_data(response.aiter_bytes()))
        try:
            first = await _first_event(meter, events)
            call.outcome.first_token_at = time.monotonic()
            await start_stream(
                send, extra_headers=[(b"x-generation-id", call.generation_id.encode())]
            )
            await send_chunk(send, first)
            failure = await _pump_until_disconnect(meter, events, send, receive)
        finally:
            await events.aclose()
    call.outcome.failed = failure is not None
    bill = await call.settle(completion_bytes=meter.completion_bytes)
    if call.outcome.cancelled:
        return  # nobody is listening
    if failure:
        await send_chunk(send, meter.error_event(failure))
    else:
        await send_chunk(send, meter.usage_event(bill))
        await send_chunk(send, DONE_EVENT)
    await end_stream(send)
