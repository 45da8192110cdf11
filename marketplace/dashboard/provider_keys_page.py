"""The "Provider keys" page: the user's own provider keys (BYOK), shown by their last four."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from catalog.models import Provider
from marketplace.accounts.models import User
from marketplace.keys.models import ProviderKey
from marketplace.keys.provider_keys import (
    ProviderKeyInvalid,
    provider_key_delete,
    provider_key_set,
    provider_key_set_always_use,
)


class ProviderKeyForm(forms.Form):
    # A provider of the catalog, never a URL or host: the upstream is always the catalog's.
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.filter(is_active=True).order_by("name"), to_field_name="slug"
    )
    api_key = forms.CharField(
        label="API key", max_length=1000, widget=forms.PasswordInput(render_value=False)
    )
    always_use = forms.BooleanField(
        required=False,
        label="Always use this key (never fall back to shared endpoints when it fails)",
    )


def _form_save(user: User, form: ProviderKeyForm) -> bool:
    try:
        provider_key_set(
            user_id=user.pk,
            provider=form.cleaned_data["provider"],
            api_key=form.cleaned_data["api_key"],
            always_use=form.cleaned_data["always_use"],
        )
    except ProviderKeyInvalid as invalid:
        form.add_error("api_key", str(invalid))
        return False
    return True


@login_required
def provider_keys_page(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    form = ProviderKeyForm(request.POST if request.method == "POST" else None)
    if form.is_valid() and _form_save(request.user, form):
        messages.success(request, f"Key for {form.cleaned_data['provider'].name} saved.")
        return redirect("provider-keys")
    rows = ProviderKey.objects.filter(user=request.user).select_related("provider")
    status = 400 if form.is_bound else 200
    return render(
        request, "dashboard/provider_keys.html", {"form": form, "rows": rows}, status=status
    )


@login_required
@require_POST
def provider_key_remove(request: HttpRequest, key_id: int) -> HttpResponse:
    assert isinstance(request.user, User)
    if not provider_key_delete(user_id=request.user.pk, key_id=key_id):
        raise Http404
    messages.success(request, "Provider key deleted.")
    return redirect("provider-keys")


@login_required
@require_POST
def provider_key_always_use(request: HttpRequest, key_id: int) -> HttpResponse:
    assert isinstance(request.user, User)
    always_use = request.POST.get("always_use") == "1"
    if not provider_key_set_always_use(
        user_id=request.user.pk, key_id=key_id, always_use=always_use
    ):
        raise Http404
    return redirect("provider-keys")
