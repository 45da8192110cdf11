"""The settings page: the account's default provider preferences, applied by the gateway to
every request that does not say otherwise (proxy/account_defaults.py)."""

from typing import Any

from allauth.account.models import EmailAddress
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from catalog.models import Provider
from marketplace.accounts.models import RoutingDefaults, User
from marketplace.accounts.selectors import routing_defaults_of
from marketplace.accounts.services import routing_defaults_save


class RoutingDefaultsForm(forms.Form):
    ignore = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Providers to ignore",
        help_text="Your requests never go to these providers, unless a request names one in "
        "provider.only or provider.order.",
    )
    sort = forms.ChoiceField(
        required=False,
        choices=RoutingDefaults.Sort.choices,
        widget=forms.RadioSelect,
        label="Default sort",
        help_text="How providers are ranked when a request sets no provider.sort.",
    )

    def __init__(self, *args: Any, providers: list[Provider], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ignore = self.fields["ignore"]
        assert isinstance(ignore, forms.MultipleChoiceField)
        ignore.choices = [
            (p.slug, p.name if p.is_active else f"{p.name} (inactive)") for p in providers
        ]
        self._active = {p.slug for p in providers if p.is_active}

    def clean_ignore(self) -> list[str]:
        ignore: list[str] = self.cleaned_data["ignore"]
        if self._active and self._active <= set(ignore):
            raise forms.ValidationError(
                "Ignoring every provider would leave none to serve your requests."
            )
        return ignore


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    providers = list(Provider.objects.order_by("name"))
    if request.method == "POST":
        form = RoutingDefaultsForm(request.POST, providers=providers)
        if form.is_valid():
            routing_defaults_save(
                user=user,
                ignore=form.cleaned_data["ignore"],
                sort=RoutingDefaults.Sort(form.cleaned_data["sort"]),
            )
            messages.success(request, "Settings saved. New requests use them within seconds.")
            return redirect("settings")
    else:
        current = routing_defaults_of(user=user)
        form = RoutingDefaultsForm(
            initial={"ignore": current.ignore, "sort": current.sort}, providers=providers
        )
    context = {
        "form": form,
        "email": user.email,
        "email_verified": EmailAddress.objects.filter(user=user, verified=True).exists(),
    }
    return render(request, "dashboard/settings.html", context)
