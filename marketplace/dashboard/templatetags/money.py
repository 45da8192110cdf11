"""`{{ nanos|usd }}`: integer nano-dollars shown as dollars, exactly (no float)."""

from django import template

from billing.money import format_usd

register = template.Library()


@register.filter
def usd(nanos: int) -> str:
    return format_usd(nanos)


@register.filter
def cents_usd(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
