"""Wallets, the append-only ledger, holds, and generation records.

Every change of a wallet's balance is a `LedgerEntry` carrying a unique idempotency key
(`grant:<uuid>`, `usage:<generation id>`, ...). Money held for requests in flight is a `Hold`.
The database guards both (triggers in migration 0002, for PostgreSQL and SQLite alike):

- inserting a ledger entry moves `Wallet.balance_nanos` by its amount and records the balance
  after it; entries can be neither updated nor deleted (corrections are new entries);
- inserting a hold reserves its amount on the wallet and on the API key, and is refused unless
  both the wallet's available balance (`balance - reserved`) and the key's limit cover it;
- closing a hold (settled, released, expired) gives its reservation back, exactly once; a hold
  that is settled or released can never change again.

`ledger_check` verifies `balance == sum(entries)` and `reserved == sum(open holds)`.
"""

from django.conf import settings
from django.db import models


class Wallet(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet"
    )
    balance_nanos = models.BigIntegerField(default=0)
    reserved_nanos = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reserved_nanos__gte=0), name="wallet_reserved_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"wallet of {self.user}"

    @property
    def available_nanos(self) -> int:
        return self.balance_nanos - self.reserved_nanos


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


class Hold(models.Model):
    """Money reserved for one request until it is settled (charged) or released."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SETTLED = "settled", "Settled"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    id = models.CharField(primary_key=True, max_length=64, help_text="The generation id")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="holds")
    api_key = models.ForeignKey("keys.ApiKey", on_delete=models.PROTECT, related_name="holds")
    amount_nanos = models.BigIntegerField()
    charge_nanos = models.BigIntegerField(default=0)
    # Start of the key's current limit period when the hold was taken (see ApiKey.limit_reset).
    key_period_start = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["expires_at"], name="hold_open_expiry",
                condition=models.Q(status="open"),
            )
        ]  # fmt: skip
        constraints = [
            # Zero for a free model: the hold still records the request and settles it once.
            models.CheckConstraint(
                condition=models.Q(amount_nanos__gte=0), name="hold_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(charge_nanos__gte=0), name="hold_charge_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.id} {self.status}"


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
    native_finish_reason = models.CharField(max_length=64, blank=True)
    # True when the provider reported no usage and the gateway counted the tokens itself.
    usage_estimated = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)
    cost_nanos = models.BigIntegerField(default=0)
    provider_cost_nanos = models.BigIntegerField(default=0)
    # Time to the first token (streams) or to the whole response, and the total duration.
    latency_ms = models.IntegerField(default=0)
    generation_time_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return self.id
