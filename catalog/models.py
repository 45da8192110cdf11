"""Models, providers, and endpoints (a model served by a provider, at that provider's prices)."""

from django.db import models


def _default_text_modalities() -> list[str]:
    return ["text"]


class Model(models.Model):
    slug = models.CharField(max_length=200, unique=True, help_text="author/name")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    context_length = models.PositiveIntegerField()
    input_modalities = models.JSONField(default=_default_text_modalities)
    output_modalities = models.JSONField(default=_default_text_modalities)
    tokenizer = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("slug",)

    def __str__(self) -> str:
        return self.slug


class Provider(models.Model):
    class Adapter(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic Messages"
        GEMINI = "gemini", "Google Gemini"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    adapter = models.CharField(max_length=20, choices=Adapter.choices, default=Adapter.OPENAI)
    base_url = models.URLField(help_text="Upstream API base, e.g. https://api.example.com/v1")
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding this provider's API key.",
    )
    is_active = models.BooleanField(default=True)
    # Shown by GET /api/v1/providers, as OpenRouter does.
    privacy_policy_url = models.URLField(blank=True)
    terms_of_service_url = models.URLField(blank=True)
    status_page_url = models.URLField(blank=True)
    headquarters = models.CharField(max_length=2, blank=True, help_text="ISO country code")
    datacenters = models.JSONField(default=list, blank=True, help_text="ISO country codes")
    inference_fee_bps = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Platform markup on this provider's token prices (basis points); "
        "empty = the global INFERENCE_FEE_BPS.",
    )

    class Meta:
        ordering = ("slug",)

    def __str__(self) -> str:
        return self.name


class Endpoint(models.Model):
    class Variant(models.TextChoices):
        # Free endpoints are reached only as `<model>:free`, never by the plain model slug,
        # so nobody lands on a rate-limited free tier by accident.
        STANDARD = "", "Standard"
        FREE = "free", "Free"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="endpoints")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="endpoints")
    variant = models.CharField(
        max_length=16, choices=Variant.choices, default=Variant.STANDARD, blank=True
    )
    upstream_model_id = models.CharField(max_length=200)
    prompt_usd_per_mtok = models.DecimalField(max_digits=18, decimal_places=9)
    completion_usd_per_mtok = models.DecimalField(max_digits=18, decimal_places=9)
    request_usd = models.DecimalField(max_digits=18, decimal_places=9, default=0)
    context_length = models.PositiveIntegerField()
    max_output_tokens = models.PositiveIntegerField()
    supported_parameters = models.JSONField(default=list)
    quantization = models.CharField(
        max_length=16, blank=True, help_text="e.g. fp8, bf16; empty = unknown"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ("model", "prompt_usd_per_mtok")
        constraints = [
            models.UniqueConstraint(
                fields=["model", "provider", "variant"], name="endpoint_model_provider_variant"
            ),
            models.CheckConstraint(
                condition=models.Q(prompt_usd_per_mtok__gte=0)
                & models.Q(completion_usd_per_mtok__gte=0)
                & models.Q(request_usd__gte=0),
                name="endpoint_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.slug} @ {self.provider.slug}"
