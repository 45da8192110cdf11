"""The routing decision as a pure function: every `provider` preference and every model variant
moves the chosen endpoint (or the attempt order) away from the default, cheapest-first choice."""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from billing.money import Prices, Usage, usage_charge
from catalog.selectors import RoutableEndpoint
from proxy.errors import InvalidRequest, ModelNotFound, NoProviderAvailable
from proxy.routing.plan import (
    EXPECTED_COMPLETION_TOKENS,
    HEALTHY,
    Catalog,
    Demand,
    RoutePlan,
    Vitals,
    route_plan,
)
from proxy.routing.preferences import model_refs_parse, preferences_parse

MODEL = "acme/llm"
BIG = "acme/big"
SMALL = "acme/small"
PLATFORM_FEE_BPS = 500
_ids = itertools.count(1)


def endpoint(
    provider: str,
    prompt: str = "1",
    completion: str = "1",
    *,
    model: str = MODEL,
    request: str = "0",
    context_length: int = 128_000,
    max_output_tokens: int = 8_000,
    fee_bps: int | None = None,
    variant: str = "",
    quantization: str = "",
    parameters: Iterable[str] = (),
) -> RoutableEndpoint:
    return RoutableEndpoint(
        endpoint_id=next(_ids),
        model_slug=model,
        provider_slug=provider,
        provider_name=f"{provider.capitalize()} AI",
        adapter="openai",
        base_url=f"https://{provider}.example",
        api_key_env=f"{provider.upper()}_API_KEY",
        upstream_model_id=model,
        prompt_usd_per_mtok=Decimal(prompt),
        completion_usd_per_mtok=Decimal(completion),
        request_usd=Decimal(request),
        context_length=context_length,
        max_output_tokens=max_output_tokens,
        inference_fee_bps=fee_bps,
        variant=variant,
        quantization=quantization,
        supported_parameters=frozenset(parameters),
    )


def catalog_of(endpoints: Sequence[RoutableEndpoint]) -> Catalog:
    by_model: dict[str, list[RoutableEndpoint]] = {}
    names: dict[str, str] = {}
    for e in endpoints:
        by_model.setdefault(e.model_slug, []).append(e)
        names |= {
            e.provider_slug.lower(): e.provider_slug,
            e.provider_name.lower(): e.provider_slug,
        }
    return Catalog(
        endpoints_of=lambda slug: by_model.get(slug, []),
        provider_slugs=names,
        platform_fee_bps=PLATFORM_FEE_BPS,
    )


def route(
    endpoints: Sequence[RoutableEndpoint],
    *,
    model: str | None = MODEL,
    models: list[str] | None = None,
    provider: dict[str, Any] | None = None,
    prompt_tokens: int = 1_000,
    max_tokens: int | None = 1_000,
    parameters: Iterable[str] = (),
    vitals: Mapping[str, Vitals] | None = None,
    max_attempts: int = 10,
) -> RoutePlan:
    """Plan a request given as its JSON fields; `vitals` is keyed by provider slug."""
    demand = Demand(
        models=model_refs_parse(model, models),
        preferences=preferences_parse(provider),
        prompt_tokens_estimate=prompt_tokens,
        max_tokens=max_tokens,
        parameters=frozenset(parameters),
    )
    by_id = {e.endpoint_id: (vitals or {}).get(e.provider_slug, HEALTHY) for e in endpoints}
    return route_plan(demand, catalog_of(endpoints), lambda i: by_id[i], max_attempts=max_attempts)


def tried(plan: RoutePlan) -> list[str]:
    return [e.provider_slug for e in plan.attempts]


def tried_by_model(plan: RoutePlan) -> list[str]:
    return [f"{e.model_slug}@{e.provider_slug}" for e in plan.attempts]


def reasons(plan: RoutePlan) -> dict[str, str | None]:
    return {c.endpoint.provider_slug: c.excluded for c in plan.considered}


