"""The hot path's PostgreSQL connections (marketplace.pgpool), on the real server."""

import asyncio

import psycopg
import pytest
from django.db import connection

from marketplace.asyncdb import postgres_conninfo
from marketplace.pgpool import ConnectionPool

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a pool of PostgreSQL connections"
    ),
]


async def backend_pid(pool: ConnectionPool, *, sleep_s: float = 0.0) -> int:
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT pg_backend_pid(), pg_sleep(%s)", (sleep_s,))
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
async def pool():
    pool = ConnectionPool(postgres_conninfo(), max_size=2)
    yield pool
    await pool.close()


async def test_a_connection_is_reused(pool):
    assert await backend_pid(pool) == await backend_pid(pool)


async def test_never_more_than_max_size_connections_and_every_request_is_served(pool):
    pids = await asyncio.gather(*(backend_pid(pool, sleep_s=0.05) for _ in range(6)))
    assert len(set(pids)) == 2


async def test_a_dead_connection_fails_its_statement_then_is_replaced(pool):
    dead = await backend_pid(pool)  # now the pool's one idle connection
    async with await psycopg.AsyncConnection.connect(postgres_conninfo()) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (dead,))

    with pytest.raises(psycopg.OperationalError):
        await backend_pid(pool)
    assert dead not in {await backend_pid(pool) for _ in range(3)}


async def test_a_cancelled_waiter_does_not_take_a_connection_with_it():
    pool = ConnectionPool(postgres_conninfo(), max_size=1)
    try:
        async with pool.connection():
            waiting = asyncio.ensure_future(backend_pid(pool))
            await asyncio.sleep(0.01)
            waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await asyncio.wait_for(backend_pid(pool), timeout=5) > 0
    finally:
        await pool.close()


async def test_a_closed_pool_refuses(pool):
    await backend_pid(pool)
    await pool.close()
    with pytest.raises(psycopg.OperationalError, match="closed"):
        await backend_pid(pool)
