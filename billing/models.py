"""Wallets, the append-only ledger, and generation records.

Every change of a wallet's balance is a `LedgerEntry` carrying a unique idempotency key
(`grant:<uuid>`, `usage:<generation id>`, ...); `Wallet.balance_nanos` caches the sum of its
entries and `ledger_check` compares the two. Corrections are new entries, never edits.
"""

from django.conf import settings
from django.db import models


class Wallet(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet"
    )
    balance_nanos = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"wallet of {self.user}"


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        TOPUP = "topup", "Top-up"
        FEE = "fee", "Fee"
        USAGE = "usage", "Usage"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_nanos = models.BigIntegerField()
    balance_after_nanos = models.BigIntegerField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount_nanos=0), name="ledger_entry_amount_not_zero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_nanos} ({self.idempotency_key})"


class Generation(models.Model):
    """One metered request: what was asked, who served it, what it cost."""

    id = models.CharField(primary_key=True, max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generations"
    )
    api_key = models.ForeignKey(
        "keys.ApiKey", null=True, on_delete=models.SET_NULL, related_name="generations"
    )
    model_slug = models.CharField(max_length=200)
    provider_slug = models.CharField(max_length=100)
    upstream_id = models.CharField(max_length=200, blank=True)
    streamed = models.BooleanField(default=False)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.IntegerField(default=0)
    completion_tokens = models.IntegerField(default=0)
    cost_nanos = models.BigIntegerField(default=0)
    provider_cost_nanos = models.BigIntegerField(default=0)
    latency_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return self.id
