from django.db import models

from marketplace.keys.models import ApiKey


class KeyRateLimit(models.Model):
    """An API key's own rate limits, in place of the operator's RATE_LIMIT_RPM / RATE_LIMIT_TPM.

    Empty means the operator's default, 0 means unlimited. Gateways read it through a cache
    (RATE_LIMIT_CACHE_TTL_S), so a change takes effect within that many seconds."""

    api_key = models.OneToOneField(ApiKey, on_delete=models.CASCADE, related_name="rate_limit")
    rpm = models.PositiveIntegerField(
        null=True, blank=True, help_text="requests per minute; empty: the default, 0: unlimited"
    )
    tpm = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="tokens per minute (prompt estimate plus max_tokens, counted at admission); "
        "empty: the default, 0: unlimited",
    )

    def __str__(self) -> str:
        return f"rate limit of key {self.api_key_id}"
