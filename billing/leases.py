"""Wallet leases: one reservation that many requests spend, so a busy wallet's row is not
locked twice per request.

A gateway process reserves a slice of a wallet for one API key with an ordinary hold (id
`lease-…`: the same trigger checks the wallet and the key and reserves on both, so a lease can
never overspend). Requests are then held against the slice in the process's memory
(proxy/leases.py) and each one settles with a durable INSERT of its generation, naming the
lease (several requests' rows in one statement under load: proxy/generation_writer.py): no
wallet row, no lock shared with other requests. Closing the lease settles its hold with the
sum of its generations' costs, which writes the usage ledger entry (`usage:<lease id>`) and
gives the rest of the slice back.

Its generations join the daily roll-up (`GenerationDay`) as it settles, not one by one (see
migration 0010): a busy key's requests would all update one roll-up row, a lock held through
each commit.

Crash safety: a generation is written before its response ends, so a charge exists before the
client has its answer. A process that dies leaves its lease open; once past expiry the sweep
(`leases_close_expired`) settles it with what its generations cost, exactly as the process
would have. A generation is recorded at most once (its id is the primary key).
"""

from collections.abc import Sequence
from datetime import datetime

from billing.models import Generation, GenerationDay, Hold
from billing.usage import (
    GENERATION_COLUMNS,
    GENERATION_INSERT_INTO,
    GENERATION_PLACEHOLDERS,
    UsageRecord,
    generation_values,
)
from marketplace.asyncdb import AsyncDb, Statement, db_time

LEASE_PREFIX = "lease-"


def is_lease(hold_id: str) -> bool:
    return hold_id.startswith(LEASE_PREFIX)


# psycopg caches its parsing of a statement's text only up to 50 parameters (20 a row).
_VALUES_MAX_ROWS = 2


def generations_insert_sql(records: Sequence[UsageRecord], vendor: str) -> Statement:
    """One INSERT of generations served under leases, returning the ids it recorded (a
    generation already recorded is skipped: its id is the primary key).

    A row or two go as a VALUES list. More, on PostgreSQL, go as one array per column: the
    same statement text for any number of rows, parsed and prepared once by psycopg (a long
    VALUES list's text changes with its length, and psycopg parses each one anew). The arrays
    cost more for a single row (0.4 ms at one connection on this machine), hence both."""
    assert records
    assert all(record.lease_id is not None for record in records)
    insert, conflict = GENERATION_INSERT_INTO, "ON CONFLICT (id) DO NOTHING RETURNING id"
    rows = [generation_values(record) for record in records]
    if vendor == "postgresql" and len(rows) > _VALUES_MAX_ROWS:
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in GENERATION_COLUMNS)
        sql = f"{insert} SELECT * FROM unnest({arrays}) {conflict}"
        return sql, [list(column) for column in zip(*rows, strict=True)]
    values = ", ".join([f"({GENERATION_PLACEHOLDERS})"] * len(rows))
    return f"{insert} VALUES {values} {conflict}", [value for row in rows for value in row]


def _charge_of(lease_param: str = "%s") -> str:
    return (
        f"(SELECT COALESCE(SUM(cost_nanos), 0) FROM {Generation._meta.db_table} "
        f"WHERE lease_id = {lease_param})"
    )


_DAY = {"postgresql": "(created_at AT TIME ZONE 'UTC')::date", "sqlite": "date(created_at)"}


def rollup_sql(vendor: str) -> str:
    """Add a settled lease's generations (`lease_id` = %s) to the daily roll-up."""
    day = GenerationDay._meta.db_table
    return (
        f"INSERT INTO {day} (user_id, day, key_id, model_slug, requests, prompt_tokens, "
        "completion_tokens, cost_nanos) "
        f"SELECT user_id, {_DAY[vendor]}, COALESCE(api_key_id, 0), model_slug, COUNT(*), "
        "SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos) "
        f"FROM {Generation._meta.db_table} WHERE lease_id = %s GROUP BY 1, 2, 3, 4 "
        "ON CONFLICT (user_id, day, key_id, model_slug) DO UPDATE SET "
        f"requests = {day}.requests + excluded.requests, "
        f"prompt_tokens = {day}.prompt_tokens + excluded.prompt_tokens, "
        f"completion_tokens = {day}.completion_tokens + excluded.completion_tokens, "
        f"cost_nanos = {day}.cost_nanos + excluded.cost_nanos"
    )


async def lease_close(db: AsyncDb, lease_id: str, *, closed_at: datetime) -> int | None:
    """Settle the lease with what its generations cost (its unspent rest goes back to the
    wallet) and add them to the roll-up; the charge, or None if it was closed already."""
    settle = (
        f"UPDATE {Hold._meta.db_table} SET status = 'settled', charge_nanos = {_charge_of()}, "
        "closed_at = %s WHERE id = %s AND status IN ('open', 'expired') RETURNING charge_nanos"
    )
    settled, _ = await db.transaction(
        [
            (settle, (lease_id, db_time(closed_at), lease_id)),
            (rollup_sql(db.vendor), (lease_id,)),  # no row returned: the transaction goes on
        ]
    )
    return None if settled is None else int(settled[0])


def leases_close_expired_sql() -> str:
    """The sweep of leases whose process died: settled with their generations' cost. (Every
    hold is swept past its expiry; a lease is charged, a request's own hold released.)"""
    return (
        f"UPDATE {Hold._meta.db_table} SET status = 'settled', "
        f"charge_nanos = {_charge_of(f'{Hold._meta.db_table}.id')}, closed_at = %s "
        f"WHERE status = 'open' AND expires_at < %s AND id LIKE '{LEASE_PREFIX}%%' RETURNING id"
    )
