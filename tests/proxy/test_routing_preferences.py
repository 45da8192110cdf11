"""Parsing a request's `model`/`models` and `provider` preferences: a bad value is a 400 that
names the field."""

from decimal import Decimal
from typing import Any

import pytest

from proxy.errors import InvalidRequest
from proxy.routing.preferences import (
    MAX_FALLBACK_MODELS,
    MaxPrice,
    ModelRef,
    ProviderPreferences,
    Sort,
    Variant,
    model_refs_parse,
    preferences_parse,
)


def test_no_provider_object_means_the_defaults():
    assert preferences_parse(None) == ProviderPreferences()
    assert preferences_parse({}) == ProviderPreferences()


def test_a_full_provider_object_is_parsed():
    preferences = preferences_parse(
        {
            "order": [" Together ", "deepinfra"],
            "only": ["DeepInfra", "together"],
            "ignore": ["Azure"],
            "allow_fallbacks": False,
            "require_parameters": True,
            "sort": {"by": "latency", "partition": "none"},
            "max_price": {"prompt": 1, "completion": "2.5", "request": 0.001},
            "quantizations": ["FP8", "bf16"],
            "data_collection": "deny",
            "zdr": True,
        }
    )

    assert preferences == ProviderPreferences(
        order=("together", "deepinfra"),
        only=frozenset({"deepinfra", "together"}),
        ignore=frozenset({"azure"}),
        allow_fallbacks=False,
        require_parameters=True,
        sort=Sort.LATENCY,
        partition_by_model=False,
        max_price=MaxPrice(prompt=Decimal(1), completion=Decimal("2.5"), request=Decimal("0.001")),
        quantizations=frozenset({"fp8", "bf16"}),
    )


def test_explicit_nulls_mean_the_defaults():
    raw = dict.fromkeys(
        ["order", "only", "ignore", "allow_fallbacks", "require_parameters", "sort", "max_price"]
    )

    assert preferences_parse(raw) == ProviderPreferences()


@pytest.mark.parametrize("raw", [[], "price", 1, True])
def test_provider_must_be_an_object(raw):
    with pytest.raises(InvalidRequest, match="'provider' must be an object"):
        preferences_parse(raw)


def test_an_unknown_field_is_named():
    with pytest.raises(InvalidRequest, match=r"Unknown field 'provider\.orderr'"):
        preferences_parse({"order": ["a"], "orderr": ["a"]})


@pytest.mark.parametrize("field", ["order", "only", "ignore", "quantizations"])
@pytest.mark.parametrize("value", ["together", ["together", 1], [""], ["  "], {"a": 1}, [None]])
def test_provider_lists_must_be_arrays_of_strings(field, value):
    with pytest.raises(InvalidRequest, match=rf"'provider\.{field}' must be an array of strings"):
        preferences_parse({field: value})


@pytest.mark.parametrize("field", ["allow_fallbacks", "require_parameters"])
@pytest.mark.parametrize("value", ["false", 0, 1, []])
def test_flags_must_be_booleans(field, value):
    with pytest.raises(InvalidRequest, match=rf"'provider\.{field}' must be a boolean"):
        preferences_parse({field: value})


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", (Sort.PRICE, True)),
        ("throughput", (Sort.THROUGHPUT, True)),
        ({"by": "latency"}, (Sort.LATENCY, True)),
        ({"by": "price", "partition": "model"}, (Sort.PRICE, True)),
        ({"by": "throughput", "partition": "none"}, (Sort.THROUGHPUT, False)),
        ({"partition": "none"}, (None, False)),
    ],
)
def test_sort_is_a_name_or_an_object(sort, expected):
    preferences = preferences_parse({"sort": sort})

    assert (preferences.sort, preferences.partition_by_model) == expected


@pytest.mark.parametrize("sort", ["cheapest", "Price", 1, True, ["price"], {"by": "fastest"}])
def test_an_unknown_sort_is_named(sort):
    with pytest.raises(InvalidRequest, match=r"'provider\.sort' must be one of price, throughput"):
        preferences_parse({"sort": sort})


