"""Relaying a provider's stream to the client, chunk by chunk, metering as it goes.

The provider's events are translated by its adapter into canonical chunks, metered, and
written in the client's format as they arrive (no buffering). Until the first chunk exists the
gateway may still fail over to another provider; if that takes a while, the client gets
SSE comments (`: SWITCHYARD PROCESSING`) so neither it nor a proxy in between gives up. Usage
is sent once, after the request has been settled, then the end marker. A stream that breaks
after it started ends with an error event and no end marker; a client that goes away stops
the upstream. Both are billed for what was generated. So is a stream still open when the
gateway's drain time is over (it is shutting down): it ends with an error event too.
"""

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from catalog.selectors import RoutableEndpoint
from proxy.asgi_io import Receive, Send, end_stream, send_chunk, start_stream
from proxy.client_formats import ClientFormat
from proxy.errors import ApiError, ShuttingDown, UpstreamError, UpstreamTimeout
from proxy.failover import answer_headers, first_answer, key_redacted, record_answer_health
from proxy.metering import Call
from proxy.providers import adapter_for
from proxy.providers.base import Json, ProviderFormatError, StreamTranslator
from proxy.providers.openai_compat import usage_from
from proxy.response_cache.collect import AnswerCollector
from proxy.response_cache.replay import cached_answer_keep
from proxy.sse import sse_data
from proxy.timing import UPSTREAM
from proxy.upstream import (
    STREAM_ERRORS,
    UpstreamResponse,
    body_chunks,
    failure_of,
    read_capped,
    upstream_post,
)

KEEPALIVE_EVENT = b": SWITCHYARD PROCESSING\n\n"
DRAIN_OVER_MESSAGE = "The server is shutting down: the request was ended before it finished"


class StreamMeter:
    """Turns provider events into canonical chunks and records what billing needs."""

    def __init__(self, call: Call, translator: StreamTranslator) -> None:
        self.call = call
        self.translator = translator
        self.completion_bytes = 0
        self.created = 0
        # Only for a request that asked for the response cache: the answer, to keep it.
        self.collector = AnswerCollector() if call.cache is not None else None

    def chunks(self, data: bytes) -> list[Json]:
        """The chunks for the client from one provider event (usage is kept back)."""
        return self._observed(self.translator.feed(data))

    def final_chunks(self) -> list[Json]:
        return self._observed(self.translator.finish())

    def _observed(self, chunks: list[Json]) -> list[Json]:
        return [chunk for chunk in chunks if self._observe(chunk)]

    def _observe(self, chunk: Json) -> bool:
        outcome = self.call.outcome
        outcome.upstream_id = outcome.upstream_id or str(chunk.get("id", ""))
        self.created = chunk.get("created") or self.created
        outcome.usage = usage_from(chunk) or outcome.usage
        chunk.pop("usage", None)
        if self.collector is not None:
            self.collector.add(chunk)
        choices = chunk.get("choices") or []
        for choice in choices:
            self._meter_choice(choice)
        return bool(choices)

    def _meter_choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        for text in (delta.get("content"), delta.get("reasoning")):
            if isinstance(text, str):
                self.completion_bytes += len(text.encode())
        for call in delta.get("tool_calls") or []:
            arguments = (call.get("function") or {}).get("arguments") if call else None
            if isinstance(arguments, str):
                self.completion_bytes += len(arguments.encode())
        if choice.get("finish_reason") is not None:
            self.call.outcome.native_finish_reason = choice.get("native_finish_reason") or str(
                choice["finish_reason"]
            )


@contextlib.asynccontextmanager
async def _open_upstream(call: Call, endpoint: RoutableEndpoint) -> AsyncIterator[UpstreamResponse]:
    """The provider's stream, or an ApiError while the client can still get a plain error."""
    adapter = adapter_for(endpoint)
    request = adapter.chat_request(call.request.payload, call.upstream_of(endpoint), stream=True)
    provider = endpoint.provider_name
    async with upstream_post(call.gateway.client, request, provider=provider) as response:
        if response.status != 200:
            content = await read_capped(response, call.gateway.upstream_body_limit)
            raise failure_of(provider, response, content, adapter.error_message)
        yield response


