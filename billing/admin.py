"""Operators see wallets, the ledger, holds and generations; nobody edits money here.

Corrections are new ledger entries (`billing.services.ledger_post`), never edits.
"""

from django.contrib import admin
from django.http import HttpRequest

from billing.models import (
    AutoTopUp,
    CreditPurchase,
    Generation,
    Hold,
    LedgerEntry,
    StripeEvent,
    Wallet,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("user", "balance_nanos", "reserved_nanos", "created_at")
    search_fields = ("user__email",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "wallet", "kind", "amount_nanos", "balance_after_nanos",
                    "idempotency_key")  # fmt: skip
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "reference", "wallet__user__email")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("id", "wallet", "status", "amount_nanos", "charge_nanos", "expires_at")
    list_filter = ("status",)


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "user", "model_slug", "provider_slug", "cost_nanos",
                    "finish_reason", "cancelled")  # fmt: skip
    list_filter = ("provider_slug", "finish_reason", "cancelled", "streamed")
    search_fields = ("id", "user__email", "model_slug")


@admin.register(CreditPurchase)
class CreditPurchaseAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "wallet", "kind", "status", "amount_nanos", "fee_nanos",
                    "total_cents", "refunded_cents", "payment_intent_id")  # fmt: skip
    list_filter = ("kind", "status")
    search_fields = ("payment_intent_id", "wallet__user__email")


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "type", "event_id", "processed_at")
    list_filter = ("type",)
    search_fields = ("event_id",)


@admin.register(AutoTopUp)
class AutoTopUpAdmin(ReadOnlyAdmin):
    list_display = ("wallet", "enabled", "threshold_nanos", "amount_nanos",
                    "consecutive_failures", "disabled_reason")  # fmt: skip
