"""The home page: the counts of models and providers, the cheapest and fastest models, and the
three-line example."""

import pytest

from catalog.demo import DEMO_PROVIDERS
from catalog.models import Endpoint, Provider
from tests.web.catalog_pages.support import (
    CHAT_MODELS,
    LLAMA_8B,
    NEMO,
    endpoint,
    table,
    text,
)

pytestmark = pytest.mark.django_db


def test_home_counts_the_models_and_providers_that_serve(client, catalog):
    response = client.get("/")

    page = text(response)
    assert f"<strong>{len(CHAT_MODELS)}</strong> models" in page
    assert f"<strong>{len(DEMO_PROVIDERS)}</strong> providers" in page

    Endpoint.objects.filter(model__slug=NEMO).update(is_active=False)
    Provider.objects.filter(slug="quanta").update(is_active=False)
    page = text(client.get("/"))
    assert f"<strong>{len(CHAT_MODELS) - 1}</strong> models" in page
    assert f"<strong>{len(DEMO_PROVIDERS) - 1}</strong> providers" in page


def test_home_lists_the_cheapest_models_by_prompt_plus_completion(client, catalog):
    rows = table(client.get("/"), "cheapest")

    # Cheapest paid endpoints: 0.02+0.05 (quanta), 0.09+0.09 (ember), 0.108+0.27 (ember),
    # 0.10+0.40 (nimbus), 0.12+0.39 (quanta).
    assert [row.cells for row in rows] == [
        ["Meta: Llama 3.1 8B Instruct", "$0.02", "$0.05"],
        ["Mistral: Mistral Nemo", "$0.09", "$0.09"],
        ["Meta: Llama 3.1 70B Instruct", "$0.108", "$0.27"],
        ["Google: Gemini 2.0 Flash", "$0.10", "$0.40"],
        ["Qwen: Qwen2.5 72B Instruct", "$0.12", "$0.39"],
    ]
    assert rows[0].links == [f"/models/{LLAMA_8B}"]


def test_home_shows_a_three_line_example_with_the_sites_own_base_url(client, catalog, settings):
    settings.ALLOWED_HOSTS = ["switchyard.example"]
    page = client.get("/", HTTP_HOST="switchyard.example").content.decode()

    start = page.index("<code>curl ")
    example = page[start + len("<code>") : page.index("</code>", start)]
    assert len(example.splitlines()) == 3
    assert example.startswith("curl http://switchyard.example/api/v1/chat/completions")
    assert f'"model": "{LLAMA_8B}"' in example  # the cheapest model


def test_home_says_when_nothing_is_measured(client, catalog):
    page = text(client.get("/"))

    assert "No throughput measurements yet" in page


def test_home_fastest_models_are_the_measured_ones_by_throughput(client, catalog, health):
    health.success(endpoint("openai/gpt-4o-mini", "nimbus"), latency_ms=300, throughput_tps=80)
    health.success(endpoint("openai/gpt-4o-mini", "quanta"), latency_ms=300, throughput_tps=20)
    health.success(endpoint("google/gemini-2.0-flash", "lumen"), latency_ms=200, throughput_tps=150)
    health.success(endpoint("deepseek/deepseek-chat", "ember"), latency_ms=900, throughput_tps=40.5)

    rows = table(health.get(client, "/"), "fastest")

    assert [row.cells for row in rows] == [
        ["Google: Gemini 2.0 Flash", "150.0 tok/s"],
        ["OpenAI: GPT-4o-mini", "80.0 tok/s"],  # its fastest provider
        ["DeepSeek: DeepSeek V3", "40.5 tok/s"],
    ]
