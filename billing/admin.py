"""Operators see wallets, the ledger, holds and generations; nobody edits money here.

Corrections are new ledger entries (`billing.services.ledger_post`), never edits: the wallet
page's "Adjust balance" form posts one ADJUSTMENT entry.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from billing.models import (
    AutoTopUp,
    CreditPurchase,
    Generation,
    Hold,
    LedgerEntry,
    StripeEvent,
    Wallet,
)
from billing.money import display_usd, usd_to_nanos
from billing.services import ledger_post


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# A guard against a slipped finger, not a business rule.
ADJUSTMENT_MAX_USD = Decimal(1_000_000)


class WalletAdjustmentForm(forms.Form):
    amount_usd = forms.DecimalField(
        label="Amount (USD)",
        max_digits=18,
        decimal_places=9,
        min_value=-ADJUSTMENT_MAX_USD,
        max_value=ADJUSTMENT_MAX_USD,
        help_text="Positive adds credit, negative takes it away (the balance may go below zero).",
    )
    reason = forms.CharField(max_length=150, help_text="Recorded on the ledger entry.")
    # Made when the form is shown: submitting the same form twice posts one entry.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def clean_amount_usd(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount_usd"]
        if amount == 0:
            raise forms.ValidationError("An adjustment moves money: enter a non-zero amount.")
        return amount


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("user", "balance", "reserved_nanos", "created_at", "adjust_link")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    readonly_fields = ("user", "balance", "balance_nanos", "reserved_nanos", "created_at",
                       "ledger_link")  # fmt: skip
    change_form_template = "admin/billing/wallet/change_form.html"

    @admin.display(description="balance", ordering="balance_nanos")
    def balance(self, wallet: Wallet) -> str:
        return display_usd(wallet.balance_nanos)

    @admin.display(description="")
    def adjust_link(self, wallet: Wallet) -> str:
        url = reverse("admin:billing_wallet_adjust", args=[wallet.pk])
        return format_html('<a href="{}">Adjust balance</a>', url)

    @admin.display(description="ledger")
    def ledger_link(self, wallet: Wallet) -> str:
        url = reverse("admin:billing_ledgerentry_changelist")
        return format_html('<a href="{}?wallet__id__exact={}">Ledger entries</a>', url, wallet.pk)

    def get_urls(self) -> list[URLPattern]:
        adjust = path(
            "<path:object_id>/adjust/",
            self.admin_site.admin_view(self.adjust_view),
            name="billing_wallet_adjust",
        )
        return [adjust, *super().get_urls()]

    def adjust_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Post one ADJUSTMENT ledger entry (`adjustment:<uuid>`) through the ledger service."""
        if not request.user.has_perm("billing.add_ledgerentry"):
            raise PermissionDenied
        wallet = get_object_or_404(Wallet.objects.select_related("user"), pk=object_id)
        if request.method != "POST":
            form = WalletAdjustmentForm(initial={"idempotency_key": uuid.uuid4()})
            return self._adjust_form(request, wallet, form)
        form = WalletAdjustmentForm(request.POST)
        if not form.is_valid():
            return self._adjust_form(request, wallet, form)
        amount_nanos = usd_to_nanos(form.cleaned_data["amount_usd"])
        reason = f"{form.cleaned_data['reason']} (by {request.user})"
        entry = ledger_post(
            user=wallet.user,
            amount_nanos=amount_nanos,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            idempotency_key=f"adjustment:{form.cleaned_data['idempotency_key']}",
            reference=reason[:200],
        )
        # A resent form returns the entry it posted the first time: report that entry.
        change = f"Adjusted the balance by {display_usd(entry.amount_nanos)}: {entry.reference}"
        self.log_change(request, wallet, f"{change} (ledger entry {entry.pk})")
        messages.success(
            request,
            f"Posted {display_usd(entry.amount_nanos)} to {wallet.user}; "
            f"the balance after it is {display_usd(entry.balance_after_nanos)}.",
        )
        return redirect("admin:billing_wallet_change", wallet.pk)

    def _adjust_form(
        self, request: HttpRequest, wallet: Wallet, form: WalletAdjustmentForm
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": wallet,
            "title": f"Adjust the balance of {wallet.user}",
            "form": form,
            "balance": display_usd(wallet.balance_nanos),
        }
        return TemplateResponse(request, "admin/billing/wallet/adjust.html", context)


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
