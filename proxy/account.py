"""Account routes of the API: `/credits`, `/generation?id=`, `/key` (OpenRouter's shapes).

Their numbers are read from the database on each request; only the key's identity may come
from the cache of authentications (none of them shows the principal's `available_nanos`).
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

from billing.models import Generation, LedgerEntry, Wallet
from billing.money import format_usd
from billing.usage import credits_totals
from catalog.models import Provider
from marketplace.asyncdb import db_datetime, db_time
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import period_start
from proxy.asgi_io import Receive, Scope, Send, header, send_response
from proxy.auth import KeyUse
from proxy.errors import InvalidRequest, NotFound, Unauthorized
from proxy.gateway import Gateway


def _usd(nanos: int) -> orjson.Fragment:
    return orjson.Fragment(format_usd(nanos))


async def credits(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await gateway.authenticate(header(scope, b"authorization"))
    total_credits, total_usage = await credits_totals(gateway.db, user_id=principal.user_id)
    data = {"total_credits": _usd(total_credits), "total_usage": _usd(total_usage)}
    await send_response(send, 200, orjson.dumps({"data": data}))


_GENERATION_COLUMNS = (
    "g.id, g.upstream_id, g.created_at, g.model_slug, COALESCE(p.name, g.provider_slug), "
    "g.streamed, g.cancelled, g.finish_reason, g.native_finish_reason, g.latency_ms, "
    "g.generation_time_ms, g.prompt_tokens, g.completion_tokens, g.cost_nanos, "
    "g.usage_estimated, g.is_byok"
)


def _generation_sql() -> str:
    return (
        f"SELECT {_GENERATION_COLUMNS} FROM {Generation._meta.db_table} g "
        f"LEFT JOIN {Provider._meta.db_table} p ON p.slug = g.provider_slug "
        "WHERE g.id = %s AND g.user_id = %s"
    )


def _timestamp(value: Any) -> str:
    """A database timestamp as ISO 8601 in UTC."""
    parsed = db_datetime(value)
    assert parsed is not None
    return parsed.isoformat()


def _generation_payload(row: tuple[Any, ...]) -> dict[str, Any]:
    (gen_id, upstream_id, created_at, model, provider, streamed, cancelled, finish, native_finish,
     latency, generation_time, prompt, completion, cost, estimated, is_byok) = row  # fmt: skip
    return {
        "id": gen_id,
        "upstream_id": upstream_id or None,
        "created_at": _timestamp(created_at),
        "model": model,
        "provider_name": provider,
        "streamed": bool(streamed),
        "cancelled": bool(cancelled),
        "finish_reason": finish or None,
        "native_finish_reason": native_finish or None,
        "latency": latency,
        "generation_time": generation_time,
        "tokens_prompt": prompt,
        "tokens_completion": completion,
        "native_tokens_prompt": prompt,
        "native_tokens_completion": completion,
        "usage_estimated": bool(estimated),
        "total_cost": _usd(cost),
        "usage": _usd(cost),
        "is_byok": bool(is_byok),
        "api_type": "completions",
    }


async def generation(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await gateway.authenticate(header(scope, b"authorization"))
    ids = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("id")
    if not ids or not ids[0]:
        raise InvalidRequest("The 'id' query parameter is required, e.g. ?id=gen-...")
    row = await gateway.db.fetchone(_generation_sql(), (ids[0], principal.user_id))
    if row is None:  # someone else's generations are as unknown as missing ones
        raise NotFound(f"Generation {ids[0]} not found")
    await send_response(send, 200, orjson.dumps({"data": _generation_payload(row)}))


def _key_sql() -> str:
    spend = f"FROM {Generation._meta.db_table} WHERE api_key_id = k.id AND created_at >= %s"
    return (
        "SELECT k.limit_nanos, k.limit_reset, k.usage_nanos, k.reserved_nanos, "
        "CASE WHEN k.period_start < %s THEN 0 ELSE k.period_usage_nanos END, "
        f"(SELECT COALESCE(SUM(cost_nanos), 0) {spend}), "
        f"(SELECT COALESCE(SUM(cost_nanos), 0) {spend}), "
        f"(SELECT COALESCE(SUM(cost_nanos), 0) {spend}), "
        f"EXISTS (SELECT 1 FROM {LedgerEntry._meta.db_table} e "
        f"JOIN {Wallet._meta.db_table} w ON w.id = e.wallet_id "
        "WHERE w.user_id = k.user_id AND e.kind = 'topup'), k.expires_at "
        f"FROM {ApiKey._meta.db_table} k WHERE k.id = %s"
    )


async def key_info(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    # Either kind of key may ask about itself.
    principal = await gateway.authenticate(header(scope, b"authorization"), use=KeyUse.ANY)
    now = datetime.now(UTC)
    since = [db_time(period_start(reset, now)) for reset in ("daily", "weekly", "monthly")]
    current = db_time(period_start(principal.limit_reset, now))
    row = await gateway.db.fetchone(_key_sql(), (current, *since, principal.api_key_id))
    if row is None:  # deleted since its lookup was cached, its notification on the way
        raise Unauthorized("Invalid API key")
    limit, reset, usage, reserved, period_usage, daily, weekly, monthly, bought, expires = row
    expires_at = db_datetime(expires)
    remaining = None if limit is None else max(limit - period_usage - reserved, 0)
    data = {
        "label": f"{principal.key_prefix}…",
        "limit": None if limit is None else _usd(limit),
        "limit_remaining": None if remaining is None else _usd(remaining),
        "limit_reset": reset or None,
        "usage": _usd(usage),
        "usage_daily": _usd(daily),
        "usage_weekly": _usd(weekly),
        "usage_monthly": _usd(monthly),
        "is_free_tier": not bought,
        "is_management_key": principal.is_management,
        "is_provisioning_key": principal.is_management,
        "include_byok_in_limit": False,
        "byok_usage": 0,
        "expires_at": None if expires_at is None else expires_at.isoformat(),
    }
    await send_response(send, 200, orjson.dumps({"data": data}))
