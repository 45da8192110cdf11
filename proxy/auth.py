"""Bearer-key authentication for the API: one indexed lookup by the key's keyed hash, served
from the process's cache of lookups when given one (routes authenticate through the gateway's:
`Gateway.authenticate`, proxy/key_cache.py)."""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from billing.models import Wallet
from marketplace.accounts.models import User
from marketplace.asyncdb import AsyncDb, db_datetime
from marketplace.keys.hashing import api_key_hash, api_key_looks_valid
from marketplace.keys.models import ApiKey
from proxy.asgi_io import Scope, header
from proxy.errors import Forbidden, Unauthorized
from proxy.key_cache import KeyCache, KeyRecord
from proxy.metrics import AUTH_LOOKUPS


class KeyUse(Enum):
    """What a route lets a key do: inference keys call models, management keys manage keys."""

    INFERENCE = "inference"
    MANAGEMENT = "management"
    ANY = "any"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, and what the gateway needs to know of its wallet and key limit."""

    api_key_id: int
    user_id: int
    key_prefix: str
    wallet_id: int | None
    # Balance minus reservations as read at authentication, which may have been served from
    # the cache of lookups (proxy/key_cache.py): an estimate, the hold re-checks atomically.
    available_nanos: int
    limit_nanos: int | None
    limit_reset: str
    is_management: bool


@functools.cache
def _lookup_sql() -> str:
    return (
        "SELECT k.id, k.user_id, k.prefix, w.id, "
        "COALESCE(w.balance_nanos - w.reserved_nanos, 0), k.limit_nanos, k.limit_reset, "
        "k.is_management, k.disabled, k.expires_at "
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


def _refuse_unusable(*, disabled: bool, expires_at: datetime | None) -> None:
    if disabled:
        raise Unauthorized("This key is disabled")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise Unauthorized(f"This key expired at {expires_at.isoformat()}")


def _refuse_wrong_use(*, is_management: bool, use: KeyUse) -> None:
    if use is KeyUse.INFERENCE and is_management:
        raise Forbidden("Management keys cannot call models: use an inference key")
    if use is KeyUse.MANAGEMENT and not is_management:
        raise Forbidden("This route needs a management key (create one on the dashboard)")


_FROM_CACHE = AUTH_LOOKUPS.labels(source="cache")
_FROM_DATABASE = AUTH_LOOKUPS.labels(source="database")


async def _key_lookup(db: AsyncDb, key_hash: str) -> KeyRecord | None:
    row = await db.fetchone(_lookup_sql(), (key_hash,))
    _FROM_DATABASE.inc()
    if row is None:
        return None
    key_id, user_id, prefix, wallet_id, available, limit, reset, management, disabled, expires = row
    principal = Principal(
        api_key_id=key_id,
        user_id=user_id,
        key_prefix=prefix,
        wallet_id=wallet_id,
        available_nanos=int(available),
        limit_nanos=limit,
        limit_reset=reset,
        is_management=bool(management),
    )
    return KeyRecord(principal, disabled=bool(disabled), expires_at=db_datetime(expires))


async def _key_record(db: AsyncDb, key_hash: str, cache: KeyCache | None) -> KeyRecord | None:
    if cache is None:
        return await _key_lookup(db, key_hash)
    cached = cache.get(key_hash)
    if cached is not None:
        _FROM_CACHE.inc()
        return cached
    return await cache.lookup(key_hash, lambda: _key_lookup(db, key_hash))


async def authenticate(
    db: AsyncDb,
    authorization: str | None,
    *,
    use: KeyUse = KeyUse.INFERENCE,
    cache: KeyCache | None = None,
) -> Principal:
    """The key's principal, if the key may be used now for `use` (401 if not at all, 403 if
    not for this). With `cache`, the lookup may come from it; its wallet balance may then be a
    few seconds old, which is safe (see proxy/key_cache.py)."""
    token = bearer_token(authorization)
    # A malformed key is refused without touching the database.
    if not api_key_looks_valid(token):
        raise Unauthorized("Invalid API key")
    record = await _key_record(db, api_key_hash(token), cache)
    if record is None:
        raise Unauthorized("Invalid API key")
    # Checked on every request, cached or not: a key expires while its row is cached.
    _refuse_unusable(disabled=record.disabled, expires_at=record.expires_at)
    _refuse_wrong_use(is_management=record.principal.is_management, use=use)
    return record.principal
