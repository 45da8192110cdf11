"""aiohttp application serving every simulated provider under ``/{provider}/v1/...``.

Each chat request is parsed and counted in ``/_stats``; then the first of these that applies
decides whether it fails, and how:

1. a fault set on the provider through the control API (loopback peers only, see
   ``faults.py`` for the fault names and their options):
   ``PUT /_control/providers/{slug}`` with ``{"fault": NAME, "count": n, ...options}`` sets
   it (for every later request, or the next ``n``), ``DELETE /_control/providers/{slug}``
   clears it, ``DELETE /_control/providers`` clears them all, ``GET /_control/providers``
   lists them. Such a fault replaces the message's fault directives and the random failures;
2. ``[sim:status=N]``, ``[sim:malformed]``, ``[sim:hang]`` and ``[sim:cut=N]`` directives in
   the last user message (``[sim:slow=MS]`` and ``[sim:delay=MS]`` only change the timing);
3. random failures, at each profile's error rate times ``fault_scale``.
"""

import argparse
import asyncio
import contextlib
import functools
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from proxy.simulator.faults import (
    MALFORMED_JSON,
    Fault,
    FaultBoard,
    FaultName,
    InvalidFault,
    error_event_body,
    is_loopback,
    padded_body,
    parse_fault,
)
from proxy.simulator.profiles import SimulatedProvider, provider_by_slug
from proxy.simulator.responder import (
    SSE_DONE,
    ChatRequest,
    Completion,
    Directives,
    InvalidChatRequest,
    ResponseMeta,
    chunk_body,
    completion_body,
    error_body,
    last_user_text,
    parse_chat_request,
    parse_directives,
    plan_completion,
    sse_event,
    usage_chunk_body,
)

# Long enough to outlast any sane client timeout; the client disconnecting cancels it.
HANG_SECONDS = 3600.0
_MAX_BODY_BYTES = 16 * 1024 * 1024
# Hanging requests would otherwise hold shutdown for aiohttp's default 60 s.
_SHUTDOWN_TIMEOUT_SECONDS = 1.0
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    latency_scale: float
    fault_scale: float


@dataclass(slots=True)
class SimulatorStats:
    """What really reached "upstream", so tests can see it: chat requests per provider (faulted
    or not), control-API faults served per provider, and streamed bodies whose client went away
    before the end (proof that a gateway closed its upstream)."""

    chat_requests: Counter[str] = field(default_factory=Counter)
    faults_served: Counter[str] = field(default_factory=Counter)
    abandoned_streams: int = 0


CONFIG_KEY = web.AppKey("simulator_config", SimulatorConfig)
RNG_KEY = web.AppKey("simulator_rng", random.Random)
STATS_KEY = web.AppKey("simulator_stats", SimulatorStats)
FAULTS_KEY = web.AppKey("simulator_faults", FaultBoard)


def make_app(
    *, latency_scale: float = 1.0, fault_scale: float = 1.0, seed: int = 0
) -> web.Application:
    if latency_scale < 0 or fault_scale < 0:
        raise ValueError("latency_scale and fault_scale must be non-negative")
    app = web.Application(client_max_size=_MAX_BODY_BYTES)
    app[CONFIG_KEY] = SimulatorConfig(latency_scale=latency_scale, fault_scale=fault_scale)
    # One seeded generator per app makes the sequence of random faults reproducible.
    app[RNG_KEY] = random.Random(seed)
    app[STATS_KEY] = SimulatorStats()
    app[FAULTS_KEY] = FaultBoard()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_control/providers", control_list)
    app.router.add_delete("/_control/providers", control_clear_all)
    app.router.add_put("/_control/providers/{slug}", control_put)
    app.router.add_delete("/_control/providers/{slug}", control_clear)
    app.router.add_post("/{provider}/v1/chat/completions", chat_completions)
    app.router.add_get("/{provider}/v1/models", list_models)
    return app


# --- handlers --------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def stats(request: web.Request) -> web.Response:
    counts = request.app[STATS_KEY]
    return json_response(
        {
            "chat_requests": counts.chat_requests.total(),
            "by_provider": dict(counts.chat_requests),
            "faults_served": dict(counts.faults_served),
            "abandoned_streams": counts.abandoned_streams,
        }
    )


async def list_models(request: web.Request) -> web.Response:
    provider = provider_by_slug(request.match_info["provider"])
    if provider is None:
        return unknown_provider_response(request.match_info["provider"])
    return json_response({"object": "list", "data": []})


