"""Simulated upstream providers: pure responder functions and the HTTP server."""

import asyncio
import contextlib
import functools
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from proxy.simulator.profiles import PROVIDERS, SimulatedProvider, provider_by_slug
from proxy.simulator.responder import (
    Directives,
    InvalidChatRequest,
    count_tokens,
    parse_chat_request,
    parse_directives,
    plan_completion,
    prompt_tokens,
    reply_text,
    strip_directives,
)
from proxy.simulator.server import make_app

Client = TestClient[web.Request, web.Application]
JsonDict = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parents[2]


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


# --- profiles --------------------------------------------------------------------------


def test_the_five_fictional_providers() -> None:
    profiles = {
        (p.slug, p.name, p.ttft_ms, p.tokens_per_second, p.error_rate_permille) for p in PROVIDERS
    }
    assert profiles == {
        ("nimbus", "Nimbus Cloud", 120, 90, 10),
        ("lumen", "Lumen AI", 250, 60, 5),
        ("quanta", "Quanta Compute", 60, 180, 20),
        ("ember", "Ember Inference", 400, 40, 2),
        ("atlas", "Atlas Serve", 180, 120, 8),
    }
    assert provider_by_slug("atlas") is PROVIDERS[4]
    assert provider_by_slug("nope") is None


# --- responder -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("Hello, world!", 4), ("don't  stop", 4), ("naïve café_2 ok", 3), ("...", 3)],
)
def test_count_tokens(text: str, expected: int) -> None:
    assert count_tokens(text) == expected


def test_prompt_tokens_counts_strings_and_text_parts() -> None:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                {"type": "text", "text": "here!"},
            ],
        },
        {"role": "assistant", "content": None},
    ]
    assert prompt_tokens(messages) == (3 + 3) + (3 + 3) + (0 + 3) + 3


def test_reply_text_echoes_last_user_message_without_directives() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ignored"},
        {"role": "user", "content": "  second\n [sim:slow=5]  message "},
    ]
    assert reply_text(messages, NIMBUS) == "Hello from Nimbus Cloud. You said: second message"


@pytest.mark.parametrize("content", ["", "   ", "[sim:slow=1]"])
def test_reply_text_says_nothing_for_empty_user_text(content: str) -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": content}]
    assert reply_text(messages, NIMBUS) == "Hello from Nimbus Cloud. You said: nothing"


def test_plan_completion_stops_naturally() -> None:
    completion = plan_completion([{"role": "user", "content": "Hi, you!"}], NIMBUS, None)
    assert completion.content == "Hello from Nimbus Cloud. You said: Hi, you!"
    assert completion.deltas[:6] == ("Hello", " from", " Nimbus", " Cloud", ".", " You")
    assert completion.completion_tokens == count_tokens(completion.content) == 12
    assert completion.finish_reason == "stop"


def test_plan_completion_truncates_at_max_tokens() -> None:
    completion = plan_completion([{"role": "user", "content": "Hi"}], NIMBUS, 4)
    assert completion.content == "Hello from Nimbus Cloud"
    assert (completion.completion_tokens, completion.finish_reason) == (4, "length")
    exact = plan_completion([{"role": "user", "content": "Hi"}], NIMBUS, 9)
    assert exact.finish_reason == "stop"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", Directives()),
        ("x [sim:status=503] y", Directives(status=503)),
        ("[sim:status=200][sim:status=999]", Directives()),
        ("[sim:hang]", Directives(hang=True)),
        ("[sim:cut=3]", Directives(cut=3)),
        ("[sim:malformed]", Directives(malformed=True)),
        ("[sim:slow=250][sim:slow=50][sim:cut=0]", Directives(slow_ms=50, cut=0)),
        ("[sim:bogus] [sim:cut=x]", Directives()),
    ],
)
def test_parse_directives(text: str, expected: Directives) -> None:
    assert parse_directives(text) == expected


def test_strip_directives_leaves_unknown_brackets() -> None:
    assert strip_directives("a [sim:hang]b [sim:bogus]") == "a b [sim:bogus]"


@pytest.mark.parametrize(
    "raw",
    [
        b"{oops",
        b"[]",
        b'{"messages": [{"role": "user", "content": "x"}]}',
        b'{"model": "m", "messages": []}',
        b'{"model": "m"}',
        b'{"model": "m", "messages": ["x"]}',
        b'{"model": "m", "messages": [{"role": "user"}], "max_tokens": 0}',
        b'{"model": "m", "messages": [{"role": "user"}], "stream": "yes"}',
    ],
)
def test_parse_chat_request_rejects_invalid_bodies(raw: bytes) -> None:
    with pytest.raises(InvalidChatRequest):
        parse_chat_request(raw)


