"""Control-API faults, ``[sim:...]`` directives and random failures on the Anthropic and
Gemini routes: the same faults as on the chat route, in each format's own shapes."""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from anthropic import APIStatusError, AsyncAnthropic, RateLimitError

from tests.proxy.simulator.helpers import (
    ANTHROPIC_PATH,
    GEMINI_PATH,
    GEMINI_STREAM_PATH,
    Client,
    JsonDict,
    gemini_body,
    gemini_chunks,
    messages_body,
    named_events,
    run_async,
    simulator,
)


@dataclass(frozen=True)
class Api:
    name: str
    separator: bytes
    data_prefix: bytes

    def path(self, stream: bool) -> str:
        if self.name == "anthropic":
            return ANTHROPIC_PATH
        return GEMINI_STREAM_PATH if stream else GEMINI_PATH

    def body(self, text: str, stream: bool) -> JsonDict:
        if self.name == "anthropic":
            return messages_body(text, stream=stream)
        return gemini_body(text)

    def error_kind(self, payload: JsonDict) -> str:
        """Anthropic's error type, or Google's status word."""
        if self.name == "anthropic":
            assert payload["type"] == "error"
            return str(payload["error"]["type"])
        assert isinstance(payload["error"]["code"], int)
        return str(payload["error"]["status"])


ANTHROPIC = Api("anthropic", b"\n\n", b"event: message_start\ndata: ")
GEMINI = Api("gemini", b"\r\n\r\n", b"data: ")
APIS = pytest.mark.parametrize("api", [ANTHROPIC, GEMINI], ids=["anthropic", "gemini"])
STREAMING = pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])


async def put_fault(client: Client, **fault: Any) -> None:
    response = await client.put("/_control/providers/nimbus", json=fault)
    assert response.status == 200


async def post(
    client: Client, api: Api, *, stream: bool, text: str = "Hi there!"
) -> aiohttp.ClientResponse:
    return await client.post(api.path(stream), json=api.body(text, stream))


async def read_pieces(response: aiohttp.ClientResponse, into: list[bytes]) -> None:
    async for piece in response.content.iter_any():
        into.append(piece)


async def read_until_dropped(response: aiohttp.ClientResponse) -> bytes:
    received: list[bytes] = []
    with pytest.raises(aiohttp.ClientPayloadError):
        await read_pieces(response, into=received)
    return b"".join(received)


@pytest.mark.parametrize(
    ("fault", "status", "kinds"),
    [
        ("http_500", 500, ("api_error", "INTERNAL")),
        ("http_503", 503, ("api_error", "UNAVAILABLE")),
    ],
)
@APIS
@STREAMING
@run_async
async def test_5xx_faults_in_the_format_error_shape(
    api: Api, stream: bool, fault: str, status: int, kinds: tuple[str, str]
) -> None:
    async with simulator() as client:
        await put_fault(client, fault=fault)
        response = await post(client, api, stream=stream)
        payload = orjson.loads(await response.read())
    assert (response.status, response.content_type) == (status, "application/json")
    assert api.error_kind(payload) == kinds[api is GEMINI]


@APIS
@run_async
async def test_429_fault_and_status_directive(api: Api) -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_429", retry_after=7, count=1)
        limited = await post(client, api, stream=True)
        forced = await post(client, api, stream=False, text="[sim:status=401] hi")
        limited_payload = orjson.loads(await limited.read())
        forced_payload = orjson.loads(await forced.read())
    assert (limited.status, limited.headers["Retry-After"]) == (429, "7")
    assert (
        api.error_kind(limited_payload) == ("rate_limit_error", "RESOURCE_EXHAUSTED")[api is GEMINI]
    )
    assert forced.status == 401
    assert (
        api.error_kind(forced_payload) == ("authentication_error", "UNAUTHENTICATED")[api is GEMINI]
    )


