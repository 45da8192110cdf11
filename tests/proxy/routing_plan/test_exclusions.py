"""What excludes an endpoint: provider.max_price, provider.quantizations, the parameters a
request uses, and whether the request fits the endpoint's context and max output."""

import pytest

from proxy.errors import NoProviderAvailable
from tests.proxy.routing_plan.support import MODEL, endpoint, reasons, route, tried

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
