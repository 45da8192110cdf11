"""The simulator over HTTP: shapes, streaming, timing, faults, the standalone process."""

import asyncio
import signal
import subprocess
import sys
import time

import aiohttp
import httpx
import orjson
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from proxy.simulator.app import make_app
from proxy.simulator.responder import (
    count_tokens,
)
from tests.proxy.simulator.helpers import (
    REPO_ROOT,
    Client,
    chat,
    post_chat,
    profile,
    run_async,
    simulator,
    sse_payloads,
    stream_chat,
)

# --- HTTP: plumbing --------------------------------------------------------------------


@run_async
async def test_healthz() -> None:
    async with simulator() as client:
        health = await client.get("/healthz")
        assert (health.status, await health.text()) == (200, "ok")


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
async def test_delay_directive_spaces_the_tokens_unscaled() -> None:
    delay_s = 0.06
    body = chat("Hi [sim:delay=60]", max_tokens=4)
    async with simulator(latency_scale=0) as client:
        started = time.monotonic()
        response = await client.post("/nimbus/v1/chat/completions", json={**body, "stream": True})
        arrivals = [
            (time.monotonic() - started, line) async for line in response.content if line != b"\n"
        ]
        started = time.monotonic()
        whole = await post_chat(client, body)
        non_streamed = time.monotonic() - started
    assert len(arrivals) == 1 + 4 + 1 + 1  # role, tokens, finish, [DONE]
    tokens = [orjson.loads(line.removeprefix(b"data: ")) for _, line in arrivals[1:5]]
    assert "".join(t["choices"][0]["delta"]["content"] for t in tokens) == "Hello from Nimbus Cloud"
    # Three pauses between four tokens, at latency_scale=0; a whole answer takes as long.
    assert arrivals[4][0] >= 3 * delay_s
    assert non_streamed >= 3 * delay_s
    assert whole["choices"][0]["message"]["content"] == "Hello from Nimbus Cloud"


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
