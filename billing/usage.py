"""Metering on the gateway's request path: hold, then settle, as short SQL (no ORM).

Each proxied request holds the most it can cost before it is forwarded (`hold_open`: one
INSERT; the database's trigger reserves the amount on the wallet and the key, or refuses), and
settles however it ends (`usage_settle`: one transaction that closes the hold with the actual
charge, which makes the trigger write the `usage:<generation id>` ledger entry, and records
the generation). The rules live in the database (migration 0003); this module only asks.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.models import Generation, Hold, LedgerEntry, Wallet
from billing.money import Charge, Usage
from marketplace.asyncdb import AsyncDb, DatabaseRefusal, Statement, db_time

logger = logging.getLogger(__name__)

REFUSALS = ("insufficient_credits", "key_limit_exceeded")


class HoldRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HoldRequest:
    hold_id: str
    wallet_id: int
    api_key_id: int
    amount_nanos: int
    key_period_start: datetime
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class UsageRecord:
    generation_id: str
    user_id: int
    api_key_id: int
    model_slug: str
    provider_slug: str
    upstream_id: str
    streamed: bool
    cancelled: bool
    finish_reason: str
    native_finish_reason: str
    usage: Usage
    usage_estimated: bool
    charge: Charge
    latency_ms: int
    generation_time_ms: int
    created_at: datetime
    is_byok: bool = False  # served with the user's own provider key
    lease_id: str | None = None  # served under a wallet lease (billing.leases), not a hold


async def hold_open(db: AsyncDb, hold: HoldRequest) -> None:
    """Reserve `amount_nanos`; raises HoldRefused when the wallet or the key cannot cover it."""
    sql = (
        f"INSERT INTO {Hold._meta.db_table} (id, wallet_id, api_key_id, amount_nanos, "
        "charge_nanos, key_period_start, status, created_at, expires_at) "
        "VALUES (%s, %s, %s, %s, 0, %s, 'open', %s, %s) RETURNING id"
    )
    params = (
        hold.hold_id, hold.wallet_id, hold.api_key_id, hold.amount_nanos,
        db_time(hold.key_period_start), db_time(hold.created_at), db_time(hold.expires_at),
    )  # fmt: skip
    try:
        await db.fetchone(sql, params)
    except DatabaseRefusal as refusal:
        reason = next((r for r in REFUSALS if r in refusal.reason), None)
        if reason is None:
            raise
        raise HoldRefused(reason) from refusal


def _hold_close(record: UsageRecord) -> Statement:
    # An expired hold (swept while its request still ran) can still be settled once: the
    # usage is charged, and its reservation was already given back by the sweep.
    sql = (
        f"UPDATE {Hold._meta.db_table} SET status = 'settled', charge_nanos = %s, "
        "closed_at = %s WHERE id = %s AND status IN ('open', 'expired') RETURNING amount_nanos"
    )
    return sql, (record.charge.total_nanos, db_time(record.created_at), record.generation_id)


# A generation row's columns, with their PostgreSQL types (for billing.leases' batch INSERT).
GENERATION_COLUMNS = (
    ("id", "varchar"), ("user_id", "bigint"), ("api_key_id", "bigint"),
    ("model_slug", "varchar"), ("provider_slug", "varchar"), ("upstream_id", "varchar"),
    ("streamed", "boolean"), ("cancelled", "boolean"), ("finish_reason", "varchar"),
    ("native_finish_reason", "varchar"), ("prompt_tokens", "integer"),
    ("completion_tokens", "integer"), ("usage_estimated", "boolean"), ("cost_nanos", "bigint"),
    ("provider_cost_nanos", "bigint"), ("latency_ms", "integer"),
    ("generation_time_ms", "integer"), ("created_at", "timestamptz"), ("is_byok", "boolean"),
    ("lease_id", "varchar"),
)  # fmt: skip


def generation_values(record: UsageRecord) -> tuple[Any, ...]:
    """The record's generation row, in the order of GENERATION_COLUMNS."""
    return (
        record.generation_id, record.user_id, record.api_key_id, record.model_slug,
        record.provider_slug, record.upstream_id[:200], record.streamed, record.cancelled,
        record.finish_reason[:32], record.native_finish_reason[:64], record.usage.prompt_tokens,
        record.usage.completion_tokens, record.usage_estimated, record.charge.total_nanos,
        record.charge.provider_cost_nanos, record.latency_ms, record.generation_time_ms,
        db_time(record.created_at), record.is_byok, record.lease_id,
    )  # fmt: skip


# One generation's values in an INSERT: a row of GENERATION_COLUMNS.
GENERATION_PLACEHOLDERS = ", ".join(["%s"] * len(GENERATION_COLUMNS))


# How every INSERT of generations begins (here, and billing.leases' batches).
GENERATION_INSERT_INTO = (
    f"INSERT INTO {Generation._meta.db_table} ({', '.join(name for name, _ in GENERATION_COLUMNS)})"
)


def _generation_insert(record: UsageRecord) -> Statement:
    sql = f"{GENERATION_INSERT_INTO} VALUES ({GENERATION_PLACEHOLDERS}) RETURNING id"
    return sql, generation_values(record)


def _settle_statement(record: UsageRecord) -> Statement:
    """PostgreSQL: both writes in one statement (one round trip, one commit)."""
    hold_sql, hold_params = _hold_close(record)
    sql = (
        f"WITH closed AS ({hold_sql}) "
        f"{GENERATION_INSERT_INTO} SELECT {GENERATION_PLACEHOLDERS} FROM closed "
        "RETURNING (SELECT amount_nanos FROM closed)"
    )
    return sql, (*hold_params, *generation_values(record))


async def usage_settle(db: AsyncDb, record: UsageRecord) -> bool:
    """Close the request's hold with its actual charge and record the generation, atomically.

    Idempotent on the generation id (= hold id): settling again changes nothing, returns False.
    """
    if db.vendor == "postgresql":
        row = await db.fetchone(*_settle_statement(record))
        held = None if row is None else row[0]
    else:
        hold_row, generation_row = await db.transaction(
            [_hold_close(record), _generation_insert(record)]
        )
        held = None if hold_row is None or generation_row is None else hold_row[0]
    if held is None:
        return False
    if record.charge.total_nanos > held:
        await _report_overage(db, record, held_nanos=int(held))
    return True


async def _report_overage(db: AsyncDb, record: UsageRecord, *, held_nanos: int) -> None:
    """A provider reported more usage than the hold's bound: charged anyway, and reported."""
    row = await db.fetchone(
        f"SELECT balance_nanos FROM {Wallet._meta.db_table} WHERE user_id = %s",
        (record.user_id,),
    )
    balance = int(row[0]) if row else 0
    logger.warning(
        "billing anomaly: generation %s charged %d nanos over a hold of %d; wallet balance %d%s",
        record.generation_id, record.charge.total_nanos, held_nanos, balance,
        " (negative: paid requests are blocked until a top-up)" if balance < 0 else "",
    )  # fmt: skip


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
