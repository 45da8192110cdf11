from django.contrib import admin

from proxy.models import KeyRateLimit


@admin.register(KeyRateLimit)
class KeyRateLimitAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("api_key", "rpm", "tpm")
    raw_id_fields = ("api_key",)