def three_providers() -> list[RoutableEndpoint]:
    """bravo is cheapest, then alpha, then charlie; listed in none of those orders."""
    return [endpoint("alpha", "2", "2"), endpoint("charlie", "3", "3"), endpoint("bravo", "1", "1")]


# Default: cheapest expected cost of this request first


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


# provider.order, allow_fallbacks, only, ignore


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


# provider.sort


def speeds() -> tuple[list[RoutableEndpoint], dict[str, Vitals]]:
    """bravo is cheapest and unmeasured; charlie is the dearest and the fastest."""
    vitals = {
        "alpha": Vitals(latency_ms=300.0, throughput_tps=50.0),
        "charlie": Vitals(latency_ms=100.0, throughput_tps=100.0),
    }
    return three_providers(), vitals


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


def two_models() -> list[RoutableEndpoint]:
    return [
        endpoint("alpha", "2", "2", model=BIG),
        endpoint("bravo", "5", "5", model=BIG),
        endpoint("alpha", "1", "1", model=SMALL),
        endpoint("bravo", "3", "3", model=SMALL),
    ]


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


# provider.max_price, provider.quantizations


@pytest.mark.parametrize(
    ("alpha", "bravo", "max_price"),
    [
        # Per million tokens; a price equal to the limit is accepted.
        (dict(prompt="0.9", completion="0.1"), dict(prompt="0.5", completion="1"), {"prompt": 0.5}),
        (
            dict(prompt="0.1", completion="0.9"),
            dict(prompt="1", completion="0.5"),
            {"completion": "0.5"},
        ),
        # Per request, in USD.
        (
            dict(prompt="0.1", completion="0.1", request="0.0001"),
            dict(prompt="0.5", completion="0.5"),
            {"request": 0.00005},
        ),
    ],
    ids=["prompt", "completion", "request"],
)
def test_max_price_excludes_endpoints_above_each_limit(alpha, bravo, max_price):
    endpoints = [endpoint("alpha", **alpha), endpoint("bravo", **bravo)]
    assert tried(route(endpoints)) == ["alpha", "bravo"]

    plan = route(endpoints, provider={"max_price": max_price})

    assert tried(plan) == ["bravo"]
    assert "above max_price" in (reasons(plan)["alpha"] or "")


def test_nothing_under_max_price_is_a_503_that_says_why():
    endpoints = [endpoint("alpha", "0.9", "3"), endpoint("bravo", "1.5", "1")]

    with pytest.raises(NoProviderAvailable) as raised:
        route(endpoints, provider={"max_price": {"prompt": 1, "completion": 2}})

    error = raised.value
    assert error.status == 503
    assert error.message == (
        "No provider of acme/llm can serve this request: "
        "alpha: completion price $3/M is above max_price; "
        "bravo: prompt price $1.5/M is above max_price"
    )
    assert error.metadata == {
        "excluded": [
            {
                "provider": "alpha",
                "model": MODEL,
                "reason": "completion price $3/M is above max_price",
            },
            {
                "provider": "bravo",
                "model": MODEL,
                "reason": "prompt price $1.5/M is above max_price",
            },
        ]
    }


@pytest.mark.parametrize(
    ("quantizations", "expected"),
    [
        (["bf16"], ["alpha"]),
        (["unknown"], ["charlie"]),
        (["unknown", "BF16"], ["alpha", "charlie"]),
    ],
)
def test_quantizations_keep_only_the_listed_ones_and_empty_counts_as_unknown(
    quantizations, expected
):
    endpoints = [
        endpoint("alpha", "2", "2", quantization="bf16"),
        endpoint("charlie", "3", "3"),
        endpoint("bravo", "1", "1", quantization="fp8"),
    ]

    plan = route(endpoints, provider={"quantizations": quantizations})

    assert tried(plan) == expected
    assert reasons(plan)["bravo"] == "quantization fp8 is not in provider.quantizations"


# Parameters


