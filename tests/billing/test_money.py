from decimal import Decimal

import pytest

from billing.money import (
    MoneyError,
    Prices,
    Usage,
    display_usd,
    fee_nanos,
    format_usd,
    nanos_to_usd,
    token_charge_nanos,
    usage_charge,
    usd_to_nanos,
)


@pytest.mark.parametrize(
    ("usd", "nanos"),
    [
        ("2.5", 2_500_000_000),
        ("0.000000001", 1),
        ("1.25", 1_250_000_000),
        (3, 3_000_000_000),
        (Decimal("0.15"), 150_000_000),
        ("0", 0),
    ],
)
def test_usd_to_nanos_is_exact(usd, nanos):
    assert usd_to_nanos(usd) == nanos


def test_nanos_to_usd_is_exact():
    assert nanos_to_usd(1) == Decimal("0.000000001")
    assert nanos_to_usd(2_500_000_000) == Decimal("2.5")


@pytest.mark.parametrize("usd", ["0.0000000001", "1.0000000005", "1e-10"])
def test_usd_to_nanos_refuses_amounts_finer_than_a_nano(usd):
    with pytest.raises(MoneyError):
        usd_to_nanos(usd)


@pytest.mark.parametrize("usd", ["abc", "", "NaN", "Infinity", "1,5"])
def test_usd_to_nanos_refuses_non_numbers(usd):
    with pytest.raises(MoneyError):
        usd_to_nanos(usd)


@pytest.mark.parametrize(
    ("tokens", "usd_per_mtok", "nanos"),
    [
        (1, "0.15", 150),
        (1, "0.0000001", 1),  # 0.0001 nanos rounds up to one
        (1_000_000, "0.15", 150_000_000),
        (3, "0.0000004", 1),  # 0.0012 nanos: still one, not three
        (0, "10", 0),
    ],
)
def test_it_rounds_each_component_up(tokens, usd_per_mtok, nanos):
    assert token_charge_nanos(tokens, Decimal(usd_per_mtok)) == nanos


def test_token_charge_refuses_negative_tokens():
    with pytest.raises(MoneyError):
        token_charge_nanos(-1, Decimal("1"))


@pytest.mark.parametrize(
    ("amount", "bps", "fee"),
    [(10_000, 550, 550), (1, 1, 1), (10_001, 100, 101), (0, 550, 0), (12_345, 0, 0)],
)
def test_fee_nanos_rounds_up(amount, bps, fee):
    assert fee_nanos(amount, bps) == fee


def test_usage_charge_sums_components_and_request_price():
    prices = Prices(Decimal("0.15"), Decimal("0.60"), request_usd=Decimal("0.0000000001"))
    charge = usage_charge(Usage(prompt_tokens=1, completion_tokens=2), prices, fee_bps=100)
    # 150 + 1200 + ceil(0.1) = 1351; fee 1% of 1351 = 13.51 -> 14
    assert charge.provider_cost_nanos == 1351
    assert charge.fee_nanos == 14
    assert charge.total_nanos == 1365


def test_usage_charge_rounds_prompt_and_completion_separately():
    prices = Prices(Decimal("0.0000001"), Decimal("0.0000001"))
    charge = usage_charge(Usage(prompt_tokens=1, completion_tokens=1), prices, fee_bps=0)
    assert charge.provider_cost_nanos == 2
    assert charge.total_nanos == 2


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (7200, "0.0000072"),
        (10**9, "1"),
        (10 * 10**9, "10"),
        (1, "0.000000001"),
        (2_500_000_000, "2.5"),
        (0, "0"),
        (10**18, "1000000000"),
    ],
)
def test_format_usd_has_no_exponent_or_trailing_zeros(nanos, text):
    assert format_usd(nanos) == text


@pytest.mark.parametrize(
    ("nanos", "shown"),
    [(0, "$0.00"), (10_000_000_000, "$10.00"), (-800_000_000, "-$0.80"),
     (123_000, "$0.000123"), (10_800_000_000, "$10.80"), (1, "$0.000000001")],
)  # fmt: skip
def test_money_is_displayed_with_cents_and_every_digit_it_has(nanos, shown):
    assert display_usd(nanos) == shown
