"""Operators' routes on the gateway's slim path: `/healthz` (the process is alive),
`/readyz` (it can serve: its database, Redis and broker answer, and it is not draining) and
`/metrics` (Prometheus). None is observed as an API request.

`/metrics` answers a request bearing `Authorization: Bearer <METRICS_TOKEN>`; with no token
configured, only a client connecting from a loopback address (a scraper on this machine).
A reverse proxy on the same machine makes every client look local: set the token then.
"""

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

import orjson
from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST

from proxy.asgi_io import JSON_HEADERS, Receive, Scope, Send, header, send_response
from proxy.errors import ApiError, Forbidden, MethodNotAllowed, Unauthorized
from proxy.gateway import Gateway
from proxy.metrics_scrape import metrics_text
from proxy.readiness import readiness_check

OpsHandler = Callable[[Gateway, Scope, Receive, Send], Awaitable[None]]


def _json(payload: object) -> bytes:
    return orjson.dumps(payload)


async def healthz(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    await send_response(send, 200, _json({"status": "ok"}))


async def readyz(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    results = await readiness_check(gateway.db)
    checks = {r.name: ("ok" if r.ok else f"error: {r.error}") for r in results}
    ready = all(r.ok for r in results) and not gateway.draining
    status = "ready" if ready else ("draining" if gateway.draining else "not ready")
    body = _json({"status": status, "draining": gateway.draining, "checks": checks})
    await send_response(send, 200 if ready else 503, body)


def _client_is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:  # a Unix socket's peer, say: not an address
        return False


def metrics_refusal(scope: Scope) -> ApiError | None:
    """Why this request may not read /metrics, or None if it may."""
    token: str = settings.METRICS_TOKEN
    if not token:
        if _client_is_loopback(scope):
            return None
        return Forbidden("Metrics are served to loopback clients only until METRICS_TOKEN is set")
    expected = f"Bearer {token}".encode()
    given = (header(scope, b"authorization") or "").encode("latin-1")
    return None if hmac.compare_digest(given, expected) else Unauthorized("Invalid metrics token")


async def metrics(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    refusal = metrics_refusal(scope)
    if refusal is not None:
        await send_response(send, refusal.status, refusal.body())
        return
    headers = ((b"content-type", CONTENT_TYPE_LATEST.encode()),)
    await send_response(send, 200, await metrics_text(gateway), headers=headers)


def _get_only(handler: OpsHandler) -> OpsHandler:
    async def guarded(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            error = MethodNotAllowed(f"Use GET for {scope['path']}")
            await send_response(send, error.status, error.body(), headers=JSON_HEADERS)
            return
        await handler(gateway, scope, receive, send)

    return guarded


OPS_ROUTES: dict[str, OpsHandler] = {
    "/healthz": _get_only(healthz),
    "/readyz": _get_only(readyz),
    "/metrics": _get_only(metrics),
}


def ops_route(path: str) -> OpsHandler | None:
    return OPS_ROUTES.get(path)
