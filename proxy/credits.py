"""`GET /api/v1/credits`: what the key's account has bought and used, in USD."""

import orjson

from billing.money import format_usd
from billing.usage import credits_totals
from proxy.asgi_io import Receive, Scope, Send, header, send_response
from proxy.auth import authenticate
from proxy.gateway import Gateway


async def credits(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await authenticate(gateway.db, header(scope, b"authorization"))
    total_credits, total_usage = await credits_totals(gateway.db, user_id=principal.user_id)
    data = {
        "total_credits": orjson.Fragment(format_usd(total_credits)),
        "total_usage": orjson.Fragment(format_usd(total_usage)),
    }
    await send_response(send, 200, orjson.dumps({"data": data}))