async def chat_completions(request: web.Request) -> web.StreamResponse:
    provider = provider_by_slug(request.match_info["provider"])
    if provider is None:
        return unknown_provider_response(request.match_info["provider"])
    request.app[STATS_KEY].chat_requests[provider.slug] += 1
    try:
        chat = parse_chat_request(await request.read())
    except InvalidChatRequest as exc:
        return error_response(400, str(exc))
    directives = parse_directives(last_user_text(chat.messages))
    answer = _plan_answer(request.app, chat, provider, directives)
    fault = _take_fault(request.app, provider)
    if fault is not None:
        return await _FAULT_SERVERS[fault.name](request, answer, fault)
    early = await _forced_or_random_failure(request, provider, directives)
    if early is not None:
        return early
    if chat.stream:
        return await _stream(request, answer, _events_before_cut(answer, directives.cut))
    return await _respond(request, answer, directives.cut)


def _take_fault(app: web.Application, provider: SimulatedProvider) -> Fault | None:
    fault = app[FAULTS_KEY].take(provider.slug)
    if fault is not None:
        app[STATS_KEY].faults_served[provider.slug] += 1
    return fault


async def _forced_or_random_failure(
    request: web.Request, provider: SimulatedProvider, directives: Directives
) -> web.StreamResponse | None:
    if directives.status is not None:
        return _status_error(directives.status)
    if directives.malformed:
        return _malformed_response()
    if directives.hang:
        return await _hang()
    if _random_fault(request.app, provider):
        return error_response(500, f"Simulated random failure at {provider.name}.")
    return None


def _random_fault(app: web.Application, provider: SimulatedProvider) -> bool:
    probability = provider.error_rate_permille * app[CONFIG_KEY].fault_scale / 1000
    return probability > 0 and app[RNG_KEY].random() < probability


# --- answering -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Timing:
    first_token_s: float
    between_tokens_s: float

    @classmethod
    def of(
        cls, config: SimulatorConfig, provider: SimulatedProvider, directives: Directives
    ) -> "_Timing":
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
class _Event:
    pause_s: float
    data: bytes


@dataclass(frozen=True, slots=True)
class _Answer:
    """The usual answer to one chat request, planned before any of it is sent (or faulted)."""

    chat: ChatRequest
    completion: Completion
    meta: ResponseMeta
    timing: _Timing

    def json_bytes(self) -> bytes:
        return orjson.dumps(completion_body(self.meta, self.completion))

    def sse_events(self) -> list[_Event]:
        """The whole stream, [DONE] last, each event with the pause before it."""
        meta, completion = self.meta, self.completion
        events = [_Event(0, sse_event(chunk_body(meta, {"role": "assistant", "content": ""})))]
        events += [
            _Event(self.timing.between_tokens_s if index else 0, sse_event(chunk_body(meta, delta)))
            for index, delta in enumerate({"content": text} for text in completion.deltas)
        ]
        events.append(_Event(0, sse_event(chunk_body(meta, {}, completion.finish_reason))))
        if self.chat.include_usage:
            events.append(_Event(0, sse_event(usage_chunk_body(meta, completion))))
        events.append(_Event(0, SSE_DONE))
        return events


def _plan_answer(
    app: web.Application, chat: ChatRequest, provider: SimulatedProvider, directives: Directives
) -> _Answer:
    return _Answer(
        chat=chat,
        completion=plan_completion(chat.messages, provider, chat.max_tokens),
        meta=_new_meta(chat.model, provider),
        timing=_Timing.of(app[CONFIG_KEY], provider, directives),
    )


def _events_before_cut(answer: _Answer, cut: int | None) -> int | None:
    # [sim:cut=N] sends the role chunk and at most N tokens (never the finish chunk).
    return None if cut is None else 1 + min(cut, answer.completion.completion_tokens)


async def _respond(request: web.Request, answer: _Answer, cut: int | None) -> web.StreamResponse:
    timing = answer.timing
    await _pause(timing.first_token_s + timing.generation_s(answer.completion.completion_tokens))
    if cut is not None:
        return _drop_connection(request, web.Response())
    return web.Response(body=answer.json_bytes(), content_type="application/json")


