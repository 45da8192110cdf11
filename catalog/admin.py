from django.contrib import admin

from catalog.models import Endpoint, Model, Provider


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "context_length")
    search_fields = ("slug", "name")


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "adapter", "base_url", "is_active")


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "model",
        "provider",
        "prompt_usd_per_mtok",
        "completion_usd_per_mtok",
        "context_length",
        "is_active",
    )
    list_filter = ("provider", "is_active")
