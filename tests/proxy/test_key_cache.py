"""The gateway's cache of key lookups (proxy/key_cache.py): served for its TTL while the
listener hears every change, never a row read before an invalidation, bounded, and forgetting a
user's keys at once."""

import asyncio

import pytest

from proxy.auth import Principal
from proxy.key_cache import KeyCache, KeyRecord

ALICE, BOB = 1, 2


def record(user_id: int = ALICE, *, key_id: int = 10, available_nanos: int = 1000) -> KeyRecord:
    principal = Principal(
        api_key_id=key_id,
        user_id=user_id,
        key_prefix="sk-sy-v1-abcdef",
        wallet_id=user_id,
        available_nanos=available_nanos,
        limit_nanos=None,
        limit_reset="",
        is_management=False,
    )
    return KeyRecord(principal, disabled=False, expires_at=None)


@pytest.fixture
def clock():
    return [1000.0]


@pytest.fixture
def cache(clock):
    """A cache whose listener hears every change, on a clock the test moves."""
    cache = KeyCache(ttl_s=10, max_entries=3, clock=lambda: clock[0])
    cache.resume()
    return cache


def test_a_kept_row_is_served_until_its_ttl_is_over(cache, clock):
    cache.put("hash-a", record(), epoch=cache.epoch)

    clock[0] += 9.9
    assert cache.get("hash-a") == record()
    clock[0] += 0.1
    assert cache.get("hash-a") is None
    assert len(cache) == 0


def test_a_row_read_by_a_lookup_begun_before_an_invalidation_is_not_kept(cache):
    epoch = cache.epoch  # the lookup begins: its SELECT may see the key as it was
    cache.evict_user(BOB)  # any change notified meanwhile, even another user's
    cache.put("hash-a", record(), epoch=epoch)

    assert cache.get("hash-a") is None
    cache.put("hash-a", record(), epoch=cache.epoch)  # a lookup begun after it
    assert cache.get("hash-a") == record()


def test_evicting_a_user_forgets_all_their_keys_and_no_one_elses(cache):
    cache.put("alice-1", record(ALICE, key_id=1), epoch=cache.epoch)
    cache.put("alice-2", record(ALICE, key_id=2), epoch=cache.epoch)
    cache.put("bob-1", record(BOB, key_id=3), epoch=cache.epoch)

    cache.evict_user(ALICE)

    assert cache.get("alice-1") is None
    assert cache.get("alice-2") is None
    assert cache.get("bob-1") == record(BOB, key_id=3)


@pytest.mark.parametrize(
    ("payload", "bob_kept"), [(f"user:{ALICE}", True), ("all", False), ("user:x", False)]
)
def test_a_notification_drops_its_users_keys_and_anything_else_drops_all(cache, payload, bob_kept):
    cache.put("alice-1", record(ALICE), epoch=cache.epoch)
    cache.put("bob-1", record(BOB), epoch=cache.epoch)

    cache.invalidate(payload)

    assert cache.get("alice-1") is None
    assert (cache.get("bob-1") is not None) is bob_kept


def test_when_full_the_oldest_row_goes(cache, clock):
    cache.put("first", record(key_id=1), epoch=cache.epoch)
    clock[0] += 5
    cache.put("second", record(key_id=2), epoch=cache.epoch)
    cache.put("third", record(key_id=3), epoch=cache.epoch)
    cache.put("first", record(key_id=1), epoch=cache.epoch)  # read again: now the newest

    cache.put("fourth", record(key_id=4), epoch=cache.epoch)

    assert len(cache) == 3
    assert cache.get("second") is None
    assert all(cache.get(h) is not None for h in ("first", "third", "fourth"))


def test_expired_rows_are_dropped_as_new_ones_come_even_when_not_full(cache, clock):
    cache.put("first", record(key_id=1), epoch=cache.epoch)
    clock[0] += 10

    cache.put("second", record(key_id=2), epoch=cache.epoch)

    assert len(cache) == 1


def test_a_user_whose_keys_all_left_the_cache_is_forgotten_too(cache):
    for n in range(10):  # more than max_entries: the oldest are dropped as others come
        cache.put(f"hash-{n}", record(user_id=100 + n), epoch=cache.epoch)

    assert len(cache) == 3
    assert set(cache._hashes_of) == {107, 108, 109}


def test_nothing_is_kept_before_the_listener_hears_changes():
    cache = KeyCache(ttl_s=10)

    cache.put("hash-a", record(), epoch=cache.epoch)

    assert cache.get("hash-a") is None


def test_when_the_listener_stops_hearing_changes_everything_is_forgotten_and_nothing_kept(cache):
    cache.put("hash-a", record(), epoch=cache.epoch)

    cache.suspend()
    cache.put("hash-b", record(BOB), epoch=cache.epoch)

    assert cache.get("hash-a") is None
    assert cache.get("hash-b") is None


def test_a_lookup_begun_before_the_listener_heard_again_is_not_kept(cache):
    cache.suspend()
    epoch = cache.epoch  # a lookup begins while changes go unheard
    cache.resume()

    cache.put("hash-a", record(), epoch=epoch)

    assert cache.get("hash-a") is None


def test_a_ttl_of_zero_never_serves():
    cache = KeyCache(ttl_s=0)
    cache.resume()

    cache.put("hash-a", record(), epoch=cache.epoch)

    assert cache.get("hash-a") is None


def test_a_row_read_again_replaces_the_one_kept(cache):
    cache.put("hash-a", record(available_nanos=5), epoch=cache.epoch)
    fresh = record(available_nanos=7)

    cache.put("hash-a", fresh, epoch=cache.epoch)

    assert cache.get("hash-a") == fresh
    assert len(cache) == 1


class Lookups:
    """A key lookup that waits until released, counting how often it ran."""

    def __init__(self) -> None:
        self.count = 0
        self.released = asyncio.Event()

    async def fetch(self) -> KeyRecord:
        self.count += 1
        await self.released.wait()
        return record()


async def started(cache: KeyCache, lookups: Lookups) -> "asyncio.Future[KeyRecord | None]":
    lookup = asyncio.ensure_future(cache.lookup("h", lookups.fetch))
    await asyncio.sleep(0)  # under way
    return lookup


async def test_requests_missing_a_key_at_once_share_one_lookup(cache):
    lookups = Lookups()
    waiting = [await started(cache, lookups) for _ in range(5)]
    lookups.released.set()

    assert await asyncio.gather(*waiting) == [record()] * 5
    assert lookups.count == 1
    assert cache.get("h") == record()


async def test_a_request_after_an_invalidation_does_not_join_a_lookup_begun_before(cache):
    lookups = Lookups()
    before = await started(cache, lookups)
    cache.evict_user(ALICE)
    after = await started(cache, lookups)
    lookups.released.set()
    await asyncio.gather(before, after)

    assert lookups.count == 2
    assert cache.get("h") == record()  # the row read after the invalidation is kept


async def test_a_request_gone_does_not_fail_the_others_waiting_on_its_lookup(cache):
    lookups = Lookups()
    first, second = await started(cache, lookups), await started(cache, lookups)
    first.cancel()
    lookups.released.set()

    assert await second == record()
    assert lookups.count == 1


async def test_while_the_cache_does_not_serve_every_request_looks_up_for_itself(cache):
    cache.suspend()
    lookups = Lookups()
    waiting = [await started(cache, lookups) for _ in range(3)]
    lookups.released.set()
    await asyncio.gather(*waiting)

    assert lookups.count == 3
