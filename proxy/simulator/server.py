"""Entry points: ``serve`` (async), ``run`` (blocking) and ``main`` (``python -m
proxy.simulator.server``), with the command-line options they share with ``manage.py
simulate_providers``."""

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from proxy.simulator.app import make_app

# Hanging requests would otherwise hold shutdown for aiohttp's default 60 s.
_SHUTDOWN_TIMEOUT_SECONDS = 1.0


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