def test_parse_chat_request_prefers_max_completion_tokens() -> None:
    body = chat(max_tokens=9, max_completion_tokens=2, stream_options={"include_usage": True})
    request = parse_chat_request(orjson.dumps(body))
    assert (request.max_tokens, request.stream, request.include_usage) == (2, False, True)


# --- HTTP: plumbing --------------------------------------------------------------------


@run_async
async def test_healthz_and_models() -> None:
    async with simulator() as client:
        health = await client.get("/healthz")
        assert (health.status, await health.text()) == (200, "ok")
        models = await client.get("/lumen/v1/models")
        assert orjson.loads(await models.read()) == {"object": "list", "data": []}
        assert (await client.get("/nope/v1/models")).status == 404


@run_async
async def test_unknown_provider_is_an_openai_404() -> None:
    async with simulator() as client:
        response = await client.post("/nope/v1/chat/completions", json=chat())
        assert response.status == 404
        error = orjson.loads(await response.read())["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", None)
        assert "nope" in error["message"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"model": "m"}', b'{"model": "m", "messages": []}', b'{"messages": []}'],
)
@run_async
async def test_invalid_requests_are_openai_400s(body: bytes) -> None:
    async with simulator() as client:
        response = await client.post("/atlas/v1/chat/completions", data=body)
        assert response.status == 400
        assert response.content_type == "application/json"
        error = orjson.loads(await response.read())["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", None)


# --- HTTP: answers ---------------------------------------------------------------------


@run_async
async def test_non_streaming_completion_shape() -> None:
    async with simulator() as client:
        response = await client.post(
            "/nimbus/v1/chat/completions",
            json=chat("Hi there!"),
            headers={"Authorization": "Bearer anything"},
        )
        body = orjson.loads(await response.read())
    assert body["id"].startswith("chatcmpl-sim-")
    assert isinstance(body["created"], int)
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello from Nimbus Cloud. You said: Hi there!",
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    prompt = count_tokens("Hi there!") + 3 + 3
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": 11,
        "total_tokens": prompt + 11,
    }
    assert (body["object"], body["model"], body["system_fingerprint"]) == (
        "chat.completion",
        "sim-model",
        "sim-nimbus",
    )