async def _canonical_chunks(
    meter: StreamMeter, events: AsyncIterator[bytes]
) -> AsyncGenerator[Json, None]:
    """The provider's events as canonical chunks for the client, to its end (or [DONE])."""
    async for data in events:
        if data == b"[DONE]":
            break
        for chunk in meter.chunks(data):
            yield chunk
    for chunk in meter.final_chunks():
        yield chunk


async def _first_chunk(meter: StreamMeter, chunks: AsyncGenerator[Json, None]) -> Json:
    """The first chunk for the client. Until it exists nothing has been sent, so a provider
    that fails here (error, garbage, empty stream) can be replaced by the next one."""
    provider = meter.call.endpoint.provider_name
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        message = f"{provider} ended the stream without a response"
    except ProviderFormatError as exc:
        message = f"{provider} sent {exc}"
    except STREAM_ERRORS as exc:
        message = f"{provider} sent an invalid stream ({type(exc).__name__})"
    raise UpstreamError(message, metadata={"provider_name": provider})


@dataclass
class _OpenStream:
    """A provider's stream that has produced its first chunk, and what closes it."""

    meter: StreamMeter
    chunks: AsyncGenerator[Json, None]
    first: Json
    closing: contextlib.AsyncExitStack


async def _open_stream(call: Call, endpoint: RoutableEndpoint) -> _OpenStream:
    closing = contextlib.AsyncExitStack()
    try:
        response = await closing.enter_async_context(_open_upstream(call, endpoint))
        meter = StreamMeter(call, adapter_for(endpoint).stream_translator())
        data = sse_data(body_chunks(response), line_limit=call.gateway.upstream_body_limit)
        closing.push_async_callback(data.aclose)
        chunks = _canonical_chunks(meter, data)
        # Both generators closed here (the last first), none left to the garbage collector,
        # which closes one from a task of its own (a loop wake-up and a task each time).
        closing.push_async_callback(chunks.aclose)
        return _OpenStream(meter, chunks, await _first_chunk(meter, chunks), closing)
    except BaseException:
        await closing.aclose()  # this provider is done with: close its connection
        raise


async def _pump(
    meter: StreamMeter, chunks: AsyncIterator[Json], send: Send, fmt: ClientFormat
) -> str | None:
    """Forward the remaining chunks; return a failure message, if any."""
    call = meter.call
    provider = call.endpoint.provider_name
    try:
        async for chunk in chunks:
            await send_chunk(send, fmt.chunk_events(call, chunk))
    except ProviderFormatError as exc:
        return f"{provider} sent {exc}"
    except STREAM_ERRORS as exc:
        return f"{provider} stream failed ({type(exc).__name__})"
    if call.outcome.native_finish_reason is None:
        return f"{provider} ended the stream before it finished"
    return None


async def _client_gone(receive: Receive) -> None:
    """Returns when the client disconnects (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_interrupted[T](
    work: "asyncio.Future[T]", *interrupts: "asyncio.Future[None]"
) -> "asyncio.Future[None] | None":
    """Waits for `work`; None when it finished, else the interrupt that came first (the client
    left, the drain time is over) and `work` is cancelled."""
    waiting: set[asyncio.Future[Any]] = {work, *interrupts}
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if work.done():
        return None
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    return next(interrupt for interrupt in interrupts if interrupt.done())


class _Client:
    """The client's side of one stream: whether its headers went out, and how to reach it."""

    def __init__(self, call: Call, send: Send, fmt: ClientFormat) -> None:
        self.call, self.send, self.fmt = call, send, fmt
        self.started = False

    async def start(self, *, provider_known: bool = True) -> None:
        if not self.started:
            self.started = True
            headers = answer_headers(self.call)
            # Before the first answer the provider is not known yet: only the generation id.
            await start_stream(self.send, extra_headers=headers if provider_known else headers[:1])

    async def keep_alive(self) -> None:
        await self.start(provider_known=False)
        await send_chunk(self.send, KEEPALIVE_EVENT)

    async def fail(self, message: str, created: int) -> None:
        # After the first chunk, a provider's own words (an error event) may still quote its key.
        message = key_redacted(self.call, self.call.endpoint, message)
        await send_chunk(self.send, self.fmt.stream_error(self.call, message, created))
        await end_stream(self.send)


