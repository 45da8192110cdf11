"""`authenticate` with the cache of key lookups, on the real database: a cached key costs no
query, yet its expiry and the route's key use are still checked on every request; unknown keys
and lookups overtaken by an invalidation are not kept."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing.services import credits_grant
from marketplace.accounts.models import User
from marketplace.asyncdb import AsyncDb, Row, Statement, asyncdb_create
from marketplace.keys.hashing import api_key_generate
from marketplace.keys.services import api_key_create
from proxy.auth import KeyUse, authenticate
from proxy.errors import Forbidden, Unauthorized
from proxy.key_cache import KeyCache

pytestmark = pytest.mark.django_db(transaction=True)


class CountingDb:
    """The real database, counting the statements sent to it; `during_query` runs while one
    is in flight (after the lookup began, before its row comes back)."""

    def __init__(self, db: AsyncDb) -> None:
        self._db = db
        self.queries = 0
        self.during_query: Callable[[], None] = lambda: None

    @property
    def vendor(self) -> str:
        return self._db.vendor

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self.queries += 1
        self.during_query()
        return await self._db.fetchone(sql, params)

    async def transaction(self, statements: Sequence[Statement]) -> list[Row | None]:
        return await self._db.transaction(statements)

    async def close(self) -> None:
        await self._db.close()


@pytest.fixture
async def db():
    db = CountingDb(asyncdb_create())
    yield db
    await db.close()


@pytest.fixture
def cache():
    cache = KeyCache(ttl_s=300)
    cache.resume()  # as once the listener hears every change
    return cache


def bearer(plaintext: str) -> str:
    return f"Bearer {plaintext}"


def key_of_alice(**options: Any) -> str:
    alice = User.objects.create_user(email="alice@example.com")
    credits_grant(user=alice, amount_nanos=1000)
    return api_key_create(user=alice, name="test", **options)[1]


@pytest.fixture
def alice_key() -> str:
    return key_of_alice()


async def test_a_cached_key_authenticates_without_a_query(db, cache, alice_key):
    first = await authenticate(db, bearer(alice_key), cache=cache)
    again = await authenticate(db, bearer(alice_key), cache=cache)

    assert again == first
    assert first.available_nanos == 1000
    assert db.queries == 1


async def test_without_a_cache_every_request_queries(db, alice_key):
    await authenticate(db, bearer(alice_key))
    await authenticate(db, bearer(alice_key))

    assert db.queries == 2


@pytest.fixture
def soon_expiring_key() -> tuple[str, datetime]:
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    return key_of_alice(expires_at=expires_at), expires_at


async def test_a_key_that_expires_while_cached_is_refused(db, cache, soon_expiring_key):
    plaintext, expires_at = soon_expiring_key
    await authenticate(db, bearer(plaintext), cache=cache)
    await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 0.05)

    with pytest.raises(Unauthorized, match="This key expired at"):
        await authenticate(db, bearer(plaintext), cache=cache)
    assert db.queries == 1  # refused on the cached row


@pytest.fixture
def management_key() -> str:
    return key_of_alice(is_management=True)


async def test_a_cached_management_key_still_cannot_call_models(db, cache, management_key):
    await authenticate(db, bearer(management_key), use=KeyUse.MANAGEMENT, cache=cache)

    with pytest.raises(Forbidden):
        await authenticate(db, bearer(management_key), use=KeyUse.INFERENCE, cache=cache)
    assert db.queries == 1


async def test_an_unknown_key_is_looked_up_every_time_so_a_new_key_works_at_once(db, cache):
    unknown = api_key_generate()
    for _ in range(2):
        with pytest.raises(Unauthorized, match="Invalid API key"):
            await authenticate(db, bearer(unknown), cache=cache)

    assert db.queries == 2
    assert len(cache) == 0


async def test_a_lookup_overtaken_by_an_invalidation_is_not_kept(db, cache, alice_key):
    db.during_query = lambda: cache.evict_user(12345)  # a change notified mid-query
    await authenticate(db, bearer(alice_key), cache=cache)
    db.during_query = lambda: None

    await authenticate(db, bearer(alice_key), cache=cache)
    await authenticate(db, bearer(alice_key), cache=cache)

    assert db.queries == 2  # the first row was not kept; the second was


async def test_a_cache_whose_listener_is_not_hearing_changes_is_bypassed(db, alice_key):
    cache = KeyCache(ttl_s=300)  # never resumed: no listener

    await authenticate(db, bearer(alice_key), cache=cache)
    await authenticate(db, bearer(alice_key), cache=cache)

    assert db.queries == 2
