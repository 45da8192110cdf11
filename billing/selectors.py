"""Reads of the ledger: the reconciliation that proves the cached balances right."""

from dataclasses import dataclass
from typing import Any

from django.db.models import F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import Hold, LedgerEntry, Wallet
from marketplace.keys.models import ApiKey


@dataclass(frozen=True)
class Mismatch:
    what: str
    cached_nanos: int
    actual_nanos: int

    def __str__(self) -> str:
        return f"{self.what}: cached {self.cached_nanos} != actual {self.actual_nanos}"


def _amount_sum(rows: QuerySet[Any], owner: str) -> Coalesce:
    """Sum of `amount_nanos` of `rows` belonging to the outer row (via the `owner` FK)."""
    per_owner = rows.filter(**{owner: OuterRef("pk")}).values(owner)
    return Coalesce(
        Subquery(per_owner.annotate(total=Sum("amount_nanos")).values("total")), Value(0)
    )


def ledger_mismatches() -> list[Mismatch]:
    """Wallets whose balance is not the sum of their entries or whose reservation is not the
    sum of their open holds, and keys whose reservation is not the sum of their open holds."""
    open_holds = Hold.objects.filter(status=Hold.Status.OPEN)
    wallets = Wallet.objects.annotate(
        entries_sum=_amount_sum(LedgerEntry.objects.all(), "wallet"),
        held_sum=_amount_sum(open_holds, "wallet"),
    ).exclude(balance_nanos=F("entries_sum"), reserved_nanos=F("held_sum"))
    keys = ApiKey.objects.annotate(held_sum=_amount_sum(open_holds, "api_key")).exclude(
        reserved_nanos=F("held_sum")
    )
    mismatches = []
    for wallet in wallets:
        mismatches += [
            Mismatch(f"wallet {wallet.pk} {name}", cached, actual)
            for name, cached, actual in (
                ("balance", wallet.balance_nanos, wallet.entries_sum),
                ("reserved", wallet.reserved_nanos, wallet.held_sum),
            )
            if cached != actual
        ]
    mismatches += [
        Mismatch(f"api key {key.pk} reserved", key.reserved_nanos, key.held_sum) for key in keys
    ]
    return mismatches
