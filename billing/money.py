"""The one place where money changes units.

Amounts are integers of nano-dollars (1e-9 USD). Prices are `Decimal` USD per million tokens
(per-request prices are `Decimal` USD). A charge is computed exactly in `Decimal` and rounded
up once per component, so the platform never undercharges by a rounding error.
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

NANOS_PER_USD = 10**9
# nanos per token = usd_per_mtok * 1e9 / 1e6
_NANOS_PER_MTOK_UNIT = 1000


class MoneyError(ValueError):
    pass


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def usd_to_nanos(usd: Decimal | str | int) -> int:
    """Exact conversion; refuses amounts finer than a nano-dollar rather than rounding them."""
    try:
        amount = Decimal(usd) * NANOS_PER_USD
    except ArithmeticError:
        raise MoneyError(f"not an amount of USD: {usd!r}") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise MoneyError(f"not an amount of USD with at most 9 decimals: {usd!r}")
    return int(amount)


def nanos_to_usd(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS_PER_USD


def format_usd(nanos: int) -> str:
    """Plain decimal string (no exponent, no trailing zeros), for JSON numbers and pages."""
    text = f"{nanos_to_usd(nanos):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def display_usd(nanos: int) -> str:
    """Money for people: "$10.00", "-$0.80", "$0.000123" (cents always, more digits only when
    the amount has them)."""
    digits = format_usd(abs(nanos))
    whole, _, fraction = digits.partition(".")
    shown = f"{whole}.{fraction.ljust(2, '0')}"
    return f"-${shown}" if nanos < 0 else f"${shown}"


def token_charge_nanos(tokens: int, usd_per_mtok: Decimal) -> int:
    if tokens < 0:
        raise MoneyError("token counts are never negative")
    return _ceil(tokens * usd_per_mtok * _NANOS_PER_MTOK_UNIT)


def request_charge_nanos(usd_per_request: Decimal) -> int:
    return _ceil(usd_per_request * NANOS_PER_USD)


def fee_nanos(amount_nanos: int, fee_bps: int) -> int:
    """A fee in basis points of an amount, rounded up."""
    return -((-amount_nanos * fee_bps) // 10_000)


@dataclass(frozen=True, slots=True)
class Prices:
    prompt_usd_per_mtok: Decimal
    completion_usd_per_mtok: Decimal
    request_usd: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Charge:
    """What a request costs the user, and what of it the provider is owed."""

    provider_cost_nanos: int
    fee_nanos: int

    @property
    def total_nanos(self) -> int:
        return self.provider_cost_nanos + self.fee_nanos


def usage_charge(usage: Usage, prices: Prices, *, fee_bps: int) -> Charge:
    provider_cost = (
        token_charge_nanos(usage.prompt_tokens, prices.prompt_usd_per_mtok)
        + token_charge_nanos(usage.completion_tokens, prices.completion_usd_per_mtok)
        + request_charge_nanos(prices.request_usd)
    )
    return Charge(provider_cost_nanos=provider_cost, fee_nanos=fee_nanos(provider_cost, fee_bps))


def hold_bound_nanos(
    *, prompt_tokens_bound: int, completion_tokens_bound: int, prices: Prices, fee_bps: int
) -> int:
    """The most a request can cost: what is held before it is forwarded."""
    usage = Usage(prompt_tokens=prompt_tokens_bound, completion_tokens=completion_tokens_bound)
    return usage_charge(usage, prices, fee_bps=fee_bps).total_nanos


def affordable_completion_tokens(
    *, available_nanos: int, prompt_tokens_bound: int, limit: int, prices: Prices, fee_bps: int
) -> int:
    """The largest max_tokens (up to `limit`) whose hold fits in `available_nanos` (0 if none)."""

    def fits(tokens: int) -> bool:
        bound = hold_bound_nanos(
            prompt_tokens_bound=prompt_tokens_bound,
            completion_tokens_bound=tokens,
            prices=prices,
            fee_bps=fee_bps,
        )
        return bound <= available_nanos

    if not fits(0):
        return 0
    low, high = 0, limit
    while low < high:  # the charge grows with tokens, so binary search finds the edge
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def purchase_fee_nanos(amount_nanos: int, *, fee_bps: int, minimum_nanos: int) -> int:
    """The platform fee on buying credits: a share of the amount, with a minimum."""
    return max(fee_nanos(amount_nanos, fee_bps), minimum_nanos)
