"""``GET /{provider}/v1/models``: the demo catalog's models each provider serves, priced per
token, plus the simulated embedding models."""

import dataclasses
from decimal import Decimal

import orjson
import pytest
from openai import AsyncOpenAI

from catalog.demo import DEMO_EMBEDDING_MODELS, DEMO_MODELS, OPEN_WEIGHTS_QUANTIZATION
from proxy.simulator.profiles import PROVIDERS
from tests.proxy.simulator.helpers import Client, JsonDict, run_async, simulator

MILLION = Decimal(1_000_000)


async def listed(client: Client, slug: str) -> dict[str, JsonDict]:
    response = await client.get(f"/{slug}/v1/models")
    assert response.status == 200
    payload = orjson.loads(await response.read())
    assert payload["object"] == "list"
    entries = {entry["id"]: entry for entry in payload["data"]}
    assert len(entries) == len(payload["data"])
    return entries


def expected_prices(slug: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Upstream id -> (prompt, completion) USD per token, straight from the demo data."""
    prices = {}
    for demo in DEMO_MODELS:
        upstream = demo.slug.split("/", 1)[1]
        if slug in demo.providers:
            multiplier = demo.providers[slug]
            prices[upstream] = (
                demo.prompt_usd_per_mtok * multiplier / MILLION,
                demo.completion_usd_per_mtok * multiplier / MILLION,
            )
        if slug in demo.free_providers:
            prices[f"{upstream}:free"] = (Decimal(0), Decimal(0))
    for model in DEMO_EMBEDDING_MODELS:
        if slug in model.providers:
            prices[model.slug.split("/", 1)[1]] = (
                model.usd_per_mtok * model.providers[slug] / MILLION,
                Decimal(0),
            )
    return prices


@pytest.mark.parametrize("slug", [provider.slug for provider in PROVIDERS])
@run_async
async def test_each_provider_lists_what_it_serves_at_its_price(slug: str) -> None:
    async with simulator() as client:
        entries = await listed(client, slug)
    prices = expected_prices(slug)
    assert set(entries) == set(prices)
    for model_id, (prompt, completion) in prices.items():
        pricing = entries[model_id]["pricing"]
        assert (Decimal(pricing["prompt"]), Decimal(pricing["completion"])) == (prompt, completion)
        assert pricing["request"] == "0"
        assert "E" not in pricing["prompt"] + pricing["completion"]


@run_async
async def test_entry_fields() -> None:
    async with simulator() as client:
        atlas = await listed(client, "atlas")
        quanta = await listed(client, "quanta")
    assert atlas["gpt-4o"] == {
        "id": "gpt-4o",
        "object": "model",
        "created": 1767225600,
        "owned_by": "openai",
        "name": "OpenAI: GPT-4o",
        "context_length": 128_000,
        "max_completion_tokens": 16_384,
        "pricing": {"prompt": "0.00000275", "completion": "0.000011", "request": "0"},
        "supported_parameters": [
            "max_tokens", "temperature", "top_p", "stop", "seed", "stream",
            "frequency_penalty", "presence_penalty", "tools", "tool_choice",
            "response_format", "structured_outputs",
        ],
        "quantization": "",
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
    }  # fmt: skip
    free = atlas["llama-3.1-8b-instruct:free"]
    assert (free["name"], free["pricing"]["prompt"]) == ("Meta: Llama 3.1 8B Instruct (free)", "0")
    assert free["quantization"] == OPEN_WEIGHTS_QUANTIZATION["atlas"]
    assert "tools" not in free["supported_parameters"]
    assert "response_format" not in quanta["gpt-4o-mini"]["supported_parameters"]
    assert quanta["gpt-4o-mini"]["pricing"]["prompt"] == "0.00000018"


@run_async
async def test_embedding_models_are_listed_as_embeddings() -> None:
    async with simulator() as client:
        nimbus = await listed(client, "nimbus")
        quanta = await listed(client, "quanta")
        lumen = await listed(client, "lumen")
    small = quanta["text-embedding-3-small"]
    assert small["architecture"]["output_modalities"] == ["embeddings"]
    assert small["pricing"] == {"prompt": "0.000000022", "completion": "0", "request": "0"}
    assert (small["owned_by"], small["dimensions"]) == ("openai", 1536)
    assert nimbus["text-embedding-3-large"]["pricing"]["prompt"] == "0.00000013"
    assert "text-embedding-3-large" not in quanta
    assert not any("embedding" in model_id for model_id in lumen)


def test_the_embedding_table_is_frozen_and_served_by_known_providers() -> None:
    slugs = {provider.slug for provider in PROVIDERS}
    assert [model.slug for model in DEMO_EMBEDDING_MODELS] == [
        "openai/text-embedding-3-small",
        "openai/text-embedding-3-large",
    ]
    for model in DEMO_EMBEDDING_MODELS:
        assert set(model.providers) <= slugs
        with pytest.raises(dataclasses.FrozenInstanceError):
            model.name = "x"  # type: ignore[misc]


@run_async
async def test_unknown_provider_and_the_official_sdk() -> None:
    async with simulator() as client:
        assert (await client.get("/nope/v1/models")).status == 404
        sdk = AsyncOpenAI(base_url=str(client.make_url("/ember/v1")), api_key="x", max_retries=0)
        try:
            models = [model async for model in sdk.models.list()]
        finally:
            await sdk.close()
    assert {model.id for model in models} == set(expected_prices("ember"))
    assert {model.owned_by for model in models} == {
        "anthropic",
        "meta-llama",
        "mistralai",
        "deepseek",
    }
