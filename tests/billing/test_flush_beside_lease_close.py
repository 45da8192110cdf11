"""The flush between transactional tests runs while the session's live gateways may still be
closing an idle lease. Those two can deadlock; the flush must survive being the victim."""

import threading

import psycopg
import pytest
from django.core.management.color import no_style
from django.db import connection
from psycopg import sql

from billing.models import GenerationDay, Hold
from tests.live import database_url

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE locks: PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def test_the_flush_survives_a_deadlock_with_a_closing_lease() -> None:
    hold, day = Hold._meta.db_table, GenerationDay._meta.db_table
    holding_hold = threading.Event()
    outcome: dict[str, object] = {}

    def close_a_lease() -> None:
        # A lease close in the order the gateway takes its locks: the hold, then the roll-up.
        # Its own deadlock check waits longest, so PostgreSQL fails the flush, not this.
        with psycopg.connect(database_url(connection.settings_dict, "postgresql")) as conn:
            conn.execute("SET deadlock_timeout = '10s'")
            conn.execute(
                sql.SQL("UPDATE {} SET status = status WHERE false").format(sql.Identifier(hold))
            )
            holding_hold.set()
            conn.execute("SELECT pg_sleep(0.5)")  # the flush is waiting on the hold by now
            conn.execute(sql.SQL("DELETE FROM {} WHERE false").format(sql.Identifier(day)))
            conn.commit()
            outcome["lease"] = "committed"

    closer = threading.Thread(target=close_a_lease)
    closer.start()
    assert holding_hold.wait(10)
    tables = [day, hold]  # the flush's own order: the roll-up before the hold
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))
    closer.join(30)

    assert outcome == {"lease": "committed"}
