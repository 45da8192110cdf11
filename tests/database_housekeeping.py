"""The test database between tests: what Django's own create and flush leave undone on
SQLite, and a flush that survives the session's live gateways on PostgreSQL (called from
tests/conftest.py when pytest starts)."""

import itertools
from pathlib import Path
from typing import Any


def remove_stale_sqlite_test_files() -> None:
    # Django deletes an old SQLite test database but not its WAL files, which a new database
    # of the same name would replay (and which would pile up in var/).
    from django.conf import settings

    database: dict[str, Any] = settings.DATABASES["default"]
    test_name = database.get("TEST", {}).get("NAME")
    if database["ENGINE"].endswith("sqlite3") and test_name:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{test_name}{suffix}").unlink(missing_ok=True)


def flush_sqlite_wallets_first() -> None:
    """On SQLite the ledger refuses to lose an entry while its wallet exists (it has no
    TRUNCATE), so the flush between transactional tests must empty the wallets first.
    Django orders its DELETEs by a set's iteration order, which varies from run to run."""
    from django.conf import settings

    if not str(settings.DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
        return
    import django.db.backends.sqlite3.base  # noqa: F401  (operations imports it circularly)
    from django.db.backends.sqlite3.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self: DatabaseOperations, *args: Any, **kwargs: Any) -> list[str]:
        statements: list[str] = original(self, *args, **kwargs)
        return sorted(statements, key=lambda sql: '"billing_wallet"' not in sql)

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign,assignment]


def retry_postgresql_flush_on_deadlock() -> None:
    """The flush between transactional tests is one TRUNCATE of every table, taking its locks
    table by table while a live gateway of the session may still be closing an idle lease (an
    UPDATE of its hold, then the day roll-up). PostgreSQL breaks that deadlock by failing one
    of them; when it fails the TRUNCATE, the lease has committed by the time the flush retries."""
    from django.conf import settings

    if not str(settings.DATABASES["default"]["ENGINE"]).endswith("postgresql"):
        return
    import django.db.backends.postgresql.base  # noqa: F401  (operations imports it circularly)
    import psycopg
    from django.db import OperationalError
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        for attempt in itertools.count(1):
            try:
                return original(self, sql_list)
            except OperationalError as error:
                deadlock = isinstance(error.__cause__, psycopg.errors.DeadlockDetected)
                if not deadlock or attempt == 5:
                    raise

    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign,assignment]
