"""The control API over HTTP: setting, listing and clearing provider faults, and each fault
as a client sees it on the wire, streaming and not."""

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import make_mocked_request

from proxy.simulator.app import make_app
from proxy.simulator.app_state import FAULTS_KEY
from proxy.simulator.faults import error_event_body
from tests.proxy.simulator.helpers import (
    Client,
    JsonDict,
    chat,
    post_chat,
    run_async,
    simulator,
    sse_payloads,
    stream_chat,
)

CHAT_PATH = "/nimbus/v1/chat/completions"


async def put_fault(client: Client, slug: str = "nimbus", **body: Any) -> JsonDict:
    response = await client.put(f"/_control/providers/{slug}", json=body)
    assert response.status == 200
    stored: JsonDict = orjson.loads(await response.read())
    return stored


async def listed_faults(client: Client) -> JsonDict:
    response = await client.get("/_control/providers")
    assert response.status == 200
    listing: JsonDict = orjson.loads(await response.read())
    return listing


async def stats(client: Client) -> JsonDict:
    payload: JsonDict = orjson.loads(await (await client.get("/_stats")).read())
    return payload


async def post(client: Client, *, stream: bool, **extra: Any) -> aiohttp.ClientResponse:
    return await client.post(CHAT_PATH, json=chat("Hi there!", stream=stream, **extra))


async def read_lines(response: aiohttp.ClientResponse, into: list[bytes]) -> None:
    async for line in response.content:
        into.append(line)


async def read_until_dropped(response: aiohttp.ClientResponse) -> bytes:
    received: list[bytes] = []
    with pytest.raises(aiohttp.ClientPayloadError):
        await read_lines(response, into=received)
    return b"".join(received)


STREAMING = pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])


# --- the API ---------------------------------------------------------------------------


@run_async
async def test_put_answers_with_the_stored_fault() -> None:
    async with simulator() as client:
        stored = await put_fault(client, fault="http_429", retry_after=4, count=2)
        assert stored == {"fault": "http_429", "retry_after": 4, "count": 2}
        assert await listed_faults(client) == {"nimbus": stored}


@run_async
async def test_put_replaces_the_previous_fault_and_get_lists_every_provider() -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_500", count=5)
        await put_fault(client, "lumen", fault="cut_stream", after_chunks=2)
        await put_fault(client, fault="http_503")
        assert await listed_faults(client) == {
            "nimbus": {"fault": "http_503", "count": None},
            "lumen": {"fault": "cut_stream", "after_chunks": 2, "count": None},
        }
        assert (await post(client, stream=False)).status == 503


@run_async
async def test_delete_clears_one_provider_and_is_idempotent() -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_500")
        await put_fault(client, "lumen", fault="http_500")
        for _ in range(2):
            response = await client.delete("/_control/providers/nimbus")
            assert response.status == 200
        assert await listed_faults(client) == {"lumen": {"fault": "http_500", "count": None}}
        assert (await post(client, stream=False)).status == 200


@run_async
async def test_delete_all_clears_every_provider() -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_500")
        await put_fault(client, "lumen", fault="hang")
        response = await client.delete("/_control/providers")
        assert (response.status, orjson.loads(await response.read())) == (200, {})
        assert await listed_faults(client) == {}
        await post_chat(client, chat(), provider="lumen")


@run_async
async def test_a_fault_hits_only_its_provider() -> None:
    async with simulator() as client:
        await put_fault(client, "lumen", fault="http_500")
        await post_chat(client, chat(), provider="nimbus")
        response = await client.post("/lumen/v1/chat/completions", json=chat())
        assert response.status == 500


@run_async
async def test_a_counted_fault_expires_and_stats_count_it() -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_503", count=2)
        first = await post(client, stream=True)
        assert await listed_faults(client) == {"nimbus": {"fault": "http_503", "count": 1}}
        statuses = [first.status] + [(await post(client, stream=False)).status for _ in range(3)]
        assert statuses == [503, 503, 200, 200]
        assert await listed_faults(client) == {}
        counts = await stats(client)
    assert counts["by_provider"] == {"nimbus": 4}
    assert counts["faults_served"] == {"nimbus": 2}


@run_async
async def test_an_unparsable_chat_request_does_not_use_up_the_fault() -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_500", count=1)
        assert (await client.post(CHAT_PATH, data=b"{not json")).status == 400
        assert (await post(client, stream=False)).status == 500
        assert (await stats(client))["by_provider"] == {"nimbus": 2}


