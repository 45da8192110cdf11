"""Routing preferences sent over HTTP reach the routing decision: each picks the endpoint it
should, and a request nothing can serve gets a 4xx/503 that says why."""

from typing import Any

import httpx
import pytest

from billing.money import usd_to_nanos
from catalog.models import Endpoint
from proxy.simulator.profiles import provider_by_slug

pytestmark = pytest.mark.django_db(transaction=True)


def chat(gateway_url: str, key: str, **body: Any) -> httpx.Response:
    body.setdefault("messages", [{"role": "user", "content": "Which way?"}])
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def provider_name(slug: str) -> str:
    provider = provider_by_slug(slug)
    assert provider is not None
    return provider.name


@pytest.mark.parametrize(
    ("body", "model", "provider"),
    [
        ({"model": "openai/gpt-4o-mini"}, "openai/gpt-4o-mini", "nimbus"),
        ({"model": "openai/gpt-4o-mini", "provider": {"order": ["quanta"]}},
         "openai/gpt-4o-mini", "quanta"),
        ({"model": "openai/gpt-4o-mini", "provider": {"ignore": ["Nimbus Cloud"]}},
         "openai/gpt-4o-mini", "quanta"),
        ({"model": "openai/gpt-4o-mini", "provider": {"only": ["quanta"]}},
         "openai/gpt-4o-mini", "quanta"),
        ({"model": "openai/gpt-4o-mini", "provider": {"max_price": {"prompt": 0.16}},
          "max_tokens": 10}, "openai/gpt-4o-mini", "nimbus"),
        # Quanta is cheaper but cannot do structured output.
        ({"model": "mistralai/mistral-small", "response_format": {"type": "json_object"}},
         "mistralai/mistral-small", "atlas"),
        ({"model": "mistralai/mistral-small"}, "mistralai/mistral-small", "quanta"),
        ({"model": "meta-llama/llama-3.1-70b-instruct", "provider": {"quantizations": ["fp8"]}},
         "meta-llama/llama-3.1-70b-instruct", "quanta"),
        ({"model": "meta-llama/llama-3.1-70b-instruct:floor"},
         "meta-llama/llama-3.1-70b-instruct", "ember"),
        # Lumen does not serve GPT-4o-mini: the fallback model answers.
        ({"model": "openai/gpt-4o-mini", "models": ["anthropic/claude-3.5-haiku"],
          "provider": {"only": ["lumen"]}}, "anthropic/claude-3.5-haiku", "lumen"),
    ],
)  # fmt: skip
def test_preferences_choose_the_endpoint(gateway_url, make_account, body, model, provider):
    alice = make_account("1")
    response = chat(gateway_url, alice.api_key, **body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["model"], answer["provider"]) == (model, provider_name(provider))
    assert response.headers["x-switchyard-provider"] == provider


def test_a_free_variant_is_served_by_its_free_endpoint_at_no_cost(
    gateway_url, make_account, wallet_balance
):
    alice = make_account("1")
    response = chat(gateway_url, alice.api_key, model="meta-llama/llama-3.1-8b-instruct:free")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["provider"] == provider_name("atlas")
    assert answer["usage"]["cost"] == 0
    assert answer["usage"]["completion_tokens"] > 0
    assert wallet_balance(alice.user_id) == usd_to_nanos("1")
    # The plain slug never lands on the free endpoint, though it is the cheapest.
    paid = chat(gateway_url, alice.api_key, model="meta-llama/llama-3.1-8b-instruct").json()
    assert paid["provider"] == provider_name("quanta")
    assert paid["usage"]["cost"] > 0


def test_the_models_list_falls_back_to_the_next_model_when_every_provider_fails(
    gateway_url, make_account, sim_faults
):
    alice = make_account("1")
    sim_faults("nimbus", "http_500")
    sim_faults("quanta", "http_503")
    response = chat(gateway_url, alice.api_key, model="openai/gpt-4o-mini",
                    models=["anthropic/claude-3.5-haiku"])  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"] == "anthropic/claude-3.5-haiku"
    haiku = Endpoint.objects.get(model__slug="anthropic/claude-3.5-haiku", provider__slug="lumen")
    usage = answer["usage"]
    expected = (
        usage["prompt_tokens"] * haiku.prompt_usd_per_mtok
        + usage["completion_tokens"] * haiku.completion_usd_per_mtok
    ) / 1_000_000
    assert usd_to_nanos(str(usage["cost"])) == usd_to_nanos(expected)  # billed as Haiku


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"model": "nobody/nothing"}, 404, "nobody/nothing"),
        ({"model": "openai/gpt-4o-mini", "models": ["nobody/nothing"]}, 404, "nobody/nothing"),
        ({"model": "openai/gpt-4o-mini:free"}, 404, "free"),
        ({"model": "openai/gpt-4o-mini:turbo"}, 400, ":turbo"),
        ({"model": "openai/gpt-4o-mini", "provider": {"only": ["nobody"]}}, 400, "nobody"),
        ({"model": "openai/gpt-4o-mini", "provider": {"sort": "vibes"}}, 400, "provider.sort"),
        ({"model": "openai/gpt-4o-mini", "provider": {"max_price": {"prompt": -1}}}, 400,
         "max_price"),
        ({"model": "openai/gpt-4o-mini", "provider": {"max_price": {"prompt": 0.01}}}, 503,
         "max_price"),
        ({"model": "openai/gpt-4o-mini", "provider": {"quantizations": ["int4"]}}, 503,
         "quantization"),
        ({"model": "openai/gpt-4o-mini", "max_tokens": 100_000}, 503, "max_tokens"),
    ],
)  # fmt: skip
def test_requests_nothing_can_serve_say_why(gateway_url, make_account, body, status, fragment):
    alice = make_account("1")
    response = chat(gateway_url, alice.api_key, **body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    assert fragment in error["message"]
