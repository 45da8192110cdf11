"""A per-process cache of API key authentication, kept current by PostgreSQL's LISTEN/NOTIFY.

Authenticating a request is one indexed query (proxy/auth.py): the key, its owner, its wallet.
That round trip was a fifth of the gateway's added latency, so each process keeps the row it
read, by key hash, for at most AUTH_CACHE_TTL_S. What keeps that safe:

- Every change that can make a cached row wrong is notified by triggers (proxy migration 0002)
  on the channel `switchyard_auth` as `user:<id>`: a key revoked, deleted, disabled, given
  another expiry, limit or kind; a user deactivated or deleted; a wallet created, deleted or
  credited. The listener drops that user's entries as the change commits; the TTL is a backstop.
- Not notified, on purpose: what every request's hold and settle move (the wallet's reservation
  and a falling balance, the key's usage counters), else every request would empty the cache.
  So a cached principal's `available_nanos` may be off by what was spent or reserved within the
  TTL. That is safe: it only sizes the hold (and a lease's slice), and every hold and lease
  reservation re-checks the wallet atomically in the database (billing/usage.py `hold_open`,
  proxy/leases.py). A hold refused for want of credits drops the user's entries
  (proxy/metering.py), so money that came back meanwhile (a hold released) is seen next time.
- A lookup that began before an invalidation may have read the old row: every invalidation
  raises `epoch`, which a lookup reads before its query, and a row read under an older epoch
  is not kept.
- While the listener is not connected (not yet, or after an error) changes go unheard: the
  cache is emptied and keeps nothing, so every request queries, until LISTEN is established
  again; lookups begun before then are not kept either (the epoch again).
- Requests that miss the same key at once share one lookup (`lookup`): a busy key's entry
  expiring would otherwise send a query per waiting request. A request joins a lookup only if
  nothing was invalidated since it began (the epoch again), and only while the cache serves.
- Unknown keys are not cached: a key created a moment ago works at once. A key's expiry and
  what the route lets it do are checked on every request, against the cached row.

SQLite has no LISTEN: there the cache stays off and every request queries, as without it.
"""

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg.conninfo import make_conninfo

from marketplace.asyncdb import AsyncDb, postgres_conninfo
from proxy.metrics import AUTH_CACHE_INVALIDATIONS, AUTH_CACHE_LISTENING

if TYPE_CHECKING:  # proxy.auth uses this module
    from proxy.auth import Principal

logger = logging.getLogger(__name__)

# The triggers of proxy migration 0002 notify on this channel.
AUTH_CHANNEL = "switchyard_auth"