@pytest.mark.parametrize("partition", ["models", "None", 1])
def test_an_unknown_partition_is_named(partition):
    with pytest.raises(InvalidRequest, match=r"'provider\.sort\.partition' must be"):
        preferences_parse({"sort": {"by": "price", "partition": partition}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, Decimal("0.1")),  # not 0.1000000000000000055511151231257827...
        (0.3, Decimal("0.3")),
        (1e-7, Decimal("1E-7")),
        (2, Decimal(2)),
        (0, Decimal(0)),
        ("0.15", Decimal("0.15")),
        (" 12 ", Decimal(12)),
        ("1e-3", Decimal("0.001")),
    ],
)
@pytest.mark.parametrize("field", ["prompt", "completion", "request"])
def test_max_price_is_the_exact_decimal_the_caller_wrote(field, value, expected):
    max_price = preferences_parse({"max_price": {field: value}}).max_price

    assert getattr(max_price, field) == expected
    assert str(getattr(max_price, field)) == str(expected)


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.01,
        "-0.5",
        float("nan"),
        float("inf"),
        float("-inf"),
        "NaN",
        "sNaN",
        "Infinity",
        "cheap",
        "",
        True,
        False,
        [1],
        {"usd": 1},
    ],
)
@pytest.mark.parametrize("field", ["prompt", "completion", "request"])
def test_max_price_must_be_a_non_negative_finite_number(field, value):
    with pytest.raises(
        InvalidRequest, match=rf"'provider\.max_price\.{field}' must be a non-negative number"
    ):
        preferences_parse({"max_price": {field: value}})


@pytest.mark.parametrize("value", [1, "1", [1]])
def test_max_price_must_be_an_object(value):
    with pytest.raises(InvalidRequest, match=r"'provider\.max_price' must be an object"):
        preferences_parse({"max_price": value})


def test_an_unknown_quantization_is_named():
    with pytest.raises(InvalidRequest, match="Unknown quantization fp7, int3 in"):
        preferences_parse({"quantizations": ["fp8", "int3", "FP7"]})


def test_unknown_is_a_quantization():
    quantizations = preferences_parse({"quantizations": ["Unknown"]}).quantizations

    assert quantizations == frozenset({"unknown"})


# model and models


def test_model_then_models_in_order():
    refs = model_refs_parse("openai/gpt-4o", ["anthropic/claude:nitro", "meta/llama:free"])

    assert refs == (
        ModelRef("openai/gpt-4o"),
        ModelRef("anthropic/claude", Variant.NITRO),
        ModelRef("meta/llama", Variant.FREE),
    )


def test_models_alone_is_enough():
    assert model_refs_parse(None, ["a/b", "c/d:floor"]) == (
        ModelRef("a/b"),
        ModelRef("c/d", Variant.FLOOR),
    )


def test_repeated_models_are_tried_once_in_first_position():
    refs = model_refs_parse("a/b", ["c/d", " a/b ", "a/b:free", "c/d", "a/b:free"])

    assert refs == (ModelRef("a/b"), ModelRef("c/d"), ModelRef("a/b", Variant.FREE))


def test_a_model_ref_prints_as_its_id():
    assert [str(r) for r in model_refs_parse("a/b:nitro", ["c/d"])] == ["a/b:nitro", "c/d"]


@pytest.mark.parametrize("model", ["a/b:turbo", "a/b:FREE", "a/b:free:nitro"])
def test_an_unknown_variant_is_a_bad_request(model):
    with pytest.raises(InvalidRequest, match="is not supported") as raised:
        model_refs_parse(model, None)

    assert raised.value.status == 400


def test_an_unknown_variant_in_the_fallback_list_is_a_bad_request():
    with pytest.raises(InvalidRequest, match=r"Model variant ':turbo' is not supported"):
        model_refs_parse("a/b", ["c/d:turbo"])


@pytest.mark.parametrize("model", [":free", " :nitro"])
def test_a_variant_without_a_model_is_a_bad_request(model):
    with pytest.raises(InvalidRequest, match="is not a model id"):
        model_refs_parse(model, None)


@pytest.mark.parametrize("model", ["", "   ", 1, True, ["a/b"], {"id": "a/b"}])
def test_model_must_be_a_non_empty_string(model):
    with pytest.raises(InvalidRequest, match="'model' must be a model id string"):
        model_refs_parse(model, None)


@pytest.mark.parametrize("models", [None, []])
def test_a_model_is_required(models):
    with pytest.raises(InvalidRequest, match="'model' is required"):
        model_refs_parse(None, models)


@pytest.mark.parametrize("models", ["a/b", ["a/b", 1], ["a/b", ""], ["  "], [None], {"a": "b"}])
def test_models_must_be_an_array_of_model_ids(models):
    with pytest.raises(InvalidRequest, match="'models' must be an array of model ids"):
        model_refs_parse("a/b", models)


def test_models_may_list_at_most_the_maximum():
    allowed: list[Any] = [f"a/m{i}" for i in range(MAX_FALLBACK_MODELS)]
    assert len(model_refs_parse("a/b", allowed)) == MAX_FALLBACK_MODELS + 1

    with pytest.raises(InvalidRequest, match=f"at most {MAX_FALLBACK_MODELS} models"):
        model_refs_parse("a/b", [*allowed, "a/too-many"])
