"""Shared helpers for the simulator tests."""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from proxy.simulator.profiles import SimulatedProvider, provider_by_slug
from proxy.simulator.server import make_app

Client = TestClient[web.Request, web.Application]
JsonDict = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parents[3]


def profile(slug: str) -> SimulatedProvider:
    found = provider_by_slug(slug)
    assert found is not None
    return found


NIMBUS = profile("nimbus")


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh loop (no asyncio pytest plugin is installed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


@contextlib.asynccontextmanager
async def simulator(
    latency_scale: float = 0.0, fault_scale: float = 0.0, seed: int = 0
) -> AsyncIterator[Client]:
    app = make_app(latency_scale=latency_scale, fault_scale=fault_scale, seed=seed)
    async with TestClient(TestServer(app)) as client:
        yield client


def chat(text: str = "Hi there!", **extra: Any) -> JsonDict:
    return {"model": "sim-model", "messages": [{"role": "user", "content": text}], **extra}


async def post_chat(client: Client, body: JsonDict, provider: str = "nimbus") -> JsonDict:
    response = await client.post(f"/{provider}/v1/chat/completions", json=body)
    assert response.status == 200
    payload: JsonDict = orjson.loads(await response.read())
    return payload


def sse_payloads(raw: bytes) -> list[bytes]:
    events = [event for event in raw.split(b"\n\n") if event]
    assert all(event.startswith(b"data: ") for event in events)
    return [event.removeprefix(b"data: ") for event in events]


async def stream_chat(client: Client, body: JsonDict) -> list[bytes]:
    response = await client.post("/nimbus/v1/chat/completions", json={**body, "stream": True})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return sse_payloads(await response.read())
