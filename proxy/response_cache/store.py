"""Where entries live: Redis when configured (every replica shares them), else this process's
memory, bounded by entry count (least recently used first out). Both expire entries after their
time to live; neither ever fails a request (a store that does not answer is a miss)."""

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, Self

import orjson
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A finished answer in the canonical (OpenAI chat) format, and who gave it."""

    endpoint_id: int
    answer: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int

    def dumps(self) -> bytes:
        return orjson.dumps(
            {"endpoint_id": self.endpoint_id, "answer": self.answer,
             "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        )  # fmt: skip

    @classmethod
    def loads(cls, data: bytes) -> Self:
        fields = orjson.loads(data)
        return cls(
            endpoint_id=int(fields["endpoint_id"]),
            answer=dict(fields["answer"]),
            prompt_tokens=int(fields["prompt_tokens"]),
            completion_tokens=int(fields["completion_tokens"]),
        )


class ResponseCacheStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, *, ttl_s: int) -> None: ...

    async def close(self) -> None: ...


class MemoryResponseCacheStore:
    def __init__(self, *, max_entries: int = 1000) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes, *, ttl_s: int) -> None:
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisResponseCacheStore:
    """One GET per lookup, one SET with EX per store, under `<prefix>:<key>`."""

    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, *, prefix: str, timeout_s: float) -> Self:
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), retries=1),
        )
        return cls(client, prefix=prefix)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(f"{self._prefix}:{key}")
        except (redis.RedisError, OSError):
            logger.warning("response cache: Redis did not answer a lookup", exc_info=True)
            return None
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, *, ttl_s: int) -> None:
        try:
            await self._client.set(f"{self._prefix}:{key}", value, ex=ttl_s)
        except (redis.RedisError, OSError):
            logger.warning("response cache: Redis did not store an entry", exc_info=True)

    async def close(self) -> None:
        await self._client.aclose()


class ResponseCache:
    def __init__(
        self,
        store: ResponseCacheStore,
        *,
        default_ttl_s: int = 300,
        max_ttl_s: int = 86400,
        max_entry_bytes: int = 1024 * 1024,
    ) -> None:
        self.store = store
        self.default_ttl_s = default_ttl_s
        self.max_ttl_s = max_ttl_s
        self.max_entry_bytes = max_entry_bytes

    async def lookup(self, key: str) -> CachedAnswer | None:
        data = await self.store.get(key)
        if data is None:
            return None
        try:
            return CachedAnswer.loads(data)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("response cache: an unreadable entry is ignored")
            return None

    async def keep(self, key: str, entry: CachedAnswer, *, ttl_s: int) -> None:
        data = entry.dumps()
        if len(data) <= self.max_entry_bytes:
            await self.store.put(key, data, ttl_s=ttl_s)

    async def close(self) -> None:
        await self.store.close()


def response_cache_store_create(
    *, redis_url: str, prefix: str, timeout_s: float, max_entries: int
) -> ResponseCacheStore:
    if redis_url:
        return RedisResponseCacheStore.from_url(redis_url, prefix=prefix, timeout_s=timeout_s)
    return MemoryResponseCacheStore(max_entries=max_entries)
