"""The credits page: balance, buying credits with a card (Stripe.js), auto top-up, history.

The card is collected by Stripe.js with a SetupIntent (it never touches our servers); the
server then charges it for the credits plus the fee and credits the wallet at once. A card
that needs authentication (3-D Secure) is confirmed in the browser; the webhook credits it.
"""

from decimal import Decimal, InvalidOperation

import stripe
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.auto_topup import NoSavedCard, auto_topup_configure
from billing.models import AutoTopUp, CreditPurchase, LedgerEntry, StripeCustomer
from billing.money import display_usd, format_usd
from billing.purchases import (
    CENT_NANOS,
    PurchaseRefused,
    checkout_pay,
    checkout_setup,
    purchase_quote,
)
from billing.services import wallet_get_or_create
from marketplace.accounts.models import User


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


class AutoTopUpForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Top up automatically")
    threshold_usd = forms.DecimalField(min_value=0, decimal_places=2, label="When below (USD)")
    amount_usd = forms.DecimalField(min_value=0, decimal_places=2, label="Buy (USD)")


def _fee_schedule() -> dict[str, str]:
    return {
        "fee_percent": str(Decimal(settings.CREDIT_PURCHASE_FEE_BPS) / 100),
        "fee_min_usd": settings.CREDIT_PURCHASE_FEE_MIN_USD,
        "min_usd": settings.CREDIT_PURCHASE_MIN_USD,
        "max_usd": settings.CREDIT_PURCHASE_MAX_USD,
    }


@login_required
def credits_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    wallet = wallet_get_or_create(user=user)
    customer = StripeCustomer.objects.filter(user=user).first()
    config = AutoTopUp.objects.filter(wallet=wallet).first()
    form = AutoTopUpForm(
        initial={
            "enabled": config.enabled if config else False,
            "threshold_usd": format_usd(config.threshold_nanos) if config else "5",
            "amount_usd": format_usd(config.amount_nanos) if config else "20",
        }
    )
    context = {
        "balance_nanos": wallet.balance_nanos,
        "negative": wallet.balance_nanos < 0,
        "purchases": CreditPurchase.objects.filter(wallet=wallet)[:50],
        "entries": LedgerEntry.objects.filter(wallet=wallet)[:50],
        "saved_card": customer.saved_card_label if customer else "",
        "auto_topup": config,
        "form": form,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        **_fee_schedule(),
    }
    return render(request, "dashboard/credits.html", context)


def _json_error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"code": status, "message": message}}, status=status)


def _amount(raw: str | None) -> Decimal:
    try:
        return purchase_amount_checked(Decimal(raw or ""))
    except InvalidOperation:
        raise PurchaseRefused("Enter an amount in USD, e.g. 10") from None


def purchase_amount_checked(amount: Decimal) -> Decimal:
    purchase_quote(amount)  # raises PurchaseRefused outside the allowed range
    return amount


@login_required
@require_POST
def credits_quote(request: HttpRequest) -> JsonResponse:
    try:
        quote = purchase_quote(_amount(request.POST.get("amount_usd")))
    except PurchaseRefused as refused:
        return _json_error(str(refused))
    return JsonResponse({"credits": display_usd(quote.amount_nanos),
                         "fee": display_usd(quote.fee_nanos),
                         "total": display_usd(quote.total_cents * CENT_NANOS)})  # fmt: skip


@login_required
@require_POST
def credits_setup(request: HttpRequest) -> JsonResponse:
    """A SetupIntent's client secret, for Stripe.js to collect the card."""
    try:
        return JsonResponse({"client_secret": checkout_setup(user=_user(request))})
    except stripe.StripeError as error:
        return _json_error(f"The payment service failed: {error.user_message or error}", 502)


@login_required
@require_POST
def credits_pay(request: HttpRequest) -> JsonResponse:
    """Charge the collected card for the credits and the fee."""
    payment_method = request.POST.get("payment_method", "")
    if not payment_method.startswith("pm_"):
        return _json_error("No card was collected")
    try:
        checkout = checkout_pay(
            user=_user(request),
            amount_usd=_amount(request.POST.get("amount_usd")),
            payment_method_id=payment_method,
            save_card=request.POST.get("save_card") == "on",
        )
    except PurchaseRefused as refused:
        return _json_error(str(refused))
    except stripe.StripeError as error:
        return _json_error(f"The payment failed: {error.user_message or error}", 402)
    purchase = checkout.purchase
    return JsonResponse({
        "purchase": purchase.pk,
        "status": purchase.status,
        "message": purchase.failure_message,
        "action_client_secret": checkout.action_client_secret,
    })  # fmt: skip


@login_required
def purchase_status(request: HttpRequest, purchase_id: int) -> JsonResponse:
    purchase = CreditPurchase.objects.filter(pk=purchase_id, wallet__user=_user(request)).first()
    if purchase is None:
        return _json_error("No such purchase", 404)
    return JsonResponse({"status": purchase.status, "message": purchase.failure_message})


@login_required
@require_POST
def auto_topup_save(request: HttpRequest) -> HttpResponse:
    form = AutoTopUpForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the auto top-up amounts.")
        return redirect("credits")
    try:
        auto_topup_configure(
            user=_user(request),
            enabled=form.cleaned_data["enabled"],
            threshold_usd=form.cleaned_data["threshold_usd"],
            amount_usd=form.cleaned_data["amount_usd"],
        )
    except (PurchaseRefused, NoSavedCard) as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Auto top-up saved.")
    return redirect("credits")
