"""The listener that keeps a gateway's cache of key lookups current, on the real server: it
applies notifications, turns the cache off while its connection is down and on again once it
listens, logs an outage once, and leaves nothing behind when closed."""

import asyncio
import logging
import time
from collections.abc import Callable

import psycopg
import pytest
from django.db import connection

from marketplace.asyncdb import postgres_conninfo
from proxy.auth import Principal
from proxy.key_cache import (
    AUTH_CHANNEL,
    KeyCache,
    KeyCacheListener,
    KeyRecord,
    listener_application_name,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY: PostgreSQL"),
]

ALICE, BOB = 1, 2


def record(user_id: int) -> KeyRecord:
    principal = Principal(
        api_key_id=user_id, user_id=user_id, key_prefix="sk-sy-v1-abcdef", wallet_id=user_id,
        available_nanos=1000, limit_nanos=None, limit_reset="", is_management=False,
    )  # fmt: skip
    return KeyRecord(principal, disabled=False, expires_at=None)


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        await asyncio.sleep(0.01)


async def sql(statement: str, *params: object) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(postgres_conninfo(), autocommit=True) as conn:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []


async def listener_pids() -> list[object]:
    rows = await sql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
        listener_application_name(),
    )
    return [pid for (pid,) in rows]


@pytest.fixture
async def listening():
    """A cache, and its listener started and heard to listen."""
    cache = KeyCache(ttl_s=300)
    # Retrying after a second: long enough for a test to see the cache off in between.
    listener = KeyCacheListener(cache, postgres_conninfo(), retry_s=1, max_retry_s=1)
    listener.start()
    try:
        await eventually(lambda: cache.serving, "the listener listens")
        yield cache, listener
    finally:
        await listener.close()


async def test_a_notification_drops_that_users_keys(listening):
    cache, _ = listening
    cache.put("alice", record(ALICE), epoch=cache.epoch)
    cache.put("bob", record(BOB), epoch=cache.epoch)

    await sql("SELECT pg_notify(%s, %s)", AUTH_CHANNEL, f"user:{ALICE}")

    await eventually(lambda: cache.get("alice") is None, "alice's key dropped")
    assert cache.get("bob") == record(BOB)


async def test_a_lost_connection_turns_the_cache_off_until_it_listens_again(listening):
    cache, _ = listening
    cache.put("alice", record(ALICE), epoch=cache.epoch)
    (pid,) = await listener_pids()

    await sql("SELECT pg_terminate_backend(%s, 5000)", pid)

    # Off: what was kept is gone, nothing is kept, until a new connection listens.
    await eventually(lambda: not cache.serving, "the cache turned off")
    assert cache.get("alice") is None
    cache.put("bob", record(BOB), epoch=cache.epoch)
    assert cache.get("bob") is None
    await eventually(lambda: cache.serving, "listening again")
    assert await listener_pids() not in ([], [pid])
    cache.put("alice", record(ALICE), epoch=cache.epoch)
    await sql("SELECT pg_notify(%s, %s)", AUTH_CHANNEL, f"user:{ALICE}")
    await eventually(lambda: cache.get("alice") is None, "heard on the new connection")


async def test_an_outage_is_logged_once_and_the_cache_stays_off(caplog):
    cache = KeyCache(ttl_s=300)
    # Nothing listens on port 9: every attempt fails at once.
    listener = KeyCacheListener(cache, "host=127.0.0.1 port=9", retry_s=0.01, max_retry_s=0.01)
    caplog.set_level(logging.WARNING, logger="proxy.key_cache")
    listener.start()
    try:
        await eventually(lambda: listener.failures >= 5, "several attempts failed")
    finally:
        await listener.close()

    assert not cache.serving
    warnings = [r for r in caplog.records if r.name == "proxy.key_cache"]
    assert len(warnings) == 1
    assert "auth cache off" in warnings[0].getMessage()


async def test_closing_the_listener_closes_its_connection_and_the_cache(listening):
    cache, listener = listening
    assert len(await listener_pids()) == 1

    await listener.close()

    assert not cache.serving
    deadline = time.monotonic() + 5
    while await listener_pids():  # the server ends the backend once the client has gone
        assert time.monotonic() < deadline, "the listener's connection is still open"
        await asyncio.sleep(0.01)
