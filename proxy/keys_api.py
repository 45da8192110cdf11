"""Key provisioning, OpenRouter's `/api/v1/keys`: a management key lists, creates, changes and
deletes its account's inference keys.

Not the hot path: after the gateway's one-query authentication, each route runs the keys
selectors and services (sync ORM) in asgiref's thread. A key's public id (`hash`) is its stored
HMAC, which cannot be turned back into the key nor used in its place.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import orjson
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from billing.money import MoneyError, format_usd, usd_to_nanos
from marketplace.accounts.models import User
from marketplace.keys.models import ApiKey
from marketplace.keys.selectors import api_key_spends, api_keys_listed, inference_key_of
from marketplace.keys.services import (
    UNCHANGED,
    Unchanged,
    api_key_create,
    api_key_revoke,
    api_key_update,
)
from proxy.asgi_io import Receive, Scope, Send, header, read_body, send_response
from proxy.auth import KeyUse, Principal
from proxy.errors import InvalidRequest, MethodNotAllowed, NotFound
from proxy.gateway import Gateway

KEYS_PATH = "/api/v1/keys"
PAGE_SIZE = 100
NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length or 100
LIMIT_MAX_NANOS = usd_to_nanos(1_000_000_000)
LIMIT_RESETS = ("daily", "weekly", "monthly")
# OpenRouter's fields without a meaning here (there is no BYOK): accepted and ignored.
IGNORED_FIELDS = frozenset({"include_byok_in_limit"})
CREATE_FIELDS = frozenset({"name", "limit", "limit_reset", "expires_at"}) | IGNORED_FIELDS
PATCH_FIELDS = frozenset({"name", "disabled", "limit", "limit_reset"}) | IGNORED_FIELDS

Handler = Callable[[Gateway, Scope, Receive, Send], Awaitable[None]]
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class KeyCreate:
    name: str
    limit_nanos: int | None
    limit_reset: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeyPatch:
    name: str | Unchanged = UNCHANGED
    disabled: bool | Unchanged = UNCHANGED
    limit_nanos: int | Unchanged | None = UNCHANGED
    limit_reset: str | Unchanged = UNCHANGED


# Parsing: every refusal is a 400 naming the field.


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"'{field}' {message}", metadata={"field": field})


def _json_object(body: bytes, *, allowed: frozenset[str]) -> Json:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object")
    for field in value:
        if field not in allowed:
            raise _invalid(field, "is not a field of this request")
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid("name", "must be a non-empty string")
    if len(value.strip()) > NAME_MAX_LENGTH:
        raise _invalid("name", f"must be at most {NAME_MAX_LENGTH} characters")
    return value.strip()


def _limit_nanos(value: object) -> int | None:
    """USD as a JSON number (or null: no limit). A float's shortest repr is the decimal sent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid("limit", "must be a number of USD or null")
    try:
        nanos = usd_to_nanos(Decimal(repr(value)) if isinstance(value, float) else value)
    except MoneyError:
        raise _invalid("limit", "must be a finite amount of USD with at most 9 decimals") from None
    if not 0 <= nanos <= LIMIT_MAX_NANOS:
        raise _invalid("limit", f"must be between 0 and {format_usd(LIMIT_MAX_NANOS)}")
    return nanos


def _limit_reset(value: object) -> str:
    if value is None:
        return ""
    if value not in LIMIT_RESETS:
        raise _invalid("limit_reset", "must be one of daily, weekly, monthly, or null")
    return str(value)


def _utc(text: str) -> datetime | None:
    """An ISO 8601 time in UTC (without an offset it is taken as UTC); None if it is not one."""
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _expires_at(value: object, *, now: datetime) -> datetime | None:
    if value is None:
        return None
    parsed = _utc(value) if isinstance(value, str) else None
    if parsed is None:
        raise _invalid("expires_at", "must be an ISO 8601 time, e.g. 2030-01-31T00:00:00Z")
    if parsed <= now:
        raise _invalid("expires_at", "must be in the future")
    return parsed