def listener_application_name() -> str:
    """How this process's listening connection shows in pg_stat_activity."""
    return f"switchyard-auth-listener {os.getpid()}"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One row of the authentication lookup (a key that is not revoked, of an active user): the
    principal a request gets as it is, and what is checked on every use."""

    principal: "Principal"
    disabled: bool
    expires_at: datetime | None

    @property
    def user_id(self) -> int:
        return self.principal.user_id


@dataclass(frozen=True, slots=True)
class _Entry:
    record: KeyRecord
    expires_at: float  # on the cache's clock


class KeyCache:
    """Key hash -> its lookup's row, each for `ttl_s`; at most `max_entries`, the oldest go first.

    Keeps nothing unless `serving`: between `resume()` (the listener hears every change) and
    `suspend()`. With a TTL of 0 it never serves.
    """

    def __init__(
        self,
        *,
        ttl_s: float = 0.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        # Insertion order is expiry order (one TTL, a monotonic clock, and a row put again goes
        # to the end): the expired and the oldest entries are always the first ones.
        self._entries: dict[str, _Entry] = {}
        self._hashes_of: dict[int, set[str]] = {}  # user id -> hashes of the user's entries
        self.epoch = 0  # raised by every invalidation
        self.serving = False
        # Key hash -> the lookup in flight for it, and the epoch it began at.
        self._lookups: dict[str, tuple[int, asyncio.Future[KeyRecord | None]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_hash: str) -> KeyRecord | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if self._clock() < entry.expires_at:
            return entry.record
        self._drop(key_hash)
        return None

    async def lookup(
        self, key_hash: str, fetch: Callable[[], Awaitable[KeyRecord | None]]
    ) -> KeyRecord | None:
        """A missed key's row, from `fetch()` (kept when it may be), or from the same lookup
        another request began for it under the current epoch."""
        pending = self._lookups.get(key_hash)
        if self.serving and pending is not None and pending[0] == self.epoch:
            return await asyncio.shield(pending[1])  # one caller gone must not fail the rest
        epoch = self.epoch  # before the query: see put()
        fetching = asyncio.ensure_future(fetch())
        self._lookups[key_hash] = (epoch, fetching)
        try:
            record = await asyncio.shield(fetching)
        finally:
            if self._lookups.get(key_hash) == (epoch, fetching):  # not replaced by a later one
                del self._lookups[key_hash]
        if record is not None:  # unknown keys are not kept: a new key works at once
            self.put(key_hash, record, epoch=epoch)
        return record

    def put(self, key_hash: str, record: KeyRecord, *, epoch: int) -> None:
        """Keep `record`, read by a lookup that began at `epoch`, unless something was
        invalidated since it began: it may have read the row as it was before the change."""
        if not self.serving or epoch != self.epoch:
            return
        now = self._clock()
        self._drop(key_hash)
        self._drop_expired(now)
        while len(self._entries) >= self.max_entries:
            self._drop(next(iter(self._entries)))
        self._entries[key_hash] = _Entry(record, now + self.ttl_s)
        self._hashes_of.setdefault(record.user_id, set()).add(key_hash)

    def evict_user(self, user_id: int) -> None:
        """Forget every key of the user: the next request of each reads it afresh."""
        self.epoch += 1
        for key_hash in self._hashes_of.pop(user_id, ()):
            del self._entries[key_hash]

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._hashes_of.clear()

    def invalidate(self, payload: str) -> None:
        """Apply one notification: `user:<id>` drops that user's keys; anything else, all keys."""
        kind, _, user_id = payload.partition(":")
        if kind == "user" and user_id.isdigit():
            self.evict_user(int(user_id))
        else:
            self.clear()

    def suspend(self) -> None:
        """Changes may go unheard from now on: forget everything, keep nothing."""
        self.serving = False
        self.clear()

    def resume(self) -> None:
        """Every change is heard from now on. Lookups begun before may have missed one (the
        epoch is raised: they are not kept)."""
        self.epoch += 1
        self.serving = self.ttl_s > 0

    def _drop(self, key_hash: str) -> None:
        entry = self._entries.pop(key_hash, None)
        if entry is None:
            return
        hashes = self._hashes_of[entry.record.user_id]
        hashes.discard(key_hash)
        if not hashes:
            del self._hashes_of[entry.record.user_id]

    def _drop_expired(self, now: float) -> None:
        items = self._entries.items()
        expired = [h for h, _ in itertools.takewhile(lambda i: i[1].expires_at <= now, items)]
        for key_hash in expired:
            self._drop(key_hash)


class KeyCacheListener:
    """Lets `cache` serve while a connection of its own listens on AUTH_CHANNEL, and applies
    the notifications. After an error (logged once per outage) the cache is off until it
    listens again, retrying after `retry_s`, doubled each failure up to `max_retry_s`."""

    def __init__(
        self, cache: KeyCache, conninfo: str, *, retry_s: float = 0.5, max_retry_s: float = 10.0
    ) -> None:
        self.cache = cache
        # Keepalives: a connection gone silent (the network, not the server) is noticed too.
        self._conninfo = make_conninfo(
            conninfo,
            application_name=listener_application_name(),
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self.failures = 0  # attempts in a row that failed, since the last that listened
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._listen_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except Exception as error:
                self.failures += 1
                if self.failures == 1:  # the outage begins
                    logger.warning(
                        "auth cache off, every request queries the database: listening for "
                        "key changes failed (%s); retrying",
                        error,
                    )
            finally:
                self.cache.suspend()
                AUTH_CACHE_LISTENING.set(0)
            await asyncio.sleep(min(self._retry_s * 2 ** (self.failures - 1), self._max_retry_s))

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        async with conn:
            await conn.execute(f"LISTEN {AUTH_CHANNEL}")
            self.cache.resume()
            AUTH_CACHE_LISTENING.set(1)
            if self.failures:
                logger.warning("auth cache on again: listening for key changes")
            self.failures = 0
            async with contextlib.aclosing(conn.notifies()) as notifications:
                async for notification in notifications:
                    AUTH_CACHE_INVALIDATIONS.inc()
                    self.cache.invalidate(notification.payload)
        raise psycopg.OperationalError("the connection stopped giving notifications")


def key_cache_listener_create(db: AsyncDb, cache: KeyCache) -> KeyCacheListener | None:
    """The listener that lets `cache` serve; None where it cannot (SQLite, no LISTEN) or need
    not (a TTL of 0): the cache then never serves."""
    if db.vendor != "postgresql" or cache.ttl_s <= 0:
        return None
    return KeyCacheListener(cache, postgres_conninfo())