async def _stream(
    request: web.Request, answer: _Answer, events_before_drop: int | None
) -> web.StreamResponse:
    """Stream the answer, or only its first ``events_before_drop`` events (never [DONE]) and
    then drop the connection."""
    await _pause(answer.timing.first_token_s)
    events = answer.sse_events()
    if events_before_drop is not None:
        events = events[: min(events_before_drop, len(events) - 1)]
    response = await _start_sse(request)
    with _counting_abandonment(request):
        for event in events:
            await _pause(event.pause_s)
            await response.write(event.data)
    if events_before_drop is not None:
        return _drop_connection(request, response)
    return response


async def _start_sse(request: web.Request, *, closing: bool = False) -> web.StreamResponse:
    response = web.StreamResponse(headers=_SSE_HEADERS)
    if closing:
        response.force_close()
    await response.prepare(request)
    return response


async def _start_json(request: web.Request, *, content_length: int) -> web.StreamResponse:
    # Sent at once (a StreamResponse writes its headers on prepare), before any of the body.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = content_length
    await response.prepare(request)
    return response


async def _write_pieces(
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


def _drop_connection(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    # close() (not abort()) flushes what was already written, then the peer sees EOF
    # mid-body; aiohttp then fails to finish the response and treats it as a disconnect.
    if request.transport is not None:
        request.transport.close()
    return response


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _new_meta(model: str, provider: SimulatedProvider) -> ResponseMeta:
    return ResponseMeta(
        id=f"chatcmpl-sim-{uuid.uuid4().hex}",
        created=int(time.time()),
        model=model,
        system_fingerprint=f"sim-{provider.slug}",
    )


# --- faults ----------------------------------------------------------------------------


def _status_error(status: int, retry_after_s: int = 1) -> web.Response:
    return error_response(status, f"Simulated HTTP {status}.", retry_after_s=retry_after_s)


def _malformed_response() -> web.Response:
    return web.Response(body=MALFORMED_JSON, content_type="application/json")


async def _hang() -> web.Response:
    # No headers until the client gives up (or, after HANG_SECONDS, a 504 nobody waits for).
    await asyncio.sleep(HANG_SECONDS)
    return error_response(504, "Simulated hang ended.")


async def _serve_hang(request: web.Request, answer: _Answer, fault: Fault) -> web.StreamResponse:
    return await _hang()


_FAULT_STATUSES = {FaultName.HTTP_500: 500, FaultName.HTTP_503: 503, FaultName.HTTP_429: 429}


async def _serve_status(request: web.Request, answer: _Answer, fault: Fault) -> web.StreamResponse:
    return _status_error(_FAULT_STATUSES[fault.name], retry_after_s=fault.retry_after)


async def _serve_error_event(
    request: web.Request, answer: _Answer, fault: Fault
) -> web.StreamResponse:
    """A 200 whose first event is an error: the stream then ends, without [DONE], and so
    does the connection."""
    if not answer.chat.stream:
        return json_response(error_event_body())
    response = await _start_sse(request, closing=True)
    await response.write(sse_event(error_event_body()))
    return response


async def _serve_malformed_json(
    request: web.Request, answer: _Answer, fault: Fault
) -> web.StreamResponse:
    if not answer.chat.stream:
        return _malformed_response()
    response = await _start_sse(request, closing=True)
    await response.write(b"data: " + MALFORMED_JSON + b"\n\n")
    return response


async def _serve_cut_stream(
    request: web.Request, answer: _Answer, fault: Fault
) -> web.StreamResponse:
    """Streaming: the first ``after_chunks`` data events, the role chunk included, then a
    dropped connection. Non-streaming: the 200 headers, then a dropped connection."""
    if answer.chat.stream:
        return await _stream(request, answer, fault.after_chunks)
    response = await _start_json(request, content_length=len(answer.json_bytes()))
    return _drop_connection(request, response)


async def _serve_slow_drip(
    request: web.Request, answer: _Answer, fault: Fault
) -> web.StreamResponse:
    """The usual answer, one byte every ``interval_ms`` (instead of the usual timing)."""
    if answer.chat.stream:
        body = b"".join(event.data for event in answer.sse_events())
        response = await _start_sse(request)
    else:
        body = answer.json_bytes()
        response = await _start_json(request, content_length=len(body))
    one_byte_each = (body[index : index + 1] for index in range(len(body)))
    return await _write_pieces(
        request, response, one_byte_each, interval_s=fault.interval_ms / 1000
    )


async def _serve_huge_body(
    request: web.Request, answer: _Answer, fault: Fault
) -> web.StreamResponse:
    """A 200 of exactly ``size_bytes`` that is no answer: ``{"padding": "xx…"}``, or one
    ``data: {"padding": "xx…`` line that never ends; written piece by piece."""
    if answer.chat.stream:
        response = await _start_sse(request)
        body = padded_body(prefix=b'data: {"padding": "', suffix=b"", size_bytes=fault.size_bytes)
    else:
        response = await _start_json(request, content_length=fault.size_bytes)
        body = padded_body(prefix=b'{"padding": "', suffix=b'"}', size_bytes=fault.size_bytes)
    return await _write_pieces(request, response, body)


_FaultServer = Callable[[web.Request, _Answer, Fault], Awaitable[web.StreamResponse]]
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


# --- control API -----------------------------------------------------------------------

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def loopback_only(handler: _Handler) -> _Handler:
    """403 for any peer but this machine: a fault set here changes what every client sees."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            return error_response(403, "The control API answers loopback peers only.")
        return await handler(request)

    return guarded


@loopback_only
async def control_list(request: web.Request) -> web.StreamResponse:
    return _fault_listing(request.app)


@loopback_only
async def control_put(request: web.Request) -> web.StreamResponse:
    slug = request.match_info["slug"]
    if provider_by_slug(slug) is None:
        return unknown_provider_response(slug)
    try:
        fault = parse_fault(await request.read())
    except InvalidFault as exc:
        return error_response(400, str(exc))
    request.app[FAULTS_KEY].put(slug, fault)
    return json_response(fault.as_json())


@loopback_only
async def control_clear(request: web.Request) -> web.StreamResponse:
    slug = request.match_info["slug"]
    if provider_by_slug(slug) is None:
        return unknown_provider_response(slug)
    request.app[FAULTS_KEY].clear(slug)
    return _fault_listing(request.app)


@loopback_only
async def control_clear_all(request: web.Request) -> web.StreamResponse:
    request.app[FAULTS_KEY].clear_all()
    return _fault_listing(request.app)


def _fault_listing(app: web.Application) -> web.Response:
    faults = app[FAULTS_KEY].faults()
    listing: dict[str, object] = {slug: fault.as_json() for slug, fault in faults.items()}
    return json_response(listing)


# --- responses -------------------------------------------------------------------------


def json_response(
    payload: dict[str, object], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, headers=headers, content_type="application/json"
    )


def error_response(status: int, message: str, *, retry_after_s: int = 1) -> web.Response:
    headers = {"Retry-After": str(retry_after_s)} if status == 429 else None
    return json_response(error_body(status, message), status=status, headers=headers)


def unknown_provider_response(slug: str) -> web.Response:
    return error_response(404, f"Unknown simulated provider '{slug}'.")


# --- running ---------------------------------------------------------------------------


def announce(url: str) -> None:
    print(f"Simulated providers listening on {url}", flush=True)


async def serve(
    host: str,
    port: int,
    *,
    latency_scale: float = 1.0,
    fault_scale: float = 1.0,
    seed: int = 0,
    on_ready: Callable[[str], None] = announce,
) -> None:
    """Serve until SIGINT/SIGTERM (or cancellation); ``on_ready`` gets the base URL."""
    app = make_app(latency_scale=latency_scale, fault_scale=fault_scale, seed=seed)
    # handler_cancellation lets a client disconnect end a [sim:hang] right away.
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_SECONDS,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        on_ready(f"http://{host}:{_bound_port(runner, port)}")
        await _until_terminated()
    finally:
        await runner.cleanup()


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    # Port 0 asks the OS for a free port; report the one actually bound.
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return requested


async def _until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


def run(
    host: str = "127.0.0.1",
    port: int = 8100,
    latency_scale: float = 1.0,
    fault_scale: float = 1.0,
    *,
    seed: int = 0,
    on_ready: Callable[[str], None] = announce,
) -> None:
    """Blocking entry point: serve until interrupted, on uvloop when it is installed."""
    server = serve(
        host,
        port,
        latency_scale=latency_scale,
        fault_scale=fault_scale,
        seed=seed,
        on_ready=on_ready,
    )
    with contextlib.suppress(KeyboardInterrupt):
        _event_loop_runner()(server)


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be non-negative, got {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options shared by ``main`` and the ``simulate_providers`` command."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--latency-scale", type=non_negative_float, default=1.0)
    parser.add_argument("--fault-scale", type=non_negative_float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the simulated upstream LLM providers.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    run(args.host, args.port, args.latency_scale, args.fault_scale, seed=args.seed)


if __name__ == "__main__":
    main()
