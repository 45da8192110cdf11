"""Default: the cheapest expected cost of this request goes first."""

from decimal import Decimal

import pytest

from billing.money import Prices, Usage, usage_charge
from proxy.routing.plan import EXPECTED_COMPLETION_TOKENS
from tests.proxy.routing_plan.support import (
    PLATFORM_FEE_BPS,
    endpoint,
    route,
    three_providers,
    tried,
)


def test_default_tries_the_cheapest_expected_cost_first():
    assert tried(route(three_providers())) == ["bravo", "alpha", "charlie"]


@pytest.mark.parametrize(
    ("prompt_tokens", "max_tokens", "cheapest"),
    [
        pytest.param(10_000, 100, "alpha", id="prompt-heavy"),
        pytest.param(100, 4_000, "bravo", id="completion-heavy"),
        # Without max_tokens the completion is priced as EXPECTED_COMPLETION_TOKENS, not zero.
        pytest.param(100, None, "bravo", id="completion-unknown"),
    ],
)
def test_the_prompt_and_completion_split_decides_which_is_cheapest(
    prompt_tokens, max_tokens, cheapest
):
    endpoints = [endpoint("alpha", "1", "10"), endpoint("bravo", "5", "2")]

    plan = route(endpoints, prompt_tokens=prompt_tokens, max_tokens=max_tokens)

    assert tried(plan)[0] == cheapest


def test_expected_cost_without_max_tokens_is_capped_by_the_endpoints_max_output():
    short = endpoint("alpha", "1", "10", max_output_tokens=200)
    long = endpoint("bravo", "1", "10")

    plan = route([short, long], prompt_tokens=100, max_tokens=None)

    costs = {c.endpoint.provider_slug: c.expected_cost_nanos for c in plan.considered}
    prices = Prices(Decimal(1), Decimal(10))
    assert costs == {
        "alpha": usage_charge(Usage(100, 200), prices, fee_bps=PLATFORM_FEE_BPS).total_nanos,
        "bravo": usage_charge(
            Usage(100, EXPECTED_COMPLETION_TOKENS), prices, fee_bps=PLATFORM_FEE_BPS
        ).total_nanos,
    }
    assert tried(plan) == ["alpha", "bravo"]


def test_a_per_request_price_counts():
    endpoints = [endpoint("alpha", "1", "1", request="0.01"), endpoint("bravo", "2", "2")]

    assert tried(route(endpoints)) == ["bravo", "alpha"]


@pytest.mark.parametrize(
    ("alpha_fee_bps", "bravo", "bravo_fee_bps"),
    [
        # alpha's own 100 % markup makes it dearer than bravo at the platform's 5 %.
        pytest.param(10_000, "1.5", None, id="own-markup-above-default"),
        # bravo charges no markup, which beats alpha's slightly lower price plus the default.
        pytest.param(None, "1.04", 0, id="own-markup-below-default"),
    ],
)
def test_a_providers_own_inference_fee_counts(alpha_fee_bps, bravo, bravo_fee_bps):
    endpoints = [
        endpoint("alpha", "1", "1", fee_bps=alpha_fee_bps),
        endpoint("bravo", bravo, bravo, fee_bps=bravo_fee_bps),
    ]

    assert tried(route(endpoints)) == ["bravo", "alpha"]


@pytest.mark.parametrize("listed", [["alpha", "bravo"], ["bravo", "alpha"]])
def test_equal_costs_are_ordered_by_provider_slug_whatever_the_catalog_order(listed):
    endpoints = [endpoint(provider, "1", "1") for provider in listed]

    assert tried(route(endpoints)) == ["alpha", "bravo"]