@APIS
@run_async
async def test_a_forced_401_quotes_the_key_it_was_sent(api: Api) -> None:
    headers = {"Authorization": "Bearer sk-quoted-back-1234", "x-api-key": "sk-quoted-back-1234",
               "x-goog-api-key": "sk-quoted-back-1234"}  # fmt: skip
    async with simulator() as client:
        path, body = api.path(False), api.body("[sim:status=401] hi", False)
        forced = await client.post(path, json=body, headers=headers)
        assert forced.status == 401
        assert "sk-quoted-back-1234" in await forced.text()


@APIS
@run_async
async def test_hang_fault_and_directive(api: Api) -> None:
    async with simulator() as client:
        await put_fault(client, fault="hang", count=1)
        for text in ("fault", "[sim:hang] directive"):
            with pytest.raises(asyncio.TimeoutError):
                await client.post(
                    api.path(True),
                    json=api.body(text, True),
                    timeout=aiohttp.ClientTimeout(total=0.2),
                )


@APIS
@run_async
async def test_error_event(api: Api) -> None:
    async with simulator() as client:
        await put_fault(client, fault="error_event")
        streamed = await post(client, api, stream=True)
        whole = await post(client, api, stream=False)
        streamed_body = await streamed.read()
        whole_payload = orjson.loads(await whole.read())
    assert (streamed.status, streamed.headers["Connection"]) == (200, "close")
    if api is ANTHROPIC:
        ((name, payload),) = named_events(streamed_body)
        assert name == "error"
        assert payload == whole_payload
        assert payload["error"]["type"] == "overloaded_error"
    else:
        (payload,) = gemini_chunks(streamed_body)
        assert payload == whole_payload
        assert payload["error"]["status"] == "UNAVAILABLE"
    assert whole.status == 200


@APIS
@run_async
async def test_cut_stream_fault_counts_events_from_the_first(api: Api) -> None:
    async with simulator() as client:
        await put_fault(client, fault="cut_stream", after_chunks=2)
        received = await read_until_dropped(await post(client, api, stream=True))
    if api is ANTHROPIC:
        names = [name for name, _ in named_events(received)]
        assert names == ["message_start", "content_block_start"]
    else:
        texts = [
            chunk["candidates"][0]["content"]["parts"][0]["text"]
            for chunk in gemini_chunks(received)
        ]
        assert texts == ["Hello", " from"]


@APIS
@run_async
async def test_cut_directive_sends_at_most_n_tokens(api: Api) -> None:
    async with simulator() as client:
        received = await read_until_dropped(
            await post(client, api, stream=True, text="[sim:cut=2] go")
        )
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await post(client, api, stream=False, text="[sim:cut=0] go")
    if api is ANTHROPIC:
        events = named_events(received)
        assert [name for name, _ in events][:3] == ["message_start", "content_block_start", "ping"]
        assert [data["delta"]["text"] for _, data in events[3:]] == ["Hello", " from"]
    else:
        texts = [
            chunk["candidates"][0]["content"]["parts"][0]["text"]
            for chunk in gemini_chunks(received)
        ]
        assert texts == ["Hello", " from"]


@APIS
@run_async
async def test_a_late_cut_never_sends_the_last_event(api: Api) -> None:
    """A cut past the last token sends every token but nothing after them: no
    content_block_stop, no finish chunk."""
    async with simulator() as client:
        received = await read_until_dropped(
            await post(client, api, stream=True, text="Hi [sim:cut=999]")
        )
    if api is ANTHROPIC:
        events = named_events(received)
        assert "".join(data["delta"]["text"] for _, data in events[3:]) == (
            "Hello from Nimbus Cloud. You said: Hi"
        )
        assert events[-1][0] == "content_block_delta"
        return
    chunks = gemini_chunks(received)
    assert [chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks] == [
        "Hello", " from", " Nimbus", " Cloud", ".", " You", " said", ":", " Hi",
    ]  # fmt: skip
    assert all("finishReason" not in chunk["candidates"][0] for chunk in chunks)


