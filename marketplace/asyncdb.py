"""The gateway's one I/O seam to the database: a few short SQL statements, awaited directly.

Django's async ORM hops to a thread for every query, which costs several times more than the
statement itself on the request path. PostgreSQL is reached through psycopg 3 async
connections (marketplace.pgpool); the zero-setup SQLite database through Django's own
connection on one worker thread (SQLite allows one writer anyway). SQL is written once with
`%s` placeholders, valid for both.
Writes the database refuses (constraints, guard triggers) raise `DatabaseRefusal`.
"""

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from psycopg.conninfo import make_conninfo

from marketplace.pgpool import ConnectionPool

Row = tuple[Any, ...]
Statement = tuple[str, Sequence[Any]]


class DatabaseRefusal(Exception):
    """The database refused a write (a constraint or a guard trigger); `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AsyncDb(Protocol):
    @property
    def vendor(self) -> str:
        """ "postgresql" or "sqlite": the few statements that differ ask."""
        ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def transaction(self, statements: Sequence[Statement]) -> list[Row | None]:
        """Run statements in one transaction; return each one's first row (None if none).

        A statement that returns no row (e.g. `INSERT ... ON CONFLICT DO NOTHING RETURNING`)
        rolls the whole transaction back and ends it early: later rows are None.
        """
        ...

    async def close(self) -> None: ...


class _Abort(Exception):
    pass


class PostgresDb:
    vendor = "postgresql"

    def __init__(self, conninfo: str, *, max_size: int) -> None:
        self._pool = ConnectionPool(conninfo, max_size=max_size)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._pool.connection() as conn:
            return await (await _execute(conn, sql, params)).fetchone()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._pool.connection() as conn:
            return await (await _execute(conn, sql, params)).fetchall()

    async def transaction(self, statements: Sequence[Statement]) -> list[Row | None]:
        rows: list[Row | None] = [None] * len(statements)
        async with self._pool.connection() as conn:
            try:
                async with conn.transaction():
                    for index, (sql, params) in enumerate(statements):
                        cursor = await conn.execute(sql, params)
                        row = await cursor.fetchone() if cursor.description else ()
                        if row is None:
                            raise _Abort
                        rows[index] = row
            except _Abort:
                pass
            except psycopg.errors.IntegrityError as exc:
                raise _refusal(exc) from exc
        return rows

    async def close(self) -> None:
        await self._pool.close()


async def _execute(
    conn: psycopg.AsyncConnection[Row], sql: str, params: Sequence[Any]
) -> psycopg.AsyncCursor[Row]:
    try:
        return await conn.execute(sql, params)
    except psycopg.errors.IntegrityError as exc:
        raise _refusal(exc) from exc


def _refusal(error: psycopg.errors.IntegrityError) -> DatabaseRefusal:
    return DatabaseRefusal(error.diag.message_primary or str(error))


def _sqlite_execute(cursor: Any, sql: str, params: Sequence[Any]) -> None:
    try:
        cursor.execute(sql, params)
    except IntegrityError as exc:
        raise DatabaseRefusal(str(exc)) from exc


def _sqlite_fetch(sql: str, params: Sequence[Any]) -> Row | None:
    with connection.cursor() as cursor:
        _sqlite_execute(cursor, sql, params)
        row: Row | None = cursor.fetchone()
        return row


def _sqlite_fetchall(sql: str, params: Sequence[Any]) -> list[Row]:
    with connection.cursor() as cursor:
        _sqlite_execute(cursor, sql, params)
        return list(cursor.fetchall())


def _sqlite_transaction(statements: Sequence[Statement]) -> list[Row | None]:
    rows: list[Row | None] = [None] * len(statements)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for index, (sql, params) in enumerate(statements):
                cursor.execute(sql, params)
                row = cursor.fetchone() if cursor.description else ()
                if row is None:
                    raise _Abort
                rows[index] = row
    except _Abort:
        pass
    except IntegrityError as exc:
        raise DatabaseRefusal(str(exc)) from exc
    return rows


def _sqlite_close() -> None:
    # `connection` is looked up here, in the sync thread that uses it: looked up in the event
    # loop (`sync_to_async(connection.close)`) it is that thread's own, which may not be closed
    # from another thread.
    connection.close()


class DjangoConnectionDb:
    """Runs statements on Django's connection in asgiref's single sync thread."""

    @property
    def vendor(self) -> str:
        return str(connection.vendor)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = await sync_to_async(_sqlite_fetch)(sql, params)
        return row

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await sync_to_async(_sqlite_fetchall)(sql, params)

    async def transaction(self, statements: Sequence[Statement]) -> list[Row | None]:
        return await sync_to_async(_sqlite_transaction)(statements)

    async def close(self) -> None:
        await sync_to_async(_sqlite_close)()


def db_time(value: datetime) -> object:
    """A datetime as the database's driver wants it (SQLite stores text, PostgreSQL timestamps)."""
    if _is_postgresql():
        return value  # psycopg sends an aware datetime as it is
    return connection.ops.adapt_datetimefield_value(value)


@functools.cache
def _is_postgresql() -> bool:
    # Not `connection.vendor`: in async code each context builds its own connection wrapper
    # on first use, which costs more than the statement it is for.
    return str(settings.DATABASES["default"]["ENGINE"]).endswith("postgresql")


def db_datetime(value: object) -> datetime | None:
    """A timestamp read with raw SQL, as an aware UTC datetime (SQLite's driver gives naive UTC
    datetimes or text, PostgreSQL's aware ones)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def postgres_conninfo() -> str:
    """Django's default database as a libpq connection string, for psycopg's own connections."""
    db = settings.DATABASES["default"]
    parts = {
        "host": db.get("HOST"),
        "port": db.get("PORT"),
        "dbname": db.get("NAME"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
    }
    return make_conninfo(**{key: str(value) for key, value in parts.items() if value})


def asyncdb_create() -> AsyncDb:
    if connection.vendor == "postgresql":
        return PostgresDb(postgres_conninfo(), max_size=settings.HOTPATH_DB_POOL_SIZE)
    return DjangoConnectionDb()
