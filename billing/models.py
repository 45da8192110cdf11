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
        DISPUTE = "dispute", "Dispute"
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
    # Served with the user's own provider key (BYOK): cost_nanos is then only the BYOK fee.
    is_byok = models.BooleanField(default=False, db_default=False)
    # The wallet lease it was served under (billing.leases), charged when the lease closes;
    # None: it had a hold of its own, settled with it.
    lease_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (indexed only where set)
    # Time to the first token (streams) or to the whole response, and the total duration.
    latency_ms = models.IntegerField(default=0)
    generation_time_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            # The activity page's filters by key and by model (newest first, and their sums).
            models.Index(
                fields=["user", "api_key", "-created_at"], name="generation_user_key_time"
            ),
            models.Index(
                fields=["user", "model_slug", "-created_at"], name="generation_user_model_time"
            ),
            models.Index(
                fields=["lease_id"], name="generation_lease",
                condition=models.Q(lease_id__isnull=False),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.id


class GenerationDay(models.Model):
    """Generations summed per user, UTC day, key and model: what the activity page's charts
    and totals read instead of every row. Kept by triggers on `Generation` (migration 0007)
    for inserts, updates and deletes alike, so it always equals the sum of the rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    key_id = models.BigIntegerField(help_text="The API key's id (0: none)")
    model_slug = models.CharField(max_length=200)
    requests = models.BigIntegerField()
    prompt_tokens = models.BigIntegerField()
    completion_tokens = models.BigIntegerField()
    cost_nanos = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "day", "key_id", "model_slug"], name="generation_day_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day} {self.model_slug}"


class StripeCustomer(models.Model):
    """The Stripe customer of a user (cards are saved on it for auto top-up)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_customer"
    )
    customer_id = models.CharField(max_length=255, unique=True)
    # The card saved by a purchase that asked to keep it (for auto top-up).
    saved_payment_method_id = models.CharField(max_length=255, blank=True)
    saved_card_label = models.CharField(max_length=64, blank=True, help_text="e.g. visa 4242")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.customer_id


class CreditPurchase(models.Model):
    """Credits bought with a card: one Stripe PaymentIntent for the credits plus the fee.

    Its state follows the PaymentIntent (read back from Stripe, never trusted from an event's
    order); the wallet is credited once, by ledger entries keyed on the PaymentIntent id."""

    class Kind(models.TextChoices):
        CHECKOUT = "checkout", "Bought on the credits page"
        AUTO_TOPUP = "auto_topup", "Automatic top-up"

    class Status(models.TextChoices):
        CREATED = "created", "Awaiting payment"
        SUCCEEDED = "succeeded", "Paid"
        FAILED = "failed", "Failed"

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="purchases")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHECKOUT)
    amount_nanos = models.BigIntegerField(help_text="credits bought")
    fee_nanos = models.BigIntegerField(help_text="platform fee, charged on top")
    total_cents = models.BigIntegerField(help_text="what the card is charged")
    payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    failure_message = models.TextField(blank=True)
    # What refunds have taken back so far, as debited from the wallet (cumulative cents).
    refunded_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_nanos__gt=0) & models.Q(fee_nanos__gte=0)
                & models.Q(total_cents__gt=0) & models.Q(refunded_cents__gte=0),
                name="purchase_amounts_valid",
            ),
            # Concurrent triggers of an auto top-up can create only one charge in flight.
            models.UniqueConstraint(
                fields=["wallet"],
                condition=models.Q(kind="auto_topup", status="created"),
                name="purchase_one_auto_topup_in_flight",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"purchase {self.pk} ({self.status})"


class StripeEvent(models.Model):
    """Each Stripe event is handled once: its id is unique (deliveries repeat)."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class AutoTopUp(models.Model):
    """Charge a saved card when a wallet's balance falls below a threshold."""

    wallet = models.OneToOneField(Wallet, on_delete=models.PROTECT, related_name="auto_topup")
    enabled = models.BooleanField(default=True)
    threshold_nanos = models.BigIntegerField()
    amount_nanos = models.BigIntegerField(help_text="credits bought each time")
    payment_method_id = models.CharField(max_length=255)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold_nanos__gte=0) & models.Q(amount_nanos__gt=0),
                name="auto_topup_amounts_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"auto top-up of {self.wallet}"
