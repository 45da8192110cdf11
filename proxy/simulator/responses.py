"""Plain JSON responses, and errors in the shape of the API that was called (OpenAI's unless
said otherwise)."""

import orjson
from aiohttp import web

from proxy.simulator.openai_wire import OPENAI
from proxy.simulator.wire import WireFormat


def json_response(
    payload: dict[str, object], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, headers=headers, content_type="application/json"
    )


def error_response(
    status: int, message: str, *, wire: WireFormat = OPENAI, retry_after_s: int = 1
) -> web.Response:
    headers = {"Retry-After": str(retry_after_s)} if status == 429 else None
    return json_response(wire.error_body(status, message), status=status, headers=headers)


def unknown_provider_response(slug: str, *, wire: WireFormat = OPENAI) -> web.Response:
    return error_response(404, f"Unknown simulated provider '{slug}'.", wire=wire)