def test_require_parameters_excludes_an_endpoint_missing_a_used_parameter():
    endpoints = [
        endpoint("alpha", "1", "1", parameters={"temperature"}),
        endpoint("bravo", "2", "2", parameters={"temperature", "top_k"}),
    ]
    used = {"temperature", "top_k"}
    assert tried(route(endpoints, parameters=used)) == ["alpha", "bravo"]

    plan = route(endpoints, parameters=used, provider={"require_parameters": True})

    assert tried(plan) == ["bravo"]
    assert reasons(plan)["alpha"] == "it does not support top_k (provider.require_parameters)"


@pytest.mark.parametrize("parameter", ["tools", "tool_choice", "response_format"])
def test_an_essential_parameter_filters_when_some_endpoint_supports_it(parameter):
    endpoints = [
        endpoint("alpha", "1", "1", parameters={"temperature"}),
        endpoint("bravo", "2", "2", parameters={"temperature", parameter}),
    ]

    plan = route(endpoints, parameters={parameter, "temperature"})

    assert tried(plan) == ["bravo"]
    assert reasons(plan)["alpha"] == f"it does not support {parameter}"


def test_an_essential_parameter_no_endpoint_supports_excludes_nothing():
    endpoints = [endpoint("alpha", "1", "1"), endpoint("bravo", "2", "2")]

    plan = route(endpoints, parameters={"tools", "response_format"})

    assert tried(plan) == ["alpha", "bravo"]


# Fit


@pytest.mark.parametrize(
    ("prompt_tokens", "max_tokens", "expected", "reason"),
    [
        (7_000, 1_000, ["alpha", "bravo"], None),
        (100, 2_000, ["bravo"], "its max output (1000 tokens) is below max_tokens"),
        (7_500, 1_000, ["bravo"], "its context (8192 tokens) is too small (~8500 needed)"),
        (9_000, None, ["bravo"], "its context (8192 tokens) is too small (~9000 needed)"),
    ],
)
def test_a_request_must_fit_the_endpoints_context_and_max_output(
    prompt_tokens, max_tokens, expected, reason
):
    endpoints = [
        endpoint("alpha", "1", "1", context_length=8_192, max_output_tokens=1_000),
        endpoint("bravo", "2", "2"),
    ]

    plan = route(endpoints, prompt_tokens=prompt_tokens, max_tokens=max_tokens)

    assert tried(plan) == expected
    assert reasons(plan)["alpha"] == reason


# Variants


def with_free() -> list[RoutableEndpoint]:
    return [
        endpoint("alpha", "1", "1"),
        endpoint("bravo", "2", "2"),
        endpoint("charlie", "0", "0", variant="free"),
    ]


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


# The models fallback list


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


# Health


def test_an_unhealthy_endpoint_goes_last_but_stays_as_a_last_resort():
    plan = route(three_providers(), vitals={"bravo": Vitals(healthy=False)})

    assert tried(plan) == ["alpha", "charlie", "bravo"]


def test_a_trial_endpoint_keeps_its_place():
    plan = route(three_providers(), vitals={"bravo": Vitals(healthy=True, trial=True)})

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_an_unhealthy_ordered_provider_goes_after_every_healthy_one():
    plan = route(
        three_providers(),
        provider={"order": ["charlie", "bravo"]},
        vitals={"charlie": Vitals(healthy=False)},
    )

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_when_every_endpoint_is_unhealthy_all_stay_in_preferred_order():
    unhealthy = Vitals(healthy=False)
    vitals = dict.fromkeys(["alpha", "bravo", "charlie"], unhealthy)

    plan = route(three_providers(), vitals=vitals)

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_an_unhealthy_endpoint_sorts_after_healthy_ones_whatever_its_speed():
    endpoints, vitals = speeds()
    vitals["charlie"] = Vitals(healthy=False, throughput_tps=1_000.0)

    plan = route(endpoints, provider={"sort": "throughput"}, vitals=vitals)

    assert tried(plan) == ["alpha", "bravo", "charlie"]


# What the plan records


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
