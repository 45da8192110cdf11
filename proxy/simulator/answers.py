"""The usual answer to a request, planned up front (in the format of the API that was called)
and then sent as JSON or as SSE events, paced like the provider (scaled by
``latency_scale``); also the low-level writers (SSE/JSON starts, piecewise writes, dropped
connections) that fault serving reuses."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson
from aiohttp import web

from proxy.simulator.app_state import CONFIG_KEY, STATS_KEY, SimulatorConfig
from proxy.simulator.profiles import SimulatedProvider
from proxy.simulator.prompt import Generation
from proxy.simulator.responder import Directives, plan_reply
from proxy.simulator.wire import EventStream, GenerationFormat, Reply, ResponseMeta, WireFormat

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


@dataclass(frozen=True, slots=True)
class Timing:
    first_token_s: float
    between_tokens_s: float

    @classmethod
    def of(
        cls, config: SimulatorConfig, provider: SimulatedProvider, directives: Directives
    ) -> "Timing":
        # [sim:slow] and [sim:delay] are deliberately unscaled so tests running at
        # latency_scale=0 can use them. A non-streamed answer takes as long as its stream would.
        ttft = provider.ttft_ms * config.latency_scale / 1000
        return cls(
            first_token_s=ttft + directives.slow_ms / 1000,
            between_tokens_s=config.latency_scale / provider.tokens_per_second
            + directives.delay_ms / 1000,
        )

    def generation_s(self, tokens: int) -> float:
        return self.between_tokens_s * max(tokens - 1, 0)


@dataclass(frozen=True, slots=True)
class Answer:
    """The usual answer to one request, planned before any of it is sent (or faulted)."""

    wire: WireFormat
    timing: Timing
    completion_tokens: int
    # The whole answer, and (for a streaming request only) its events.
    json_bytes: bytes
    events: EventStream | None = None

    def paced_events(self) -> list[tuple[float, bytes]]:
        """Every event with the pause before it: token events are paced, the first one
        excepted (the first-token wait comes before the response starts)."""
        assert self.events is not None
        paced = [(0.0, event.data) for event in self.events.head]
        for index, event in enumerate(self.events.body):
            tokens = event.tokens - 1 if index == 0 else event.tokens
            paced.append((self.timing.between_tokens_s * max(tokens, 0), event.data))
        paced += [(0.0, event.data) for event in self.events.tail]
        return paced

    def sse_bytes(self) -> bytes:
        assert self.events is not None
        return b"".join(event.data for event in self.events.events)


def plan_answer(
    app: web.Application,
    generation: Generation,
    provider: SimulatedProvider,
    directives: Directives,
    wire: GenerationFormat,
) -> Answer:
    completion = plan_reply(generation.prompt, provider)
    reply = Reply(generation, completion, _new_meta(wire.id_prefix, generation.model, provider))
    return Answer(
        wire=wire,
        timing=Timing.of(app[CONFIG_KEY], provider, directives),
        completion_tokens=completion.completion_tokens,
        json_bytes=orjson.dumps(wire.whole(reply)),
        events=wire.stream(reply) if generation.stream else None,
    )


async def respond(request: web.Request, answer: Answer, cut: int | None) -> web.StreamResponse:
    timing = answer.timing
    await _pause(timing.first_token_s + timing.generation_s(answer.completion_tokens))
    if cut is not None:
        return drop_connection(request, web.Response())
    return web.Response(body=answer.json_bytes, content_type="application/json")


async def stream(
    request: web.Request, answer: Answer, events_before_drop: int | None
) -> web.StreamResponse:
    """Stream the answer, or only its first ``events_before_drop`` events (never the last one:
    [DONE], message_stop, Gemini's finish chunk) and then drop the connection."""
    await _pause(answer.timing.first_token_s)
    events = answer.paced_events()
    if events_before_drop is not None:
        events = events[: min(events_before_drop, len(events) - 1)]
    response = await start_sse(request)
    with _counting_abandonment(request):
        for pause_s, data in events:
            await _pause(pause_s)
            await response.write(data)
    if events_before_drop is not None:
        return drop_connection(request, response)
    return response


async def start_sse(request: web.Request, *, closing: bool = False) -> web.StreamResponse:
    response = web.StreamResponse(headers=_SSE_HEADERS)
    if closing:
        response.force_close()
    await response.prepare(request)
    return response


async def start_json(request: web.Request, *, content_length: int) -> web.StreamResponse:
    # Sent at once (a StreamResponse writes its headers on prepare), before any of the body.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = content_length
    await response.prepare(request)
    return response


async def write_pieces(
    request: web.Request,
    response: web.StreamResponse,
    pieces: Iterable[bytes],
    *,
    interval_s: float = 0,
) -> web.StreamResponse:
    with _counting_abandonment(request):
        for index, piece in enumerate(pieces):
            await _pause(interval_s if index else 0)
            await response.write(piece)
    return response


@contextlib.contextmanager
def _counting_abandonment(request: web.Request) -> Iterator[None]:
    try:
        yield
    except (ConnectionResetError, asyncio.CancelledError):
        # The client went away mid-body: a write failed, or (with handler_cancellation)
        # aiohttp cancelled this handler.
        request.app[STATS_KEY].abandoned_streams += 1
        raise


def drop_connection(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    # close() (not abort()) flushes what was already written, then the peer sees EOF
    # mid-body; aiohttp then fails to finish the response and treats it as a disconnect.
    if request.transport is not None:
        request.transport.close()
    return response


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _new_meta(id_prefix: str, model: str, provider: SimulatedProvider) -> ResponseMeta:
    return ResponseMeta(
        id=f"{id_prefix}{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        system_fingerprint=f"sim-{provider.slug}",
    )