def key_create_parse(body: bytes, *, now: datetime) -> KeyCreate:
    fields = _json_object(body, allowed=CREATE_FIELDS)
    if "name" not in fields:
        raise _invalid("name", "is required")
    return KeyCreate(
        name=_name(fields["name"]),
        limit_nanos=_limit_nanos(fields.get("limit")),
        limit_reset=_limit_reset(fields.get("limit_reset")),
        expires_at=_expires_at(fields.get("expires_at"), now=now),
    )


def key_patch_parse(body: bytes) -> KeyPatch:
    fields = _json_object(body, allowed=PATCH_FIELDS)
    disabled = fields.get("disabled", UNCHANGED)
    if disabled is not UNCHANGED and not isinstance(disabled, bool):
        raise _invalid("disabled", "must be true or false")
    return KeyPatch(
        name=_name(fields["name"]) if "name" in fields else UNCHANGED,
        disabled=disabled,
        limit_nanos=_limit_nanos(fields["limit"]) if "limit" in fields else UNCHANGED,
        limit_reset=_limit_reset(fields["limit_reset"]) if "limit_reset" in fields else UNCHANGED,
    )


def _query(scope: Scope) -> Mapping[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


def _offset(query: Mapping[str, list[str]]) -> int:
    text = query.get("offset", ["0"])[0]
    if not text.isdigit():
        raise _invalid("offset", "must be a non-negative integer")
    return int(text)


def _include_disabled(query: Mapping[str, list[str]]) -> bool:
    text = query.get("include_disabled", ["false"])[0].lower()
    if text not in ("true", "false", "1", "0"):
        raise _invalid("include_disabled", "must be true or false")
    return text in ("true", "1")


# The answer's shape: OpenRouter's key object, money as exact decimals.


def _usd(nanos: int | None) -> orjson.Fragment | None:
    return None if nanos is None else orjson.Fragment(format_usd(nanos))


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _payloads(keys: list[ApiKey]) -> list[Json]:
    spends = api_key_spends(keys, now=timezone.now())
    return [
        {
            "hash": key.key_hash,
            "name": key.name,
            "label": f"{key.prefix}…",
            "disabled": key.disabled,
            "limit": _usd(key.limit_nanos),
            "limit_remaining": _usd(spends[key.pk].limit_remaining_nanos),
            "limit_reset": key.limit_reset or None,
            "include_byok_in_limit": False,
            "usage": _usd(key.usage_nanos),
            "usage_daily": _usd(spends[key.pk].daily_nanos),
            "usage_weekly": _usd(spends[key.pk].weekly_nanos),
            "usage_monthly": _usd(spends[key.pk].monthly_nanos),
            "byok_usage": 0,
            "created_at": _time(key.created_at),
            "updated_at": _time(key.updated_at),
            "expires_at": _time(key.expires_at),
        }
        for key in keys
    ]


# The ORM work of each route, run in asgiref's thread.


def _list(*, user_id: int, offset: int, include_disabled: bool) -> list[Json]:
    keys = api_keys_listed(user_id=user_id, include_disabled=include_disabled, inference_only=True)
    return _payloads(list(keys[offset : offset + PAGE_SIZE]))


def _create(*, user_id: int, request: KeyCreate) -> tuple[Json, str]:
    api_key, plaintext = api_key_create(
        user=User.objects.get(pk=user_id),
        name=request.name,
        limit_nanos=request.limit_nanos,
        limit_reset=request.limit_reset,
        expires_at=request.expires_at,
    )
    return _payloads([api_key])[0], plaintext


def _found(*, user_id: int, key_hash: str) -> ApiKey:
    api_key = inference_key_of(user_id=user_id, key_hash=key_hash)
    if api_key is None:
        raise NotFound("Key not found")
    return api_key


def _get(*, user_id: int, key_hash: str) -> Json:
    return _payloads([_found(user_id=user_id, key_hash=key_hash)])[0]


def _patch(*, user_id: int, key_hash: str, patch: KeyPatch) -> Json:
    with transaction.atomic():
        api_key = _found(user_id=user_id, key_hash=key_hash)
        changed = api_key_update(
            api_key=api_key,
            name=patch.name,
            disabled=patch.disabled,
            limit_nanos=patch.limit_nanos,
            limit_reset=patch.limit_reset,
        )
    if not changed:  # deleted meanwhile
        raise NotFound("Key not found")
    return _payloads([api_key])[0]


def _delete(*, user_id: int, key_hash: str) -> None:
    api_key_revoke(api_key=_found(user_id=user_id, key_hash=key_hash))


# The routes.


async def _manager(gateway: Gateway, scope: Scope) -> Principal:
    return await gateway.authenticate(header(scope, b"authorization"), use=KeyUse.MANAGEMENT)


def _key_hash(scope: Scope) -> str:
    return str(scope["path"]).removeprefix(f"{KEYS_PATH}/")


async def _answer(send: Send, status: int, payload: Json) -> None:
    await send_response(send, status, orjson.dumps(payload))


async def keys_list(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await _manager(gateway, scope)
    query = _query(scope)
    offset, include_disabled = _offset(query), _include_disabled(query)
    data = await sync_to_async(_list)(
        user_id=principal.user_id, offset=offset, include_disabled=include_disabled
    )
    await _answer(send, 200, {"data": data})


async def key_create(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await _manager(gateway, scope)
    body = await read_body(receive, limit=gateway.body_limit)
    request = key_create_parse(body, now=datetime.now(UTC))
    data, plaintext = await sync_to_async(_create)(user_id=principal.user_id, request=request)
    await _answer(send, 201, {"data": data, "key": plaintext})


async def key_get(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await _manager(gateway, scope)
    data = await sync_to_async(_get)(user_id=principal.user_id, key_hash=_key_hash(scope))
    await _answer(send, 200, {"data": data})


async def key_patch(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await _manager(gateway, scope)
    patch = key_patch_parse(await read_body(receive, limit=gateway.body_limit))
    data = await sync_to_async(_patch)(
        user_id=principal.user_id, key_hash=_key_hash(scope), patch=patch
    )
    # This process sees its own change at once; the others when PostgreSQL notifies them.
    gateway.auth_cache.evict_user(principal.user_id)
    await _answer(send, 200, {"data": data})


async def key_delete(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    principal = await _manager(gateway, scope)
    await sync_to_async(_delete)(user_id=principal.user_id, key_hash=_key_hash(scope))
    gateway.auth_cache.evict_user(principal.user_id)  # as in key_patch
    await _answer(send, 200, {"deleted": True})


_COLLECTION: dict[str, Handler] = {"GET": keys_list, "POST": key_create}
_ITEM: dict[str, Handler] = {"GET": key_get, "PATCH": key_patch, "DELETE": key_delete}


def _not_allowed(path: str, allowed: Mapping[str, Handler]) -> Handler:
    async def refuse(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
        raise MethodNotAllowed(f"Use {', '.join(allowed)} for {path}")

    return refuse


def keys_route_label(path: str) -> str:
    """A `/api/v1/keys` path as its route's name in metrics and logs (no key hash in it)."""
    return KEYS_PATH if path == KEYS_PATH else f"{KEYS_PATH}/{{hash}}"


def keys_route(path: str, method: str) -> tuple[str, Handler] | None:
    """The (method, handler) of a `/api/v1/keys` path, or None for any other path. A method
    the path does not take gets a handler that answers 405."""
    if path == KEYS_PATH:
        handlers, shown = _COLLECTION, KEYS_PATH
    elif path.startswith(f"{KEYS_PATH}/"):
        handlers, shown = _ITEM, f"{KEYS_PATH}/{{hash}}"
    else:
        return None
    handler = handlers.get(method)
    return method, handler or _not_allowed(shown, handlers)
