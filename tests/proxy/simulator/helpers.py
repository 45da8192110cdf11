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

from proxy.simulator.app import make_app
from proxy.simulator.profiles import SimulatedProvider, provider_by_slug

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


# --- the other wire formats ------------------------------------------------------------

ANTHROPIC_PATH = "/nimbus/v1/messages"
GEMINI_PATH = "/nimbus/v1beta/models/gemini-sim:generateContent"
GEMINI_STREAM_PATH = "/nimbus/v1beta/models/gemini-sim:streamGenerateContent?alt=sse"

WEATHER_TOOL_SCHEMA: JsonDict = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"},
    },
    "required": ["city", "unit"],
}
WEATHER_ARGUMENTS = {"city": "sim", "unit": "celsius"}


def messages_body(text: str = "Hi there!", **extra: Any) -> JsonDict:
    """An Anthropic Messages request body."""
    return {
        "model": "claude-sim",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def gemini_body(text: str = "Hi there!", **extra: Any) -> JsonDict:
    """A Gemini generateContent request body."""
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


def named_events(raw: bytes) -> list[tuple[str, JsonDict]]:
    """Anthropic's SSE: (event name, data) for each event; the name must match the type."""
    events = []
    for block in (block for block in raw.split(b"\n\n") if block):
        name_line, data_line = block.split(b"\n")
        name = name_line.removeprefix(b"event: ").decode()
        data: JsonDict = orjson.loads(data_line.removeprefix(b"data: "))
        assert data["type"] == name
        events.append((name, data))
    return events


def gemini_chunks(raw: bytes) -> list[JsonDict]:
    """Gemini's SSE: CRLF-separated ``data:`` events."""
    assert raw.endswith(b"\r\n\r\n")
    blocks = raw.split(b"\r\n\r\n")[:-1]
    assert all(block.startswith(b"data: ") for block in blocks)
    return [orjson.loads(block.removeprefix(b"data: ")) for block in blocks]