async def _first_answer_kept_alive(
    call: Call, client: _Client, gone: "asyncio.Future[None]"
) -> _OpenStream | None:
    """The first provider stream that answers, with keep-alive comments while waiting; None
    when the client left. Raises the ApiError of a failure only while nothing was sent."""
    opening = asyncio.ensure_future(
        first_answer(call, functools.partial(_open_stream, call),
                     timeout_s=call.gateway.first_token_timeout_s)
    )  # fmt: skip
    drain_over = call.gateway.drain_over()
    try:
        waiting: set[asyncio.Future[Any]] = {opening, gone, drain_over}
        while not opening.done():
            await asyncio.wait(
                waiting, timeout=call.gateway.keepalive_s, return_when=asyncio.FIRST_COMPLETED
            )
            if gone.done() and not opening.done():
                call.outcome.cancelled = True
                opening.cancel()
                await asyncio.gather(opening, return_exceptions=True)
                return None
            if drain_over.done() and not opening.done():
                opening.cancel()
                await asyncio.gather(opening, return_exceptions=True)
                raise ShuttingDown(DRAIN_OVER_MESSAGE)
            if not opening.done():
                await client.keep_alive()
        return opening.result()
    except ApiError as error:
        if not client.started:
            raise
        call.outcome.failed = True
        await client.fail(error.message, int(time.time()))
        return None


async def relay_stream(call: Call, receive: Receive, send: Send, fmt: ClientFormat) -> None:
    """Relay within the request deadline; raises an ApiError only while nothing was sent."""
    gone = asyncio.ensure_future(_client_gone(receive))
    client = _Client(call, send, fmt)
    deadline_s = call.gateway.deadline_s
    try:
        async with asyncio.timeout(deadline_s):
            await _relay(call, client, gone)
    except TimeoutError:
        call.outcome.failed = True
        if not client.started:
            raise UpstreamTimeout(f"The request took longer than {deadline_s} s") from None
        await client.fail(f"The request took longer than {deadline_s} s", int(time.time()))
    finally:
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)


async def _relay(call: Call, client: _Client, gone: "asyncio.Future[None]") -> None:
    send, fmt = client.send, client.fmt
    opened = await _first_answer_kept_alive(call, client, gone)
    if opened is None:
        return
    meter = opened.meter
    async with opened.closing:
        call.outcome.first_token_at = time.monotonic()
        call.timer.mark(UPSTREAM)
        await client.start()
        await send_chunk(send, fmt.stream_start(call) + fmt.chunk_events(call, opened.first))
        pump = asyncio.ensure_future(_pump(meter, opened.chunks, send, fmt))
        drain_over = call.gateway.drain_over()
        # Interrupted, the pump stops reading, so the upstream is closed.
        interrupt = await _until_interrupted(pump, gone, drain_over)
        call.outcome.cancelled = interrupt is gone
        if interrupt is None:
            failure = pump.result()
        else:
            failure = DRAIN_OVER_MESSAGE if interrupt is drain_over else None
    call.outcome.ended_at = time.monotonic()
    call.outcome.failed = failure is not None
    bill = await call.settle(completion_bytes=meter.completion_bytes)
    if interrupt is not drain_over:  # our own shutdown says nothing of the provider's health
        record_answer_health(call, bill.usage.completion_tokens)
    if call.outcome.cancelled:
        return  # nobody is listening
    if failure:
        await client.fail(failure, meter.created)
    else:
        if meter.collector is not None:  # kept before the end: the client may ask again at once
            await cached_answer_keep(call, meter.collector.answer(), bill)
        await send_chunk(send, fmt.stream_end(call, bill, meter.created))
        await end_stream(send)