@run_async
async def test_a_provider_fault_wins_over_the_message_directives() -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_503")
        response = await client.post(CHAT_PATH, json=chat("[sim:status=401] [sim:hang]"))
        assert response.status == 503


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'["http_500"]',
        b'{"fault": "meltdown"}',
        b'{"fault": "http_500", "count": 0}',
        b'{"fault": "http_500", "after_chunks": 2}',
        b'{"fault": "http_429", "retry_after": -1}',
        b'{"fault": "slow_drip", "interval_ms": "fast"}',
    ],
)
@run_async
async def test_invalid_fault_bodies_are_400s_and_change_nothing(body: bytes) -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_503")
        response = await client.put("/_control/providers/nimbus", data=body)
        assert (response.status, response.content_type) == (400, "application/json")
        error = orjson.loads(await response.read())["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"]
        assert await listed_faults(client) == {"nimbus": {"fault": "http_503", "count": None}}


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@run_async
async def test_unknown_provider_is_a_404(method: str) -> None:
    async with simulator() as client:
        response = await client.request(
            method, "/_control/providers/nope", json={"fault": "http_500"}
        )
        assert response.status == 404
        assert "nope" in orjson.loads(await response.read())["error"]["message"]
        assert await listed_faults(client) == {}


CONTROL_ROUTES = [
    ("GET", "/_control/providers"),
    ("DELETE", "/_control/providers"),
    ("PUT", "/_control/providers/nimbus"),
    ("DELETE", "/_control/providers/nimbus"),
]


@pytest.mark.parametrize(("method", "path"), CONTROL_ROUTES)
@run_async
async def test_only_loopback_peers_may_use_the_control_api(method: str, path: str) -> None:
    app = make_app(latency_scale=0, fault_scale=0)
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    for remote, status in [("203.0.113.7", 403), ("::ffff:10.0.0.2", 403), ("::1", None)]:
        request = make_mocked_request(method, path, app=app, match_info=match)
        response = await match.handler(request.clone(remote=remote))
        if status is not None:
            assert response.status == status
        else:
            assert response.status != 403
    assert app[FAULTS_KEY].faults() == {}


# --- the faults on the wire ------------------------------------------------------------


@STREAMING
@run_async
async def test_hang_sends_no_headers_until_the_client_gives_up(stream: bool) -> None:
    async with simulator() as client:
        await put_fault(client, fault="hang")
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await client.post(
                CHAT_PATH,
                json=chat(stream=stream),
                timeout=aiohttp.ClientTimeout(total=0.3),
            )
        assert time.monotonic() - started >= 0.3
        assert (await stats(client))["faults_served"] == {"nimbus": 1}


@pytest.mark.parametrize("status", [500, 503])
@STREAMING
@run_async
async def test_http_5xx_is_an_openai_server_error(status: int, stream: bool) -> None:
    async with simulator() as client:
        await put_fault(client, fault=f"http_{status}")
        response = await post(client, stream=stream)
        assert (response.status, response.content_type) == (status, "application/json")
        assert "Retry-After" not in response.headers
        error = orjson.loads(await response.read())["error"]
    assert (error["type"], error["code"]) == ("server_error", None)


@pytest.mark.parametrize(("options", "retry_after"), [({}, "1"), ({"retry_after": 7}, "7")])
@STREAMING
@run_async
async def test_http_429_says_when_to_retry(
    options: JsonDict, retry_after: str, stream: bool
) -> None:
    async with simulator() as client:
        await put_fault(client, fault="http_429", **options)
        response = await post(client, stream=stream)
        assert (response.status, response.headers["Retry-After"]) == (429, retry_after)
        assert orjson.loads(await response.read())["error"]["type"] == "rate_limit_error"


@run_async
async def test_error_event_streaming_is_one_error_event_then_the_end() -> None:
    async with simulator() as client:
        await put_fault(client, fault="error_event")
        response = await post(client, stream=True)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Connection"] == "close"
        body = await response.read()
    assert body == b"data: " + orjson.dumps(error_event_body()) + b"\n\n"
    assert orjson.loads(sse_payloads(body)[0]) == {
        "error": {"message": "Simulated upstream error event.", "code": 502, "type": "server_error"}
    }


