from datetime import UTC, datetime

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """An API key. Only a keyed hash and a short display prefix are stored.

    An inference key calls models; a management key (created on the web) only manages the
    account's inference keys through `/api/v1/keys`. A revoked key is deleted as far as anyone
    can tell (never listed, never authenticates); its row stays for the ledger and holds.

    A key may carry its own credit limit per period. The counters below are maintained by the
    database's hold triggers (billing migration 0003), never by application code.
    """

    class LimitReset(models.TextChoices):
        NEVER = "", "Never"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=24)
    key_hash = models.CharField(max_length=64, unique=True)
    is_management = models.BooleanField(default=False)
    disabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the services on each change of name, status or limit; null until the first.
    updated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    limit_nanos = models.BigIntegerField(null=True, blank=True)
    limit_reset = models.CharField(
        max_length=10, choices=LimitReset.choices, default=LimitReset.NEVER, blank=True
    )
    usage_nanos = models.BigIntegerField(default=0)
    period_usage_nanos = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(default=datetime(1970, 1, 1, tzinfo=UTC))
    reserved_nanos = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reserved_nanos__gte=0), name="api_key_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(limit_nanos__isnull=True) | models.Q(limit_nanos__gte=0),
                name="api_key_limit_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class ProviderKey(models.Model):
    """A user's own API key for one catalog provider (bring your own key). Only the Fernet
    token (encrypted with BYOK_ENCRYPTION_KEY) and the last four characters are stored. The
    upstream is always the catalog provider's: a user chooses a provider, never a URL."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys"
    )
    provider = models.ForeignKey("catalog.Provider", on_delete=models.CASCADE, related_name="+")
    encrypted_key = models.TextField()
    last4 = models.CharField(max_length=4)
    # No fallback to the shared keys when this key fails.
    always_use = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("provider__name",)
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="provider_key_user_provider")
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} …{self.last4}"
