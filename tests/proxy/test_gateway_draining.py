"""A draining gateway refuses new requests in OpenRouter's error shape and closes the
connection; probes still answer; its drain time ends with `drain_over()`."""

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from marketplace.asyncdb import DjangoConnectionDb
from proxy.app import GatewayApp
from proxy.asgi_io import Message, Scope
from proxy.catalog_cache import CatalogCache
from proxy.gateway import Gateway
from proxy.upstream import upstream_client_create


class Fallback:
    """Django's place: records the paths it was asked for and answers 200."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: object, send: object) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


async def _request(
    app: GatewayApp, path: str, method: str = "POST"
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    await app(scope, receive, send)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), body


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    db = DjangoConnectionDb()
    gateway = Gateway(db=db, client=upstream_client_create(), catalog=CatalogCache(db=db))
    yield gateway
    await gateway.client.close()


async def _draining_app(gateway: Gateway) -> tuple[GatewayApp, Fallback]:
    fallback = Fallback()
    app = GatewayApp(fallback=fallback)
    app._gateway = gateway
    await app.drain_begin(timeout_s=60)
    return app, fallback


async def test_a_request_reaching_a_draining_gateway_gets_503_and_a_closed_connection(gateway):
    app, fallback = await _draining_app(gateway)

    for path in ("/api/v1/chat/completions", "/api/v1/credits", "/dashboard/"):
        status, headers, body = await _request(app, path)
        assert status == 503
        assert headers[b"connection"] == b"close"
        assert headers[b"content-type"] == b"application/json"
        error = orjson.loads(body)["error"]
        assert error["code"] == 503
        assert "shutting down" in error["message"]
    assert fallback.paths == []  # nothing reached Django


async def test_probes_answer_for_themselves_while_draining(gateway):
    app, fallback = await _draining_app(gateway)

    assert (await _request(app, "/healthz", method="GET"))[0] == 200  # alive
    assert (await _request(app, "/readyz", method="GET"))[0] == 503  # but not ready
    assert fallback.paths == []


async def test_a_gateway_that_is_not_draining_serves_requests(gateway):
    fallback = Fallback()
    app = GatewayApp(fallback=fallback)
    app._gateway = gateway

    status, _, _ = await _request(app, "/dashboard/", method="GET")

    assert status == 200
    assert fallback.paths == ["/dashboard/"]


async def test_the_drain_is_over_after_its_time_and_not_before(gateway):
    over = gateway.drain_over()

    gateway.drain_begin(timeout_s=0.2)
    await asyncio.sleep(0.1)
    assert gateway.draining
    assert not over.done()
    gateway.drain_begin(timeout_s=0)  # a second signal does not cut the drain short
    await asyncio.sleep(0.05)
    assert not over.done()

    await asyncio.wait_for(over, timeout=1)
    assert gateway.drain_over() is over
