"""Writes to wallets and the ledger (synchronous, ORM; the gateway's async path is in usage.py).

The balance itself is moved by the database when an entry is inserted (migration 0003);
these functions choose the entry and keep it idempotent.
"""

import uuid
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from billing.leases import leases_close_expired_sql, rollup_sql
from billing.models import Hold, LedgerEntry, Wallet
from marketplace.accounts.models import User


def wallet_get_or_create(*, user: User) -> Wallet:
    wallet, _ = Wallet.objects.get_or_create(user=user)
    return wallet


def ledger_post(
    *,
    user: User,
    amount_nanos: int,
    kind: LedgerEntry.Kind,
    idempotency_key: str,
    reference: str = "",
) -> LedgerEntry:
    """Post one entry to a wallet. Idempotent on `idempotency_key`: a repeat returns the first.

    Debits may take the balance below zero (refunds, disputes); holds then refuse until a
    top-up.
    """
    if amount_nanos == 0:
        raise ValueError("a ledger entry moves money")
    wallet = wallet_get_or_create(user=user)
    try:
        with transaction.atomic():
            locked = Wallet.objects.select_for_update().get(pk=wallet.pk)
            return LedgerEntry.objects.create(
                wallet=locked,
                kind=kind,
                amount_nanos=amount_nanos,
                balance_after_nanos=locked.balance_nanos + amount_nanos,
                idempotency_key=idempotency_key,
                reference=reference,
            )
    except IntegrityError:
        existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing


def wallet_credit(
    *,
    user: User,
    amount_nanos: int,
    kind: LedgerEntry.Kind,
    idempotency_key: str,
    reference: str = "",
) -> LedgerEntry:
    """Add money to a wallet. Idempotent on `idempotency_key`."""
    if amount_nanos <= 0:
        raise ValueError("a credit must be positive")
    return ledger_post(user=user, amount_nanos=amount_nanos, kind=kind,
                       idempotency_key=idempotency_key, reference=reference)  # fmt: skip


def credits_grant(*, user: User, amount_nanos: int, reference: str = "") -> LedgerEntry:
    """An operator's grant of credit (each call is a new grant)."""
    return wallet_credit(
        user=user,
        amount_nanos=amount_nanos,
        kind=LedgerEntry.Kind.GRANT,
        idempotency_key=f"grant:{uuid.uuid4()}",
        reference=reference,
    )


def holds_expire(*, now: datetime) -> int:
    """Close the holds of processes that died (killed) once they are past expiry: a request's
    own hold is released, a wallet lease is settled with what its recorded generations cost
    (billing.leases). The database gives each reservation back as its hold closes. Returns
    how many were closed."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            at = connection.ops.adapt_datetimefield_value(now)
            cursor.execute(leases_close_expired_sql(), [at, at])
            swept = [lease_id for (lease_id,) in cursor.fetchall()]
            for lease_id in swept:
                cursor.execute(rollup_sql(connection.vendor), [lease_id])
        released = Hold.objects.filter(status=Hold.Status.OPEN, expires_at__lt=now).update(
            status=Hold.Status.EXPIRED, closed_at=now
        )
    return len(swept) + int(released)
