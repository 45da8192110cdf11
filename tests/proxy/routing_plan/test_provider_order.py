"""provider.order, allow_fallbacks, only and ignore."""

import pytest

from proxy.errors import InvalidRequest, NoProviderAvailable
from tests.proxy.routing_plan.support import reasons, route, three_providers, tried


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (["charlie"], ["charlie", "bravo", "alpha"]),
        (["charlie", "alpha"], ["charlie", "alpha", "bravo"]),
    ],
)
def test_order_goes_first_and_the_rest_follow_by_price(order, expected):
    plan = route(three_providers(), provider={"order": order})

    assert tried(plan) == expected


def test_order_without_fallbacks_tries_only_the_listed_providers():
    plan = route(
        three_providers(), provider={"order": ["charlie", "alpha"], "allow_fallbacks": False}
    )

    assert tried(plan) == ["charlie", "alpha"]
    assert reasons(plan)["bravo"] == "a fallback, and provider.allow_fallbacks is false"


def test_order_without_fallbacks_never_routes_to_an_unlisted_provider():
    provider = {"order": ["charlie"], "allow_fallbacks": False, "max_price": {"prompt": 2}}

    with pytest.raises(NoProviderAvailable) as raised:
        route(three_providers(), provider=provider)

    assert "charlie: prompt price $3/M is above max_price" in raised.value.message
    assert "bravo: a fallback, and provider.allow_fallbacks is false" in raised.value.message


def test_without_fallbacks_and_without_order_only_the_first_is_tried():
    plan = route(three_providers(), provider={"allow_fallbacks": False})

    assert tried(plan) == ["bravo"]
    assert reasons(plan) == {
        "alpha": "a fallback, and provider.allow_fallbacks is false",
        "charlie": "a fallback, and provider.allow_fallbacks is false",
        "bravo": None,
    }


def test_only_keeps_the_listed_providers():
    plan = route(three_providers(), provider={"only": ["charlie", "alpha"]})

    assert tried(plan) == ["alpha", "charlie"]
    assert reasons(plan)["bravo"] == "not in provider.only"


def test_ignore_drops_the_listed_providers():
    plan = route(three_providers(), provider={"ignore": ["bravo"]})

    assert tried(plan) == ["alpha", "charlie"]
    assert reasons(plan)["bravo"] == "ignored by provider.ignore"


@pytest.mark.parametrize("name", ["charlie", "CHARLIE", "Charlie AI", "charlie ai"])
@pytest.mark.parametrize("field", ["order", "only"])
def test_providers_are_named_by_slug_or_display_name_in_any_case(field, name):
    plan = route(three_providers(), provider={field: [name]})

    assert tried(plan)[0] == "charlie"


def test_ignore_matches_display_names_too():
    plan = route(three_providers(), provider={"ignore": ["Bravo AI"]})

    assert "bravo" not in tried(plan)


@pytest.mark.parametrize("field", ["order", "only", "ignore"])
def test_an_unknown_provider_name_is_a_bad_request(field):
    with pytest.raises(InvalidRequest, match="Unknown provider 'nobody'"):
        route(three_providers(), provider={field: ["bravo", "nobody"]})