@APIS
@run_async
async def test_malformed_json_fault_and_directive(api: Api) -> None:
    async with simulator() as client:
        await put_fault(client, fault="malformed_json", count=2)
        streamed = await (await post(client, api, stream=True)).read()
        whole = await (await post(client, api, stream=False)).read()
        directed = await (await post(client, api, stream=True, text="[sim:malformed]")).read()
    assert streamed == api.data_prefix + b"{not json" + api.separator
    assert whole == directed == b"{not json"


@APIS
@STREAMING
@run_async
async def test_slow_drip_sends_the_usual_answer_byte_by_byte(api: Api, stream: bool) -> None:
    async with simulator() as client:
        usual = await (await post(client, api, stream=stream, text="Hi")).read()
        await put_fault(client, fault="slow_drip", interval_ms=0)
        response = await post(client, api, stream=stream, text="Hi")
        pieces = [piece async for piece in response.content.iter_any()]
    body = b"".join(pieces)
    assert len(body) == len(usual)
    assert body.count(api.separator) == usual.count(api.separator)


@APIS
@run_async
async def test_huge_body_streaming_starts_like_a_data_event(api: Api) -> None:
    size = 200_003
    async with simulator() as client:
        await put_fault(client, fault="huge_body", size_bytes=size)
        body = await (await post(client, api, stream=True)).read()
    assert len(body) == size
    assert body.startswith(api.data_prefix + b'{"padding": "xxx')


@APIS
@run_async
async def test_random_failures_use_the_format_error_shape(api: Api) -> None:
    async with simulator(fault_scale=200) as client:
        response = await post(client, api, stream=False)
        payload = orjson.loads(await response.read())
    assert response.status == 500
    assert api.error_kind(payload) == ("api_error", "INTERNAL")[api is GEMINI]


@run_async
async def test_stats_count_every_format() -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_500", count=1)
        await post(client, ANTHROPIC, stream=False)
        await post(client, GEMINI, stream=True)
        await client.post(
            "/lumen/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
        )
        await client.post("/lumen/v1beta/models/g:generateContent", data=b"{not json")
        stats = orjson.loads(await (await client.get("/_stats")).read())
    assert stats["chat_requests"] == 4
    assert stats["by_provider"] == {"nimbus": 2, "lumen": 2}
    assert stats["by_api"] == {"messages": 1, "gemini": 2, "chat_completions": 1}
    assert stats["faults_served"] == {"nimbus": 1}


# --- the official Anthropic SDK sees the faults as Anthropic's errors --------------------


@run_async
async def test_anthropic_sdk_raises_on_a_429_and_on_an_error_event() -> None:
    async with simulator() as client:
        sdk = AsyncAnthropic(base_url=str(client.make_url("/nimbus")), api_key="x", max_retries=0)
        try:
            await put_fault(client, fault="http_429", count=1)
            with pytest.raises(RateLimitError) as limited:
                await sdk.messages.create(
                    model="claude-sim", max_tokens=9, messages=[{"role": "user", "content": "x"}]
                )
            await put_fault(client, fault="error_event", count=1)
            with pytest.raises(APIStatusError, match="overloaded_error"):
                async with sdk.messages.stream(
                    model="claude-sim", max_tokens=9, messages=[{"role": "user", "content": "x"}]
                ) as stream:
                    await stream.get_final_message()
        finally:
            await sdk.close()
    assert limited.value.body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Simulated HTTP 429."},
    }


@APIS
@run_async
async def test_token_events_are_paced_like_chat_chunks(api: Api) -> None:
    delay_s = 0.05
    async with simulator(latency_scale=0) as client:
        started = time.monotonic()
        response = await post(client, api, stream=True, text="Hi [sim:delay=50] [sim:slow=30]")
        arrivals = [time.monotonic() - started async for _ in response.content.iter_any()]
        whole_started = time.monotonic()
        await (await post(client, api, stream=False, text="Hi [sim:delay=50]")).read()
        whole_s = time.monotonic() - whole_started
    tokens = 9  # Hello from Nimbus Cloud. You said: Hi
    assert arrivals[-1] >= 0.03 + (tokens - 1) * delay_s
    assert whole_s >= (tokens - 1) * delay_s
