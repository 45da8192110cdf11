import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client

from catalog.demo import DEMO_MODELS
from catalog.models import Endpoint, Model, Provider
from catalog.services import demo_catalog_load
from tests.conformance import assert_conforms

pytestmark = pytest.mark.django_db

DECIMAL_STRING = re.compile(r"\d+(\.\d*[1-9])?")


@pytest.fixture
def api_client() -> Client:
    # Real API clients send no CSRF token; the checks must not change the answers.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def models(api_client):
    demo_catalog_load(simulator_url="http://127.0.0.1:9")
    response = api_client.get("/api/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert_conforms(body, "ListModelsResponse")
    return body


def _cheapest(model_id: str) -> Endpoint:
    slug, _, variant = model_id.partition(":")
    endpoints = Endpoint.objects.filter(model__slug=slug, variant=variant)
    return min(endpoints, key=lambda e: e.prompt_usd_per_mtok + e.completion_usd_per_mtok)


def test_it_lists_every_demo_model_and_free_variant_in_openrouter_shape(models):
    assert models["object"] == "list"
    demos = {demo.slug: demo for demo in DEMO_MODELS}
    free = {f"{demo.slug}:free": demo for demo in DEMO_MODELS if demo.free_providers}
    assert free, "the demo catalog has free variants"
    assert sorted(entry["id"] for entry in models["data"]) == sorted({**demos, **free})
    for entry in models["data"]:
        demo = {**demos, **free}[entry["id"]]
        cheapest = _cheapest(entry["id"])
        assert entry["name"] == demo.name + (" (free)" if entry["id"] in free else "")
        assert entry["canonical_slug"] == demo.slug
        assert entry["description"] == demo.description
        assert entry["created"] == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
        assert entry["context_length"] == demo.context_length
        assert entry["architecture"] == entry["architecture"] | {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": demo.tokenizer,
        }
        assert entry["top_provider"] == {
            "context_length": cheapest.context_length,
            "max_completion_tokens": cheapest.max_output_tokens,
            "is_moderated": False,
        }
        assert ("tools" in entry["supported_parameters"]) is demo.supports_tools
        assert {"max_tokens", "temperature", "stream"} <= set(entry["supported_parameters"])


def test_pricing_is_the_cheapest_endpoints_usd_per_token(models):
    for entry in models["data"]:
        pricing = entry["pricing"]
        cheapest = _cheapest(entry["id"])
        for field in ("prompt", "completion", "request"):
            assert DECIMAL_STRING.fullmatch(pricing[field]), pricing
        assert Decimal(pricing["prompt"]) == cheapest.prompt_usd_per_mtok / 1_000_000
        assert Decimal(pricing["completion"]) == cheapest.completion_usd_per_mtok / 1_000_000
        assert pricing["request"] == "0"
    by_id = {entry["id"]: entry["pricing"] for entry in models["data"]}
    assert by_id["openai/gpt-4o-mini"]["prompt"] == "0.00000015"
    assert by_id["meta-llama/llama-3.1-8b-instruct:free"] == {
        "prompt": "0",
        "completion": "0",
        "request": "0",
    }
    # Ember serves Llama 70B below its list price (0.12 * 0.9 per million).
    assert by_id["meta-llama/llama-3.1-70b-instruct"]["prompt"] == "0.000000108"


def _assert_json_error(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == status
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def test_post_is_a_json_405(api_client):
    response = api_client.post("/api/v1/models", {"x": 1}, content_type="application/json")
    _assert_json_error(response, 405)


def test_unknown_api_route_is_a_json_404(api_client):
    response = api_client.get("/api/v1/nope")
    _assert_json_error(response, 404)
    assert b"<html" not in response.content.lower()


def test_pricing_follows_the_cheapest_active_endpoint(api_client):
    demo_catalog_load(simulator_url="http://127.0.0.1:9")
    model = Model.objects.get(slug="openai/gpt-4o-mini")
    for slug, active, prompt, completion in [
        ("cheap-prompt", True, "0.01", "5"),  # cheapest prompt, dearest in total
        ("switched-off", False, "0.01", "0.01"),
        ("bargain", True, "0.12", "0.5"),
    ]:
        provider = Provider.objects.create(
            slug=slug, name=slug, base_url=f"http://127.0.0.1:9/{slug}/v1", is_active=active
        )
        Endpoint.objects.create(
            model=model,
            provider=provider,
            upstream_model_id="gpt-4o-mini",
            prompt_usd_per_mtok=Decimal(prompt),
            completion_usd_per_mtok=Decimal(completion),
            context_length=64_000,
            max_output_tokens=4_096,
        )

    data = api_client.get("/api/v1/models").json()["data"]

    entry = next(entry for entry in data if entry["id"] == "openai/gpt-4o-mini")
    assert entry["pricing"] == {"prompt": "0.00000012", "completion": "0.0000005", "request": "0"}
    assert entry["top_provider"]["context_length"] == 64_000
