"""Model variants: :free uses only the free endpoints, :nitro is fastest first, :floor cheapest
first."""

import pytest

from proxy.errors import ModelNotFound
from tests.proxy.routing_plan.support import (
    MODEL,
    endpoint,
    reasons,
    route,
    speeds,
    three_providers,
    tried,
    with_free,
)


def test_free_uses_only_the_free_endpoints():
    plan = route(with_free(), model=f"{MODEL}:free")

    assert tried(plan) == ["charlie"]
    assert [c.endpoint.provider_slug for c in plan.considered] == ["charlie"]


def test_the_plain_slug_never_routes_to_a_free_endpoint():
    plan = route(with_free())

    assert tried(plan) == ["alpha", "bravo"]
    assert "charlie" not in reasons(plan)


def test_free_on_a_model_without_free_endpoints_is_not_found():
    with pytest.raises(ModelNotFound, match=r"acme/llm:free"):
        route(three_providers(), model=f"{MODEL}:free")


def test_a_model_with_only_free_endpoints_is_not_found_by_its_plain_slug():
    with pytest.raises(ModelNotFound, match="no paid variant"):
        route([endpoint("charlie", "0", "0", variant="free")])


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (MODEL, ["bravo", "alpha", "charlie"]),
        (f"{MODEL}:nitro", ["charlie", "alpha", "bravo"]),
        # The same measured speeds that reorder :nitro leave :floor cheapest first.
        (f"{MODEL}:floor", ["bravo", "alpha", "charlie"]),
    ],
)
def test_nitro_is_fastest_first_and_floor_cheapest_first(model, expected):
    endpoints, vitals = speeds()

    assert tried(route(endpoints, model=model, vitals=vitals)) == expected


@pytest.mark.parametrize("variant", ["nitro", "floor"])
def test_nitro_and_floor_keep_the_other_preferences(variant):
    endpoints, vitals = speeds()
    provider = {"order": ["alpha"], "ignore": ["charlie"]}

    plan = route(endpoints, model=f"{MODEL}:{variant}", provider=provider, vitals=vitals)

    assert tried(plan) == ["alpha", "bravo"]


def test_nitro_and_floor_use_the_paid_endpoints():
    for variant in ("nitro", "floor"):
        assert "charlie" not in tried(route(with_free(), model=f"{MODEL}:{variant}"))


def test_an_explicit_sort_wins_over_the_variant():
    endpoints, vitals = speeds()

    plan = route(endpoints, model=f"{MODEL}:nitro", provider={"sort": "price"}, vitals=vitals)

    assert tried(plan) == ["bravo", "alpha", "charlie"]
