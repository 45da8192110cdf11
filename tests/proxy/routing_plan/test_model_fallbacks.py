"""The models fallback list: later models' endpoints follow the first model's."""

import pytest

from proxy.errors import ModelNotFound
from tests.proxy.routing_plan.support import (
    BIG,
    MODEL,
    SMALL,
    endpoint,
    route,
    three_providers,
    tried,
    tried_by_model,
    two_models,
)


def test_fallback_models_follow_the_first_models_endpoints():
    plan = route(two_models(), model=SMALL, models=[BIG])

    assert tried_by_model(plan) == [
        "acme/small@alpha",
        "acme/small@bravo",
        "acme/big@alpha",
        "acme/big@bravo",
    ]


def test_models_alone_routes_in_the_listed_order():
    plan = route(two_models(), model=None, models=[BIG, SMALL])

    assert tried_by_model(plan)[:2] == ["acme/big@alpha", "acme/big@bravo"]


@pytest.mark.parametrize(
    ("model", "models"), [("acme/nothing", [SMALL]), (SMALL, [BIG, "acme/nothing"])]
)
def test_an_unknown_model_anywhere_in_the_list_is_not_found(model, models):
    with pytest.raises(ModelNotFound, match="acme/nothing"):
        route(two_models(), model=model, models=models)


def test_max_attempts_truncates_the_plan():
    plan = route(two_models(), model=SMALL, models=[BIG], max_attempts=3)

    assert tried_by_model(plan) == ["acme/small@alpha", "acme/small@bravo", "acme/big@alpha"]


def test_one_endpoint_reached_through_two_variants_is_tried_once():
    plan = route(three_providers(), model=MODEL, models=[f"{MODEL}:floor", f"{MODEL}:nitro"])

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_a_model_fallback_still_applies_when_the_first_model_has_no_provider():
    endpoints = [endpoint("alpha", "9", "9", model=BIG), endpoint("bravo", "1", "1", model=SMALL)]

    plan = route(endpoints, model=BIG, models=[SMALL], provider={"max_price": {"prompt": 5}})

    assert tried_by_model(plan) == ["acme/small@bravo"]
