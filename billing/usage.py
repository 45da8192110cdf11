"""Metering on the gateway's request path: short SQL through the async seam (no ORM).

`usage_settle` is the one function that charges a wallet for a generation. In this first
version a request is charged after it completes; the hold-then-settle design replaces the
body of this function, not its callers.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from billing.models import Generation, LedgerEntry, Wallet
from billing.money import Charge, Usage
from marketplace.asyncdb import AsyncDb, Statement


@dataclass(frozen=True, slots=True)
class UsageRecord:
    generation_id: str
    user_id: int
    api_key_id: int
    model_slug: str
    provider_slug: str
    upstream_id: str
    streamed: bool
    finish_reason: str
    usage: Usage
    charge: Charge
    latency_ms: int
    created_at: datetime


def _generation_insert(record: UsageRecord) -> Statement:
    sql = (
        f"INSERT INTO {Generation._meta.db_table} (id, user_id, api_key_id, model_slug, "
        "provider_slug, upstream_id, streamed, finish_reason, prompt_tokens, completion_tokens, "
        "cost_nanos, provider_cost_nanos, latency_ms, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (id) DO NOTHING RETURNING id"
    )
    params = (
        record.generation_id, record.user_id, record.api_key_id, record.model_slug,
        record.provider_slug, record.upstream_id[:200], record.streamed, record.finish_reason,
        record.usage.prompt_tokens, record.usage.completion_tokens, record.charge.total_nanos,
        record.charge.provider_cost_nanos, record.latency_ms,
        connection.ops.adapt_datetimefield_value(record.created_at),
    )  # fmt: skip
    return sql, params


def _wallet_debit(record: UsageRecord) -> Statement:
    sql = (
        f"UPDATE {Wallet._meta.db_table} SET balance_nanos = balance_nanos - %s "
        "WHERE user_id = %s RETURNING id"
    )
    return sql, (record.charge.total_nanos, record.user_id)


def _ledger_insert(record: UsageRecord) -> Statement:
    # Reads the balance this transaction has just written (the row stays locked until commit).
    sql = (
        f"INSERT INTO {LedgerEntry._meta.db_table} (wallet_id, kind, amount_nanos, "
        "balance_after_nanos, idempotency_key, reference, created_at) "
        "SELECT id, %s, %s, balance_nanos, %s, %s, %s "
        f"FROM {Wallet._meta.db_table} WHERE user_id = %s RETURNING id"
    )
    params = (
        LedgerEntry.Kind.USAGE.value, -record.charge.total_nanos,
        f"usage:{record.generation_id}", f"{record.model_slug} via {record.provider_slug}",
        connection.ops.adapt_datetimefield_value(record.created_at), record.user_id,
    )  # fmt: skip
    return sql, params


async def usage_settle(db: AsyncDb, record: UsageRecord) -> bool:
    """Charge the wallet for one generation and record it, in one transaction.

    Idempotent on the generation id: settling again changes nothing and returns False.
    """
    statements = [_generation_insert(record)]
    if record.charge.total_nanos:
        statements += [_wallet_debit(record), _ledger_insert(record)]
    rows = await db.transaction(statements)
    return all(row is not None for row in rows)


async def credits_totals(db: AsyncDb, *, user_id: int) -> tuple[int, int]:
    """(credits ever added, usage ever charged) in nanos; their difference is the balance."""
    sql = (
        "SELECT COALESCE(SUM(CASE WHEN e.amount_nanos > 0 THEN e.amount_nanos ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN e.amount_nanos < 0 THEN -e.amount_nanos ELSE 0 END), 0) "
        f"FROM {LedgerEntry._meta.db_table} e JOIN {Wallet._meta.db_table} w "
        "ON w.id = e.wallet_id WHERE w.user_id = %s"
    )
    row = await db.fetchone(sql, (user_id,))
    return (int(row[0]), int(row[1])) if row else (0, 0)
