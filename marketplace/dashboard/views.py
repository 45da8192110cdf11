"""Pages for signed-in users. A composition layer: reads billing and catalog selectors."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing.models import Wallet
from billing.money import format_usd
from catalog.listing import cheapest_paid_models, listed_model_count, serving_provider_count
from marketplace.accounts.models import User
from marketplace.dashboard.catalog_pages import fastest_models, model_throughputs
from marketplace.dashboard.forms import KeyCreateForm
from marketplace.keys.models import ApiKey
from marketplace.keys.selectors import (
    KeySpend,
    api_key_spends,
    api_keys_listed,
    key_creation_allowed,
)
from marketplace.keys.services import api_key_create, api_key_revoke, api_key_update

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


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A key as the keys page shows it."""

    key: ApiKey
    spend: KeySpend
    status: str


def _key_rows(user: User) -> list[KeyRow]:
    keys = list(api_keys_listed(user_id=user.pk))
    now = timezone.now()
    spends = api_key_spends(keys, now=now)
    return [KeyRow(key, spends[key.pk], _key_status(key, now=now)) for key in keys]


def _key_status(key: ApiKey, *, now: datetime) -> str:
    if key.disabled:
        return "disabled"
    return "expired" if key.is_expired(now) else "active"


def _key_create(user: User, form: KeyCreateForm) -> str:
    _, plaintext = api_key_create(
        user=user,
        name=form.cleaned_data["name"],
        limit_nanos=form.cleaned_data["limit_nanos"],
        limit_reset=form.cleaned_data["limit_reset"],
        is_management=form.cleaned_data["is_management"],
    )
    return plaintext


@login_required
def keys(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    can_create = key_creation_allowed(user=request.user)
    new_key = None
    form = KeyCreateForm(request.POST if request.method == "POST" and can_create else None)
    if form.is_valid():
        new_key = _key_create(request.user, form)
        form = KeyCreateForm()
    context = {
        "form": form,
        "can_create": can_create,
        "rows": _key_rows(request.user),
        "new_key": new_key,
        "balance_usd": _balance_usd(request.user),
    }
    status = 403 if request.method == "POST" and not can_create else 200
    return render(request, "dashboard/keys.html", context, status=status)


def _own_key(request: HttpRequest, key_id: int) -> ApiKey:
    """A key of the signed-in user that is not deleted; anyone else's is a 404."""
    return get_object_or_404(ApiKey, pk=key_id, user=request.user, revoked_at__isnull=True)


@login_required
@require_POST
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = _own_key(request, key_id)
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.prefix}… deleted.")
    return redirect("dashboard")


@login_required
@require_POST
def key_disabled_set(request: HttpRequest, key_id: int, *, disabled: bool) -> HttpResponse:
    api_key = _own_key(request, key_id)
    api_key_update(api_key=api_key, disabled=disabled)
    state = "disabled" if disabled else "enabled"
    messages.success(request, f"Key {api_key.prefix}… {state}.")
    return redirect("dashboard")
