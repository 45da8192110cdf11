"""aiohttp application serving every simulated provider under ``/{provider}/v1/...``."""

import argparse
import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

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
    """What really reached "upstream", so tests can see it: chat requests per provider, and
    streams whose client went away before the end (proof that a gateway closed its upstream)."""

    chat_requests: Counter[str] = field(default_factory=Counter)
    abandoned_streams: int = 0


CONFIG_KEY = web.AppKey("simulator_config", SimulatorConfig)
RNG_KEY = web.AppKey("simulator_rng", random.Random)
STATS_KEY = web.AppKey("simulator_stats", SimulatorStats)


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
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/_stats", stats)
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
    early = await _forced_or_random_failure(request, provider, directives)
    if early is not None:
        return early
    completion = plan_completion(chat.messages, provider, chat.max_tokens)
    timing = _Timing.of(request.app[CONFIG_KEY], provider, directives)
    meta = _new_meta(chat.model, provider)
    if chat.stream:
        return await _stream(request, chat, completion, meta, timing, directives.cut)
    return await _respond(request, completion, meta, timing, directives.cut)


async def _forced_or_random_failure(
    request: web.Request, provider: SimulatedProvider, directives: Directives
) -> web.StreamResponse | None:
    if directives.status is not None:
        return error_response(directives.status, f"Simulated HTTP {directives.status}.")
    if directives.malformed:
        return web.Response(body=b"{not json", content_type="application/json")
    if directives.hang:
        await asyncio.sleep(HANG_SECONDS)
        return error_response(504, "Simulated hang ended.")
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


async def _respond(
    request: web.Request,
    completion: Completion,
    meta: ResponseMeta,
    timing: _Timing,
    cut: int | None,
) -> web.StreamResponse:
    await _pause(timing.first_token_s + timing.generation_s(completion.completion_tokens))
    if cut is not None:
        return _drop_connection(request, web.Response())
    return json_response(completion_body(meta, completion))


async def _stream(
    request: web.Request,
    chat: ChatRequest,
    completion: Completion,
    meta: ResponseMeta,
    timing: _Timing,
    cut: int | None,
) -> web.StreamResponse:
    await _pause(timing.first_token_s)
    response = web.StreamResponse(headers=_SSE_HEADERS)
    await response.prepare(request)
    try:
        await response.write(sse_event(chunk_body(meta, {"role": "assistant", "content": ""})))
        deltas = completion.deltas if cut is None else completion.deltas[:cut]
        for index, delta in enumerate(deltas):
            await _pause(timing.between_tokens_s if index else 0)
            await response.write(sse_event(chunk_body(meta, {"content": delta})))
        if cut is not None:
            return _drop_connection(request, response)
        await response.write(sse_event(chunk_body(meta, {}, completion.finish_reason)))
        if chat.include_usage:
            await response.write(sse_event(usage_chunk_body(meta, completion)))
        await response.write(SSE_DONE)
    except (ConnectionResetError, asyncio.CancelledError):
        # The client went away mid-stream: a write failed, or (with handler_cancellation)
        # aiohttp cancelled this handler.
        request.app[STATS_KEY].abandoned_streams += 1
        raise
    return response


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


# --- responses -------------------------------------------------------------------------


def json_response(
    payload: dict[str, object], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, headers=headers, content_type="application/json"
    )


def error_response(status: int, message: str) -> web.Response:
    headers = {"Retry-After": "1"} if status == 429 else None
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
