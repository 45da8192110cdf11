"""Whether a request asks for the cache, and the key of its entry."""

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from proxy.asgi_io import Scope, header
from proxy.chat_request import ChatRequest
from proxy.errors import InvalidRequest

CACHE_HEADER = b"x-switchyard-cache"
TTL_HEADER = b"x-switchyard-cache-ttl"
STATUS_HEADER = b"x-switchyard-cache-status"
# How a request is asked for, never what is cached: a stream and a whole answer share an entry.
_UNKEYED_FIELDS = frozenset({"stream", "stream_options"})


def cache_ttl_wanted(scope: Scope, *, default_s: int, max_s: int) -> int | None:
    """The seconds to keep this request's answer, or None when it did not ask for the cache."""
    if (header(scope, CACHE_HEADER) or "").strip().lower() != "true":
        return None
    raw = header(scope, TTL_HEADER)
    if raw is None:
        return min(default_s, max_s)
    try:
        ttl_s = int(raw.strip())
    except ValueError:
        ttl_s = 0
    if ttl_s < 1:
        raise InvalidRequest("X-Switchyard-Cache-TTL must be a positive number of seconds")
    return min(ttl_s, max_s)


def _jsonable(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not part of a cache key")


def cache_key(*, user_id: int, request: ChatRequest) -> str:
    """SHA-256 of everything that decides the answer, and whose answer it is."""
    body = {k: v for k, v in request.payload.items() if k not in _UNKEYED_FIELDS}
    keyed = {
        "user": user_id,
        "models": [str(model) for model in request.models],
        "provider": request.provider,
        "body": body,
    }
    canonical = orjson.dumps(keyed, default=_jsonable, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


@dataclass
class CacheSlot:
    """A request that asked for the cache: its entry's key, how long to keep its answer, and
    whether it was answered from it."""

    key: str
    ttl_s: int
    hit: bool = False
