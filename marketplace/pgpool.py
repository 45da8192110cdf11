"""The hot path's PostgreSQL connections: up to `max_size` autocommit connections, the most
recently used first.

Not psycopg_pool: its checkout and return cost 60 µs of wall time (28 µs of CPU) per statement
on this machine against 0.28 ms for a whole INSERT round trip (a tenth of the gateway's added
latency, two statements a request); this is a list and a queue of waiters. What it does not
do, on purpose: no health check before use (a dead connection fails its one statement and is
dropped when returned, as psycopg_pool does without a `check`), no minimum size, no lifetime.
"""

import asyncio
from collections import deque
from types import TracebackType

import psycopg
from psycopg.pq import TransactionStatus


class ConnectionPool:
    def __init__(self, conninfo: str, *, max_size: int) -> None:
        self._conninfo = conninfo
        self._max_size = max_size
        self._size = 0  # connections open or being opened, idle or in use
        self._idle: list[psycopg.AsyncConnection] = []
        # Requests waiting for a connection; woken with one, or with None: a place came free.
        self._waiters: deque[asyncio.Future[psycopg.AsyncConnection | None]] = deque()
        self._closed = False
        self._closing: set[asyncio.Task[None]] = set()

    def connection(self) -> "_Checkout":
        """`async with pool.connection() as conn:` one connection, returned on exit."""
        return _Checkout(self)

    async def _acquire(self) -> psycopg.AsyncConnection:
        while True:
            if self._closed:
                raise psycopg.OperationalError("the connection pool is closed")
            if self._idle:
                return self._idle.pop()
            if self._size < self._max_size:
                return await self._connect()
            waiter: asyncio.Future[psycopg.AsyncConnection | None] = (
                asyncio.get_running_loop().create_future()
            )
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                handed = waiter.result() if waiter.done() and not waiter.cancelled() else None
                if handed is not None:
                    self._release(handed)  # handed over as we were cancelled: pass it on
                raise
            if conn is not None:
                return conn

    async def _connect(self) -> psycopg.AsyncConnection:
        self._size += 1
        try:
            return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        except BaseException:
            self._size -= 1
            self._wake(None)
            raise

    def _release(self, conn: psycopg.AsyncConnection) -> None:
        usable = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        if self._closed or not usable:
            self._size -= 1
            closing = asyncio.ensure_future(conn.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            self._wake(None)  # a waiter may open a connection in its place
            return
        if not self._wake(conn):
            self._idle.append(conn)

    def _wake(self, conn: psycopg.AsyncConnection | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        self._size -= len(idle)
        for conn in idle:
            await conn.close()
        self._wake(None)


class _Checkout:
    """A connection borrowed from the pool for one `async with` block. A class rather than an
    `asynccontextmanager` generator: this runs for every statement, and the generator's
    machinery cost as much CPU as the pool itself."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._conn: psycopg.AsyncConnection | None = None

    async def __aenter__(self) -> psycopg.AsyncConnection:
        self._conn = await self._pool._acquire()
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        self._pool._release(self._conn)
        self._conn = None
