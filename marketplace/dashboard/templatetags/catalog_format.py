"""Figures of the catalog pages as text: exact prices, token counts, health measurements."""

from decimal import Decimal

from django import template
from django.urls import reverse

register = template.Library()

MISSING = "—"


def _measured(value: object) -> float | None:
    # A figure the template could not look up (no statistics) arrives as "", not None.
    return float(value) if isinstance(value, int | float) else None


CENTS = Decimal("0.01")


@register.filter
def per_mtok(usd_per_mtok: Decimal | None) -> str:
    """Exact, with cents at least and no trailing zeros past them: "$0.60", "$0.0625", "$15.00"
    (never rounded: a price of 0.000000001 is shown as such)."""
    if usd_per_mtok is None:
        return MISSING
    exact = usd_per_mtok.normalize()
    exponent = exact.as_tuple().exponent
    shown = exact if isinstance(exponent, int) and exponent < -2 else exact.quantize(CENTS)
    return f"${shown:f}"


@register.filter
def tokens(count: int | None) -> str:
    return MISSING if count is None else f"{count:,}"


@register.filter
def percent(value: object) -> str:
    figure = _measured(value)
    return MISSING if figure is None else f"{figure:.1f}%"


@register.filter
def ms(value: object) -> str:
    figure = _measured(value)
    return MISSING if figure is None else f"{figure:,.0f} ms"


@register.filter
def tps(value: object) -> str:
    figure = _measured(value)
    return MISSING if figure is None else f"{figure:,.1f} tok/s"


@register.filter
def model_url(model_id: str) -> str:
    """The page of `author/name` (or `author/name:free`)."""
    author, _, name = model_id.partition("/")
    return reverse("model", kwargs={"author": author, "name": name})