@run_async
async def test_streaming_matches_non_streaming() -> None:
    body = chat("Stream me, please.", stream_options={"include_usage": True})
    async with simulator() as client:
        whole = await post_chat(client, body)
        payloads = await stream_chat(client, body)
    assert payloads[-1] == b"[DONE]"
    chunks = [orjson.loads(payload) for payload in payloads[:-1]]
    assert {chunk["id"] for chunk in chunks} == {chunks[0]["id"]}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    token_chunks = chunks[1:-2]
    streamed = "".join(chunk["choices"][0]["delta"]["content"] for chunk in token_chunks)
    assert streamed == whole["choices"][0]["message"]["content"]
    assert len(token_chunks) == whole["usage"]["completion_tokens"]
    finish = chunks[-2]["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({}, "stop")
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == whole["usage"]


@run_async
async def test_streaming_without_usage_and_with_max_tokens() -> None:
    async with simulator() as client:
        payloads = await stream_chat(client, chat(max_completion_tokens=2))
    chunks = [orjson.loads(payload) for payload in payloads[:-1]]
    assert [chunk["choices"][0]["delta"] for chunk in chunks[1:3]] == [
        {"content": "Hello"},
        {"content": " from"},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in chunk for chunk in chunks)


@run_async
async def test_non_streaming_max_tokens() -> None:
    async with simulator() as client:
        body = await post_chat(client, chat(max_tokens=3), provider="ember")
    assert body["choices"][0]["message"]["content"] == "Hello from Ember"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


@run_async
async def test_official_openai_sdk_understands_the_wire_format() -> None:
    async with simulator() as client:
        sdk = AsyncOpenAI(
            base_url=str(client.make_url("/atlas/v1")), api_key="sk-anything", max_retries=0
        )
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Yo!"}]
        completion = await sdk.chat.completions.create(model="m", messages=messages)
        stream = await sdk.chat.completions.create(
            model="m", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        await sdk.close()
    assert completion.choices[0].message.content == "Hello from Atlas Serve. You said: Yo!"
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert streamed == completion.choices[0].message.content
    assert chunks[-1].usage == completion.usage


# --- HTTP: timing ----------------------------------------------------------------------


@run_async
async def test_latency_scale_delays_first_token_and_tokens() -> None:
    scale = 0.1
    ember = profile("ember")
    async with simulator(latency_scale=scale) as client:
        started = time.monotonic()
        response = await client.post(
            "/ember/v1/chat/completions", json=chat("a b", max_tokens=3, stream=True)
        )
        arrivals = [time.monotonic() - started async for line in response.content if line != b"\n"]
        started = time.monotonic()
        await post_chat(client, chat("a b"), provider="ember")
        non_streamed = time.monotonic() - started
    ttft = ember.ttft_ms * scale / 1000
    between = scale / ember.tokens_per_second
    assert len(arrivals) == 1 + 3 + 1 + 1  # role, tokens, finish, [DONE]
    assert arrivals[1] >= ttft
    assert arrivals[3] >= ttft + 2 * between
    assert non_streamed >= ttft


@run_async
async def test_slow_directive_is_unscaled() -> None:
    async with simulator(latency_scale=0) as client:
        started = time.monotonic()
        body = await post_chat(client, chat("wait [sim:slow=80]"))
        assert time.monotonic() - started >= 0.08
    assert body["choices"][0]["message"]["content"].endswith("You said: wait")


# --- HTTP: faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"), [(503, "server_error"), (401, "authentication_error")]
)
@run_async
async def test_forced_status(status: int, error_type: str) -> None:
    async with simulator() as client:
        response = await client.post(
            "/lumen/v1/chat/completions", json=chat(f"boom [sim:status={status}]", stream=True)
        )
        assert response.status == status
        assert orjson.loads(await response.read())["error"]["type"] == error_type
        assert "Retry-After" not in response.headers


@run_async
async def test_forced_429_sets_retry_after() -> None:
    async with simulator() as client:
        response = await client.post("/lumen/v1/chat/completions", json=chat("[sim:status=429]"))
        assert (response.status, response.headers["Retry-After"]) == (429, "1")
        assert orjson.loads(await response.read())["error"]["type"] == "rate_limit_error"


@run_async
async def test_malformed_body() -> None:
    async with simulator() as client:
        response = await client.post("/quanta/v1/chat/completions", json=chat("[sim:malformed]"))
        assert (response.status, response.content_type) == (200, "application/json")
        assert await response.read() == b"{not json"


async def read_lines(response: aiohttp.ClientResponse, into: list[bytes]) -> None:
    async for line in response.content:
        into.append(line)


@run_async
async def test_cut_stream_drops_connection_after_n_tokens() -> None:
    received: list[bytes] = []
    async with simulator() as client:
        response = await client.post(
            "/nimbus/v1/chat/completions", json=chat("[sim:cut=3] go", stream=True)
        )
        with pytest.raises(aiohttp.ClientPayloadError):
            await read_lines(response, into=received)
        assert (await client.get("/healthz")).status == 200
    payloads = sse_payloads(b"".join(received))
    contents = [orjson.loads(payload)["choices"][0]["delta"]["content"] for payload in payloads]
    assert contents == ["", "Hello", " from", " Nimbus"]


@run_async
async def test_cut_non_streaming_closes_without_response() -> None:
    async with simulator() as client:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.post("/nimbus/v1/chat/completions", json=chat("[sim:cut=0]"))


@run_async
async def test_hang_is_ended_by_client_timeout() -> None:
    async with simulator() as client:
        with pytest.raises(asyncio.TimeoutError):
            await client.post(
                "/atlas/v1/chat/completions",
                json=chat("[sim:hang]"),
                timeout=aiohttp.ClientTimeout(total=0.2),
            )
        assert (await client.get("/healthz")).status == 200


async def statuses(client: Client, count: int) -> list[int]:
    responses = [
        await client.post("/quanta/v1/chat/completions", json=chat()) for _ in range(count)
    ]
    return [response.status for response in responses]


@run_async
async def test_random_faults_are_seeded_and_scaled() -> None:
    # quanta fails 20 per mille; scaled by 25 that is a coin flip per request.
    async with (
        simulator(fault_scale=25, seed=7) as first,
        simulator(fault_scale=25, seed=7) as again,
    ):
        sequence = await statuses(first, 30)
        assert sequence == await statuses(again, 30)
    assert set(sequence) == {200, 500}
    async with simulator(fault_scale=50) as always, simulator(fault_scale=0) as never:
        assert set(await statuses(always, 5)) == {500}
        assert set(await statuses(never, 5)) == {200}


@run_async
async def test_random_fault_is_an_openai_server_error() -> None:
    async with simulator(fault_scale=50) as client:
        response = await client.post("/quanta/v1/chat/completions", json=chat())
        error = orjson.loads(await response.read())["error"]
    assert (error["type"], error["code"]) == ("server_error", None)


def test_make_app_rejects_negative_scales() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        make_app(latency_scale=-1)


# --- standalone server -----------------------------------------------------------------


def test_standalone_server_announces_serves_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "proxy.simulator.server",
        "--port",
        "0",
        "--latency-scale",
        "0",
    ]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            prefix = "Simulated providers listening on "
            assert line.startswith(prefix)
            reply = httpx.get(f"{line.removeprefix(prefix)}/healthz", timeout=5)
            assert reply.text == "ok"
        finally:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
