"""A request leaves none of the gateway's async generators for the garbage collector to close.

One dropped while suspended (an `async for` left by `return` or `break`) is closed by the event
loop from a task of its own, scheduled through the loop's thread-safe queue: a wake-up of the
loop, a task and three system calls on every request. The gateway closes its own.
"""

import gc
import sys
from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

import proxy
from proxy.app import GatewayApp

pytestmark = pytest.mark.django_db(transaction=True)

PROXY_DIR = str(Path(proxy.__file__).parent)


async def _no_fallback(scope, receive, send):
    raise AssertionError(f"{scope['path']} reached Django")


@pytest.fixture
def account(live_catalog, make_account):
    return make_account("1")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_completion_closes_its_async_generators(account, stream):
    left: list[str] = []
    hooks = sys.get_asyncgen_hooks()  # the running loop's
    assert hooks.finalizer is not None
    loop_finalizer = hooks.finalizer

    def finalizer(agen):
        if agen.ag_code.co_filename.startswith(PROXY_DIR):
            left.append(agen.ag_code.co_qualname)
        loop_finalizer(agen)

    sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=finalizer)
    app = GatewayApp(fallback=_no_fallback)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            for _ in range(3):
                response = await http.post(
                    "/api/v1/chat/completions",
                    json={
                        "model": "openai/gpt-4o-mini",
                        "messages": [{"role": "user", "content": "Hello"}],
                        "stream": stream,
                    },
                    headers={"Authorization": f"Bearer {account.api_key}"},
                )
                assert response.status_code == 200, response.text
                assert (b"data: [DONE]" in response.content) is stream
        gc.collect()
    finally:
        sys.set_asyncgen_hooks(*hooks)
        await (await app.gateway()).close()
        # The catalog loaded through sync_to_async: its worker thread's connection would keep
        # the test database from being dropped at the end of the session.
        await sync_to_async(connections.close_all)()

    assert left == []
