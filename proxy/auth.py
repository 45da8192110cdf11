"""Bearer-key authentication for the API: one indexed lookup by the key's keyed hash."""

import functools
from dataclasses import dataclass

from billing.models import Wallet
from marketplace.accounts.models import User
from marketplace.asyncdb import AsyncDb
from marketplace.keys.hashing import api_key_hash, api_key_looks_valid
from marketplace.keys.models import ApiKey
from proxy.asgi_io import Scope, header
from proxy.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, and what the gateway needs to know of its wallet and key limit."""

    api_key_id: int
    user_id: int
    key_prefix: str
    wallet_id: int | None
    # Balance minus reservations, as read at authentication (the hold re-checks atomically).
    available_nanos: int
    limit_nanos: int | None
    limit_reset: str


@functools.cache
def _lookup_sql() -> str:
    return (
        "SELECT k.id, k.user_id, k.prefix, w.id, "
        "COALESCE(w.balance_nanos - w.reserved_nanos, 0), k.limit_nanos, k.limit_reset "
        f"FROM {ApiKey._meta.db_table} k "
        f"JOIN {User._meta.db_table} u ON u.id = k.user_id "
        f"LEFT JOIN {Wallet._meta.db_table} w ON w.user_id = k.user_id "
        "WHERE k.key_hash = %s AND k.revoked_at IS NULL AND u.is_active"
    )


def api_key_header(scope: Scope) -> str | None:
    """The `Authorization` header; Anthropic's clients send the key as `x-api-key` instead."""
    authorization = header(scope, b"authorization")
    if authorization is None:
        api_key = header(scope, b"x-api-key")
        return f"Bearer {api_key}" if api_key else None
    return authorization


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Missing API key: send it as 'Authorization: Bearer <key>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Malformed Authorization header: expected 'Bearer <key>'")
    return token.strip()


async def authenticate(db: AsyncDb, authorization: str | None) -> Principal:
    token = bearer_token(authorization)
    # A malformed key is refused without touching the database.
    if not api_key_looks_valid(token):
        raise Unauthorized("Invalid API key")
    row = await db.fetchone(_lookup_sql(), (api_key_hash(token),))
    if row is None:
        raise Unauthorized("Invalid API key")
    key_id, user_id, prefix, wallet_id, available, limit, reset = row
    return Principal(
        api_key_id=key_id,
        user_id=user_id,
        key_prefix=prefix,
        wallet_id=wallet_id,
        available_nanos=int(available),
        limit_nanos=limit,
        limit_reset=reset,
    )
