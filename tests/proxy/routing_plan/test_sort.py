"""provider.sort: by price, throughput or latency, and partitioned by model or not."""

import pytest

from proxy.routing.plan import Vitals
from tests.proxy.routing_plan.support import (
    BIG,
    SMALL,
    endpoint,
    route,
    speeds,
    tried,
    tried_by_model,
    two_models,
)


@pytest.mark.parametrize(
    "sort", ["throughput", "latency", {"by": "throughput"}, {"by": "latency", "partition": "model"}]
)
def test_sort_by_speed_puts_the_best_measured_first_and_the_unmeasured_after(sort):
    endpoints, vitals = speeds()

    plan = route(endpoints, provider={"sort": sort}, vitals=vitals)

    assert tried(plan) == ["charlie", "alpha", "bravo"]


def test_sort_by_price_ignores_measured_speed():
    endpoints, vitals = speeds()

    plan = route(endpoints, provider={"sort": "price"}, vitals=vitals)

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_a_slower_but_measured_endpoint_beats_an_unmeasured_one():
    endpoints = [endpoint("alpha", "1", "1"), endpoint("bravo", "2", "2")]
    vitals = {"bravo": Vitals(latency_ms=5_000.0, throughput_tps=1.0)}

    for sort in ("throughput", "latency"):
        assert tried(route(endpoints, provider={"sort": sort}, vitals=vitals)) == ["bravo", "alpha"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["acme/big@alpha", "acme/big@bravo", "acme/small@alpha", "acme/small@bravo"]),
        (
            {"by": "price", "partition": "model"},
            ["acme/big@alpha", "acme/big@bravo", "acme/small@alpha", "acme/small@bravo"],
        ),
        (
            {"by": "price", "partition": "none"},
            ["acme/small@alpha", "acme/big@alpha", "acme/small@bravo", "acme/big@bravo"],
        ),
        (
            {"partition": "none"},
            ["acme/small@alpha", "acme/big@alpha", "acme/small@bravo", "acme/big@bravo"],
        ),
    ],
)
def test_partition_none_mixes_the_models_by_price_and_model_keeps_their_order(sort, expected):
    plan = route(two_models(), model=BIG, models=[SMALL], provider={"sort": sort})

    assert tried_by_model(plan) == expected


def test_partition_none_mixes_the_models_by_the_sort():
    vitals = {"bravo": Vitals(throughput_tps=80.0), "alpha": Vitals(throughput_tps=20.0)}
    provider = {"sort": {"by": "throughput", "partition": "none"}}

    plan = route(two_models(), model=BIG, models=[SMALL], provider=provider, vitals=vitals)

    # Equal throughput within a provider: the cheaper of the two models first.
    assert tried_by_model(plan) == [
        "acme/small@bravo",
        "acme/big@bravo",
        "acme/small@alpha",
        "acme/big@alpha",
    ]
