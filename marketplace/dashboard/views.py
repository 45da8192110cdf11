"""Pages for signed-in users. A composition layer: reads billing and catalog selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.models import Wallet
from billing.money import format_usd
from catalog.listing import cheapest_paid_models, listed_model_count, serving_provider_count
from marketplace.accounts.models import User
from marketplace.dashboard.catalog_pages import fastest_models, model_throughputs
from marketplace.dashboard.forms import KeyCreateForm
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create, api_key_revoke

HOME_LIST_SIZE = 5
# The example's model when the catalog is empty (a fresh install before sync_catalog).
EXAMPLE_MODEL = "openai/gpt-4o-mini"


def home(request: HttpRequest) -> HttpResponse:
    cheapest = cheapest_paid_models(limit=HOME_LIST_SIZE)
    context = {
        "model_count": listed_model_count(),
        "provider_count": serving_provider_count(),
        "cheapest": cheapest,
        "fastest": fastest_models(model_throughputs(request), limit=HOME_LIST_SIZE),
        "api_base_url": request.build_absolute_uri("/api/v1"),
        "example_model": cheapest[0].slug if cheapest else EXAMPLE_MODEL,
    }
    return render(request, "dashboard/home.html", context)


def _balance_usd(user: User) -> str:
    wallet = Wallet.objects.filter(user=user).first()
    return format_usd(wallet.balance_nanos if wallet else 0)


@login_required
def keys(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    new_key = None
    form = KeyCreateForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        _, new_key = api_key_create(user=request.user, name=form.cleaned_data["name"])
        form = KeyCreateForm()
    context = {
        "form": form,
        "keys": ApiKey.objects.filter(user=request.user),
        "new_key": new_key,
        "balance_usd": _balance_usd(request.user),
    }
    return render(request, "dashboard/keys.html", context)


@login_required
@require_POST
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id, user=request.user)
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.prefix}… revoked.")
    return redirect("dashboard")
