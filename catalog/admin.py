"""Operators edit providers, models, endpoints and their prices here. Gateways pick changes up
within CATALOG_CACHE_TTL_S seconds; an endpoint's prices apply to requests routed after that."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from catalog.models import Endpoint, Model, Provider


class EndpointInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Endpoint
    extra = 0
    fields = ("provider", "variant", "upstream_model_id", "prompt_usd_per_mtok",
              "completion_usd_per_mtok", "request_usd", "context_length", "max_output_tokens",
              "quantization", "is_active")  # fmt: skip
    autocomplete_fields = ("provider",)
    show_change_link = True


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "context_length", "endpoint_count", "created_at")
    search_fields = ("slug", "name")
    list_filter = ("tokenizer",)
    inlines = (EndpointInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        models: QuerySet[Model] = super().get_queryset(request)
        return models.annotate(endpoint_total=Count("endpoints"))

    @admin.display(description="endpoints", ordering="endpoint_total")
    def endpoint_count(self, model: Model) -> int:
        return int(getattr(model, "endpoint_total", 0))


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "adapter", "base_url", "api_key_env", "inference_fee_bps",
                    "is_active")  # fmt: skip
    list_editable = ("is_active",)
    list_filter = ("adapter", "is_active")
    search_fields = ("slug", "name", "base_url")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "__str__",
        "variant",
        "prompt_usd_per_mtok",
        "completion_usd_per_mtok",
        "request_usd",
        "context_length",
        "quantization",
        "is_active",
    )
    list_editable = (
        "prompt_usd_per_mtok",
        "completion_usd_per_mtok",
        "request_usd",
        "is_active",
    )
    list_filter = ("provider", "is_active", "variant", "quantization")
    list_select_related = ("model", "provider")
    search_fields = ("model__slug", "model__name", "provider__slug", "provider__name",
                     "upstream_model_id")  # fmt: skip
    autocomplete_fields = ("model", "provider")
    list_per_page = 50
