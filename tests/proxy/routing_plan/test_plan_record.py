"""What the plan records: its strategy, and every endpoint considered with why it is not tried."""

from decimal import Decimal

import pytest

from billing.money import Prices, Usage, usage_charge
from tests.proxy.routing_plan.support import (
    MODEL,
    PLATFORM_FEE_BPS,
    reasons,
    route,
    three_providers,
    tried,
)


@pytest.mark.parametrize(
    ("model", "provider", "strategy"),
    [
        (MODEL, None, "price"),
        (MODEL, {"order": ["alpha"]}, "order"),
        (MODEL, {"order": ["alpha"], "sort": "latency"}, "order"),
        (MODEL, {"sort": "throughput"}, "throughput"),
        (MODEL, {"sort": {"by": "latency", "partition": "none"}}, "latency"),
        (f"{MODEL}:nitro", None, "throughput"),
        (f"{MODEL}:floor", None, "price"),
    ],
)
def test_the_plan_names_its_strategy(model, provider, strategy):
    assert route(three_providers(), model=model, provider=provider).strategy == strategy


def test_considered_lists_every_endpoint_with_why_it_is_not_tried():
    endpoints = three_providers()

    plan = route(endpoints, provider={"ignore": ["bravo"], "max_price": {"prompt": 2}})

    assert [c.endpoint for c in plan.considered] == endpoints
    assert reasons(plan) == {
        "alpha": None,
        "charlie": "prompt price $3/M is above max_price",
        "bravo": "ignored by provider.ignore",
    }
    assert tried(plan) == ["alpha"]
    alpha = plan.considered[0]
    prices = Prices(Decimal(2), Decimal(2))
    expected = usage_charge(Usage(1_000, 1_000), prices, fee_bps=PLATFORM_FEE_BPS)
    assert alpha.expected_cost_nanos == expected.total_nanos
