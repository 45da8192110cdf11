from decimal import Decimal
from typing import Any

from django import forms

from billing.money import usd_to_nanos
from marketplace.keys.models import ApiKey


class KeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True, label="Name")
    limit_usd = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=Decimal(1_000_000_000),
        decimal_places=9,
        widget=forms.NumberInput(attrs={"step": "any"}),
        label="Credit limit (USD, optional)",
        help_text="Leave empty for no limit beyond your balance.",
    )
    limit_reset = forms.ChoiceField(
        required=False, choices=ApiKey.LimitReset.choices, label="Limit resets"
    )
    is_management = forms.BooleanField(
        required=False,
        label="Management key",
        help_text="Creates and manages keys through the API (/api/v1/keys); cannot call models.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        limit_usd: Decimal | None = cleaned.get("limit_usd")
        if cleaned.get("is_management") and (limit_usd is not None or cleaned.get("limit_reset")):
            self.add_error("limit_usd", "A management key cannot call models: it has no limit.")
        elif cleaned.get("limit_reset") and limit_usd is None:
            self.add_error("limit_reset", "Set a credit limit for it to reset.")
        cleaned["limit_nanos"] = None if limit_usd is None else usd_to_nanos(limit_usd)
        return cleaned
