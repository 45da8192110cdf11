"""The simulator's request statistics: what reached it, and streams its client left."""

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from proxy.simulator.app import make_app
from tests.proxy.simulator.helpers import (
    JsonDict,
    chat,
    post_chat,
    run_async,
    simulator,
)

# --- HTTP: plumbing --------------------------------------------------------------------


async def test_stats_count_chat_requests_per_provider() -> None:
    async with simulator() as client:
        await post_chat(client, chat())
        await post_chat(client, chat(), provider="lumen")
        await post_chat(client, chat(), provider="lumen")
        response = await client.get("/_stats")
        payload = orjson.loads(await response.read())
    assert payload == {
        "chat_requests": 3,
        "by_provider": {"nimbus": 1, "lumen": 2},
        "by_api": {"chat_completions": 3},
        "embedding_requests": {},
        "faults_served": {},
        "abandoned_streams": 0,
        "auth_sha256": {"nimbus": [""], "lumen": ["", ""]},  # no credential sent
    }


async def test_stats_keep_only_the_sha256_of_each_credential() -> None:
    async with simulator() as client:
        for key in ("sk-one", "sk-two"):
            headers = {"Authorization": f"Bearer {key}"}
            await client.post("/nimbus/v1/chat/completions", json=chat(), headers=headers)
        response = await client.get("/_stats")
        text = (await response.read()).decode()
    assert "sk-one" not in text
    assert orjson.loads(text)["auth_sha256"]["nimbus"] == [
        hashlib.sha256(b"sk-one").hexdigest(),
        hashlib.sha256(b"sk-two").hexdigest(),
    ]


@contextlib.asynccontextmanager
async def served(*, handler_cancellation: bool) -> AsyncIterator[str]:
    """The simulator on a real socket, with or without aiohttp's handler cancellation."""
    runner = web.AppRunner(
        make_app(latency_scale=0, fault_scale=0),
        handler_cancellation=handler_cancellation,
        access_log=None,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def stats_when(
    session: aiohttp.ClientSession, url: str, done: Callable[[JsonDict], bool]
) -> JsonDict:
    deadline = time.monotonic() + 5
    while True:
        async with session.get(f"{url}/_stats") as response:
            payload: JsonDict = orjson.loads(await response.read())
        if done(payload) or time.monotonic() > deadline:
            return payload
        await asyncio.sleep(0.02)


# With handler cancellation (as `serve` runs it) aiohttp cancels the handler when the peer
# leaves; without it, the next write fails. Either way the stream counts as abandoned.
@pytest.mark.parametrize("handler_cancellation", [True, False], ids=["cancelled", "write-fails"])
@run_async
async def test_a_stream_the_client_leaves_mid_way_is_counted(handler_cancellation: bool) -> None:
    async with (
        served(handler_cancellation=handler_cancellation) as url,
        aiohttp.ClientSession() as session,
    ):
        endpoint = f"{url}/nimbus/v1/chat/completions"
        async with session.post(endpoint, json=chat("all of it", stream=True)) as whole:
            assert (await whole.read()).endswith(b"data: [DONE]\n\n")
        async with session.post(endpoint, json=chat("[sim:cut=2] cut", stream=True)) as cut:
            with pytest.raises(aiohttp.ClientPayloadError):
                await cut.read()
        text = "[sim:delay=50] " + "a long story " * 20
        async with session.post(endpoint, json=chat(text, stream=True)) as left:
            assert (await left.content.readline()).startswith(b"data: ")
            left.close()  # drops the connection mid-stream

        stats = await stats_when(session, url, lambda s: s["abandoned_streams"] > 0)
    assert stats["abandoned_streams"] == 1
    assert stats["chat_requests"] == 3
