"""A model's page: its providers with exact prices and health, the free variant's page, 404s,
the code samples and the copy script, and the header's link to the models."""

from decimal import Decimal

import pytest

from catalog.models import Endpoint, Provider
from tests.web.catalog_pages.support import (
    LLAMA_8B,
    endpoint,
    table,
    text,
)

pytestmark = pytest.mark.django_db


def test_model_page_lists_providers_with_exact_prices_cheapest_highlighted(client, catalog):
    response = client.get(f"/models/{LLAMA_8B}")

    rows = table(response, "providers")
    assert [row.cells[:6] for row in rows] == [
        ["Quanta Compute cheapest available", "$0.02", "$0.05", "131,072", "8,192", "fp8"],
        ["Atlas Serve", "$0.025", "$0.0625", "131,072", "8,192", "fp16"],
        ["Ember Inference", "$0.03", "$0.075", "131,072", "8,192", "bf16"],
    ]
    assert [row.classes for row in rows] == ["best", "", ""]
    page = text(response)
    assert "Meta's small open-weights instruction model." in page
    assert "<dd>131,072 tokens</dd>" in page
    assert "<dd>$0.02 per M tokens</dd>" in page
    assert "No measurements yet" in page  # no Redis, and not served through the gateway
    assert "No uptime measurements yet" in page
    assert [row.cells[6:] for row in rows] == [["—", "—", "—", "Unknown"]] * 3


def test_prices_are_shown_exactly_never_rounded(client, catalog):
    Endpoint.objects.filter(model__slug=LLAMA_8B, provider__slug="quanta").update(
        prompt_usd_per_mtok=Decimal("0.000000001"), completion_usd_per_mtok=Decimal("123.456789")
    )

    rows = table(client.get(f"/models/{LLAMA_8B}"), "providers")
    listed = next(r for r in table(client.get("/models"), "models") if LLAMA_8B in r.cells[0])

    assert rows[-1].cells[:3] == ["Quanta Compute", "$0.000000001", "$123.456789"]
    assert listed.cells[2:4] == ["$0.025", "$0.0625"]  # atlas is now the cheapest in total


def test_model_page_shows_health_and_highlights_the_cheapest_healthy(client, catalog, health):
    quanta, atlas = endpoint(LLAMA_8B, "quanta"), endpoint(LLAMA_8B, "atlas")
    health.eject(quanta)
    for latency_ms, tps in ((200, 40.0), (400, 60.0), (300, 50.0)):
        health.success(atlas, latency_ms=latency_ms, throughput_tps=tps)
    health.failure(atlas)  # 3 of 4 answered: 75 % uptime

    response = health.get(client, f"/models/{LLAMA_8B}")

    rows = table(response, "providers")
    assert [row.cells[0] for row in rows] == [
        "Quanta Compute",
        "Atlas Serve cheapest available",
        "Ember Inference",
    ]
    assert [row.classes for row in rows] == ["", "best", ""]
    assert rows[0].cells[6:] == ["0.0%", "—", "—", "Ejected after failures"]
    assert rows[1].cells[6:] == ["75.0%", "300 ms", "50.0 tok/s", "Available"]
    assert rows[2].cells[6:] == ["—", "—", "—", "Available"]
    page = response.content.decode()
    assert "No measurements yet" not in page
    assert "<svg" in page
    assert "Atlas Serve, last 30 min: 75.0%" in page
    assert 'width="225.0"' in page  # 75 % of the 300-unit bar


def test_free_variant_has_its_own_page(client, catalog):
    response = client.get(f"/models/{LLAMA_8B}:free")

    rows = table(response, "providers")
    assert [row.cells[:3] for row in rows] == [["Atlas Serve cheapest available", "$0.00", "$0.00"]]
    assert f'href="/models/{LLAMA_8B}">Paid version</a>' in response.content.decode()
    paid = client.get(f"/models/{LLAMA_8B}").content.decode()
    assert f'href="/models/{LLAMA_8B}:free">Free variant</a>' in paid


@pytest.mark.parametrize(
    "path",
    [
        "/models/nobody/nothing",
        "/models/openai/gpt-4o:free",  # no free variant
        "/models/openai/gpt-4o:cheap",
        "/models/openai",
    ],
)
def test_unknown_model_is_a_404_page(client, catalog, path):
    response = client.get(path)

    assert response.status_code == 404
    page = response.content.decode()
    assert "Not found" in page
    assert 'href="/models"' in page


def test_a_model_no_provider_serves_is_a_404(client, catalog):
    Provider.objects.filter(slug__in=["nimbus", "atlas"]).update(is_active=False)

    assert client.get("/models/openai/gpt-4o").status_code == 404


def test_model_page_code_samples_use_the_sites_base_url_and_the_model(client, catalog, settings):
    settings.ALLOWED_HOSTS = ["switchyard.example"]
    response = client.get(f"/models/{LLAMA_8B}:free", HTTP_HOST="switchyard.example")

    page = response.content.decode()
    base = "http://switchyard.example/api/v1"
    assert f"curl {base}/chat/completions" in page
    assert f'OpenAI(base_url="{base}"' in page
    assert f'model="{LLAMA_8B}:free"' in page
    assert f'await fetch("{base}/chat/completions"' in page
    assert f'model: "{LLAMA_8B}:free"' in page
    for sample in ("code-curl", "code-python", "code-js"):
        assert f'<code id="{sample}">' in page
        assert f'data-copy="{sample}"' in page
    assert '<script src="/static/dashboard/copy.js" defer>' in page


def test_embedding_model_page_shows_embedding_samples(client, catalog):
    page = client.get("/models/openai/text-embedding-3-small").content.decode()

    assert "/api/v1/embeddings" in page
    assert "/chat/completions" not in page


def test_the_copy_script_is_served_by_the_app(client):
    response = client.get("/static/dashboard/copy.js")

    assert response.status_code == 200
    assert "navigator.clipboard" in b"".join(response.streaming_content).decode()


def test_the_header_links_to_the_models(client, catalog):
    assert '<a href="/models">Models</a>' in client.get("/").content.decode()
