"""The gateway's ASGI app: its own routes on a slim path, everything else to Django."""

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable

from proxy.account import credits, generation, key_info
from proxy.asgi_io import JSON_HEADERS, Message, Receive, Scope, Send, send_response
from proxy.chat import chat_completions
from proxy.embeddings import embeddings
from proxy.endpoints_api import ENDPOINTS_ROUTE, is_endpoints_path, model_endpoints
from proxy.errors import ApiError, ClientDisconnected, MethodNotAllowed, ShuttingDown
from proxy.gateway import Gateway, gateway_create
from proxy.health_reader import HEALTH_STORE_SCOPE_KEY
from proxy.keys_api import keys_route, keys_route_label
from proxy.messages import messages
from proxy.observe import observe_request
from proxy.ops_api import ops_route
from proxy.text_completions import text_completions

logger = logging.getLogger(__name__)

Handler = Callable[[Gateway, Scope, Receive, Send], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTES: dict[str, tuple[str, Handler]] = {
    "/api/v1/chat/completions": ("POST", chat_completions),
    "/api/v1/completions": ("POST", text_completions),
    "/api/v1/embeddings": ("POST", embeddings),
    "/api/v1/messages": ("POST", messages),
    "/api/v1/credits": ("GET", credits),
    "/api/v1/generation": ("GET", generation),
    "/api/v1/key": ("GET", key_info),
}


# Probes (and metrics) answer for themselves while the gateway drains: readiness reports it.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _route(path: str, method: str) -> tuple[str, Handler] | None:
    route = ROUTES.get(path)
    if route is None and is_endpoints_path(path):
        return "GET", model_endpoints
    return route or keys_route(path, method)  # /keys and /keys/{hash}: several methods


def _route_label(path: str) -> str:
    """The route's path as a bounded metrics label (templates for paths with ids in them)."""
    if path in ROUTES:
        return path
    return ENDPOINTS_ROUTE if is_endpoints_path(path) else keys_route_label(path)


# What a client that went away before its answer is counted as (nginx's convention).
CLIENT_CLOSED_REQUEST = 499


class _ResponseTracker:
    """Remembers whether the response has started, so errors are reported the right way, and
    with which status."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.status = CLIENT_CLOSED_REQUEST

    async def __call__(self, message: Message) -> None:
        if not self.started:
            self.started = True
            self.status = int(message.get("status", 200))
        await self._send(message)


async def _refuse_while_draining(send: Send) -> None:
    """A request that reached a draining gateway on a connection opened before: 503, and the
    connection is closed so that the client's retry goes elsewhere."""
    error = ShuttingDown("The server is shutting down: retry the request")
    await send_response(send, error.status, error.body(), headers=(*JSON_HEADERS, *error.headers))


class GatewayApp:
    def __init__(self, *, fallback: ASGIApp) -> None:
        self.fallback = fallback
        self._gateway: Gateway | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        draining = self._gateway is not None and self._gateway.draining
        if draining and scope["type"] == "http" and scope["path"] not in PROBE_PATHS:
            await _refuse_while_draining(send)
            return
        route = _route(scope["path"], scope["method"]) if scope["type"] == "http" else None
        if route is not None:
            await self._dispatch(route, scope, receive, send)
            return
        ops = ops_route(scope["path"]) if scope["type"] == "http" else None
        if ops is not None:  # /metrics, /healthz, /readyz: not API requests, not observed
            await ops(await self.gateway(), scope, receive, send)
            return
        await self.fallback(self._with_health_store(scope), receive, send)

    async def _dispatch(
        self, route: tuple[str, Handler], scope: Scope, receive: Receive, send: Send
    ) -> None:
        method, handler = route
        started_at = time.monotonic()
        tracked = _ResponseTracker(send)
        try:
            if scope["method"] != method:
                raise MethodNotAllowed(f"Use {method} for {scope['path']}")
            await handler(await self.gateway(), scope, receive, tracked)
        except ClientDisconnected:
            pass
        except ApiError as error:
            if not tracked.started:
                headers = (*JSON_HEADERS, *error.headers)
                await send_response(tracked, error.status, error.body(), headers=headers)
        except Exception:
            logger.exception("unhandled error on %s", scope["path"])
            if not tracked.started:
                await send_response(tracked, 500, ApiError("Internal server error").body())
        status, label = tracked.status, _route_label(scope["path"])
        observe_request(scope, route=label, status=status, started_at=started_at)

    def _with_health_store(self, scope: Scope) -> Scope:
        """Django's pages show provider health, which without Redis only this gateway's memory
        holds: its store goes along with each request passed on (see proxy.health_reader)."""
        if self._gateway is None or scope["type"] != "http":
            return scope
        return {**scope, HEALTH_STORE_SCOPE_KEY: self._gateway.health.store}

    async def drain_begin(self, *, timeout_s: float) -> None:
        """Refuse new requests; streams still open after `timeout_s` end (marketplace.serve)."""
        (await self.gateway()).drain_begin(timeout_s=timeout_s)

    async def gateway(self) -> Gateway:
        if self._gateway is None:
            async with self._lock:
                if self._gateway is None:
                    self._gateway = gateway_create()
                    self._gateway.start_prober()
                    self._gateway.start_auth_listener()
                    if self._gateway.leases is not None:
                        self._gateway.leases.start()
        return self._gateway

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Everything loaded so far (Django, the app) lives as long as the process: out of
                # the garbage collector's sight, a full collection no longer walks it, which
                # took milliseconds in the middle of requests.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._gateway is not None:
                    await self._gateway.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
