"""`{{ nanos|usd }}`: integer nano-dollars shown as dollars ("$10.00", "-$0.80"), exactly."""

from django import template

from billing.money import display_usd

register = template.Library()


@register.filter
def usd(nanos: int) -> str:
    return display_usd(nanos)


@register.filter
def cents_usd(cents: int) -> str:
    return display_usd(cents * 10_000_000)
