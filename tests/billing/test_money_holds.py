"""The amounts behind holds: the bound held, the largest affordable max_tokens, purchase fees."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import (
    Prices,
    Usage,
    affordable_completion_tokens,
    hold_bound_nanos,
    purchase_fee_nanos,
    usage_charge,
    usd_to_nanos,
)

PRICES = Prices(Decimal("0.15"), Decimal("0.60"), request_usd=Decimal("0.0001"))
FEE_BPS = 550


def _bound(prompt: int, completion: int, prices: Prices = PRICES, fee_bps: int = FEE_BPS) -> int:
    return hold_bound_nanos(
        prompt_tokens_bound=prompt, completion_tokens_bound=completion, prices=prices,
        fee_bps=fee_bps,
    )  # fmt: skip


def _affordable(available: int, prompt: int, limit: int, fee_bps: int = FEE_BPS) -> int:
    return affordable_completion_tokens(
        available_nanos=available, prompt_tokens_bound=prompt, limit=limit, prices=PRICES,
        fee_bps=fee_bps,
    )  # fmt: skip


def test_the_hold_bound_is_the_charge_of_the_bounds_including_the_fee():
    # 1000 * 150 + 4000 * 600 + 100_000 = 2_650_000; 5.5% fee = 145_750
    assert _bound(1000, 4000) == 2_795_750
    charge = usage_charge(Usage(1000, 4000), PRICES, fee_bps=FEE_BPS)
    assert (charge.provider_cost_nanos, charge.fee_nanos) == (2_650_000, 145_750)
    assert _bound(1000, 4000, fee_bps=0) == 2_650_000


@settings(max_examples=60, database=None)
@given(
    prompt=st.integers(0, 200_000),
    completion=st.integers(0, 200_000),
    fee_bps=st.integers(0, 3000),
    prompt_price=st.decimals(0, 100, places=4),
    completion_price=st.decimals(0, 100, places=4),
)
def test_the_hold_bound_equals_the_usage_charge_of_the_bounds(
    prompt, completion, fee_bps, prompt_price, completion_price
):
    prices = Prices(prompt_price, completion_price, request_usd=Decimal("0.000002"))
    charge = usage_charge(Usage(prompt, completion), prices, fee_bps=fee_bps)
    assert _bound(prompt, completion, prices, fee_bps) == charge.total_nanos


def test_affordable_tokens_stop_exactly_at_the_edge():
    available = _bound(1000, 2500)  # exactly the hold for 2500 completion tokens

    assert _affordable(available, prompt=1000, limit=8000) == 2500
    assert _affordable(available - 1, prompt=1000, limit=8000) == 2499
    assert _bound(1000, 2499) <= available - 1 < _bound(1000, 2500)


def test_affordable_tokens_are_zero_when_even_the_prompt_does_not_fit():
    prompt_only = _bound(1000, 0)

    assert _affordable(prompt_only - 1, prompt=1000, limit=8000) == 0
    assert _affordable(prompt_only, prompt=1000, limit=8000) == 0
    assert _affordable(_bound(1000, 1), prompt=1000, limit=8000) == 1
    assert _affordable(-5, prompt=0, limit=8000) == 0


def test_affordable_tokens_are_capped_at_the_limit():
    assert _affordable(10**15, prompt=1000, limit=8000) == 8000
    assert _affordable(_bound(1000, 8000), prompt=1000, limit=8000) == 8000
    assert _affordable(10**15, prompt=1000, limit=0) == 0


@settings(max_examples=80, database=None)
@given(
    available=st.integers(-1000, 10**8),
    prompt=st.integers(0, 50_000),
    limit=st.integers(0, 100_000),
    fee_bps=st.integers(0, 2000),
)
def test_affordable_tokens_are_the_largest_whose_hold_fits(available, prompt, limit, fee_bps):
    tokens = _affordable(available, prompt, limit, fee_bps)

    assert 0 <= tokens <= limit
    if tokens > 0:
        assert _bound(prompt, tokens, fee_bps=fee_bps) <= available
    if tokens < limit:
        assert _bound(prompt, tokens + 1, fee_bps=fee_bps) > available


@pytest.mark.parametrize(
    ("usd", "fee_usd"),
    [
        ("5", "0.80"),  # 5.5% is $0.275: the minimum applies
        ("100", "5.50"),
        ("14.54", "0.80"),  # $0.7997: still the minimum
        ("14.55", "0.80025"),  # just above it
        ("0.000000001", "0.80"),
        ("1000.000000001", "55.000000001"),  # 55.00000000055 rounds up
    ],
)
def test_the_purchase_fee_is_five_and_a_half_percent_with_an_eighty_cent_minimum(usd, fee_usd):
    fee = purchase_fee_nanos(usd_to_nanos(usd), fee_bps=550, minimum_nanos=usd_to_nanos("0.80"))
    assert fee == usd_to_nanos(fee_usd)
