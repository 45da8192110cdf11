from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_limit_set


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("prefix", "name", "user", "is_management", "disabled", "created_at",
                    "expires_at", "revoked_at")  # fmt: skip
    list_filter = ("is_management", "disabled")
    search_fields = ("prefix", "name", "user__email")
    # The usage counters belong to the database's hold triggers; limits go through the service.
    readonly_fields = ("prefix", "key_hash", "is_management", "created_at", "updated_at",
                       "usage_nanos", "period_usage_nanos", "period_start",
                       "reserved_nanos")  # fmt: skip

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        limit_changed = {"limit_nanos", "limit_reset"} & set(form.changed_data)
        if not change or not limit_changed:
            super().save_model(request, obj, form, change)
            return
        limit_nanos, limit_reset = obj.limit_nanos, obj.limit_reset
        obj.refresh_from_db(fields=["limit_nanos", "limit_reset"])
        super().save_model(request, obj, form, change)
        api_key_limit_set(api_key=obj, limit_nanos=limit_nanos, limit_reset=limit_reset)
