"""Writes to wallets and the ledger (synchronous, ORM; the gateway's async path is in usage.py)."""

import uuid

from django.db import IntegrityError, transaction
from django.db.models import F

from billing.models import LedgerEntry, Wallet
from marketplace.accounts.models import User


def wallet_get_or_create(*, user: User) -> Wallet:
    wallet, _ = Wallet.objects.get_or_create(user=user)
    return wallet


def wallet_credit(
    *,
    user: User,
    amount_nanos: int,
    kind: LedgerEntry.Kind,
    idempotency_key: str,
    reference: str = "",
) -> LedgerEntry:
    """Add money to a wallet. Idempotent on `idempotency_key`: a repeat returns the first entry."""
    if amount_nanos <= 0:
        raise ValueError("a credit must be positive")
    wallet_get_or_create(user=user)
    try:
        with transaction.atomic():
            wallet = Wallet.objects.select_for_update().get(user=user)
            Wallet.objects.filter(pk=wallet.pk).update(
                balance_nanos=F("balance_nanos") + amount_nanos
            )
            return LedgerEntry.objects.create(
                wallet=wallet,
                kind=kind,
                amount_nanos=amount_nanos,
                balance_after_nanos=wallet.balance_nanos + amount_nanos,
                idempotency_key=idempotency_key,
                reference=reference,
            )
    except IntegrityError:
        return LedgerEntry.objects.get(idempotency_key=idempotency_key)


def credits_grant(*, user: User, amount_nanos: int, reference: str = "") -> LedgerEntry:
    """An operator's grant of credit (each call is a new grant)."""
    return wallet_credit(
        user=user,
        amount_nanos=amount_nanos,
        kind=LedgerEntry.Kind.GRANT,
        idempotency_key=f"grant:{uuid.uuid4()}",
        reference=reference,
    )