@run_async
async def test_error_event_whole_is_a_200_error_body() -> None:
    async with simulator() as client:
        await put_fault(client, fault="error_event")
        response = await post(client, stream=False)
        assert (response.status, response.content_type) == (200, "application/json")
        assert orjson.loads(await response.read()) == error_event_body()


@pytest.mark.parametrize("after_chunks", [0, 1, 3])
@run_async
async def test_cut_stream_sends_after_chunks_events_counting_the_role_chunk(
    after_chunks: int,
) -> None:
    async with simulator() as client:
        await put_fault(client, fault="cut_stream", after_chunks=after_chunks)
        response = await post(client, stream=True)
        assert response.status == 200
        received = await read_until_dropped(response)
    chunks = [orjson.loads(payload) for payload in sse_payloads(received)]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    expected = [{"role": "assistant", "content": ""}, {"content": "Hello"}, {"content": " from"}]
    assert deltas == expected[:after_chunks]


@run_async
async def test_cut_stream_never_sends_done_however_late_the_cut() -> None:
    async with simulator() as client:
        whole = await stream_chat(client, chat(stream_options={"include_usage": True}))
        await put_fault(client, fault="cut_stream", after_chunks=1000)
        response = await post(client, stream=True, stream_options={"include_usage": True})
        received = await read_until_dropped(response)
    cut = sse_payloads(received)
    assert len(cut) == len(whole) - 1
    assert b"[DONE]" not in cut
    assert orjson.loads(cut[-1])["usage"] == orjson.loads(whole[-2])["usage"]


@run_async
async def test_cut_stream_whole_sends_headers_then_drops() -> None:
    async with simulator() as client:
        await put_fault(client, fault="cut_stream", count=1)
        response = await post(client, stream=False)
        assert (response.status, response.content_type) == (200, "application/json")
        assert response.content_length is not None
        assert response.content_length > 0
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
        assert (await post(client, stream=False)).status == 200


@run_async
async def test_malformed_json_streaming_is_one_broken_event() -> None:
    async with simulator() as client:
        await put_fault(client, fault="malformed_json")
        response = await post(client, stream=True)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Connection"] == "close"
        assert await response.read() == b"data: {not json\n\n"


@run_async
async def test_malformed_json_whole_is_a_broken_body() -> None:
    async with simulator() as client:
        await put_fault(client, fault="malformed_json")
        response = await post(client, stream=False)
        assert (response.status, response.content_type) == (200, "application/json")
        assert await response.read() == b"{not json"


async def read_pieces(response: aiohttp.ClientResponse) -> list[bytes]:
    return [piece async for piece in response.content.iter_any()]


@STREAMING
@run_async
async def test_slow_drip_sends_the_usual_answer_byte_by_byte(stream: bool) -> None:
    interval_s = 0.001
    async with simulator() as client:
        usual = await (await post(client, stream=stream, max_tokens=1)).read()
        await put_fault(client, fault="slow_drip", interval_ms=1)
        started = time.monotonic()
        response = await post(client, stream=stream, max_tokens=1)
        assert response.status == 200
        pieces = await read_pieces(response)
        elapsed = time.monotonic() - started
    body = b"".join(pieces)
    # Same answer but for its id and timestamp.
    assert len(body) == len(usual)
    if stream:
        assert sse_payloads(body)[-1] == b"[DONE]"
        assert len(sse_payloads(body)) == len(sse_payloads(usual))
    else:
        assert orjson.loads(body)["choices"] == orjson.loads(usual)["choices"]
    assert elapsed >= (len(body) - 1) * interval_s
    assert len(pieces) > len(body) // 4


@run_async
async def test_huge_body_whole_is_exactly_size_bytes_of_padding() -> None:
    size = 1024 * 1024 + 21
    async with simulator() as client:
        await put_fault(client, fault="huge_body", size_bytes=size)
        response = await post(client, stream=False)
        assert (response.status, response.content_length) == (200, size)
        body = await response.read()
    assert len(body) == size
    assert body.startswith(b'{"padding": "xxxx')
    assert orjson.loads(body) == {"padding": "x" * (size - len(b'{"padding": ""}'))}


@run_async
async def test_huge_body_streaming_is_one_data_line_that_never_ends() -> None:
    size = 300_007
    async with simulator() as client:
        await put_fault(client, fault="huge_body", size_bytes=size)
        response = await post(client, stream=True)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        body = await response.read()
    assert len(body) == size
    assert body.startswith(b'data: {"padding": "xxxx')
    assert b"\n" not in body
