"""The model list: search, filters, sorts (throughput among them), pages of fifty, and a number
of queries that does not grow with the number of models."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.demo import DEMO_MODELS
from catalog.models import Endpoint, Model
from tests.web.catalog_pages.support import (
    CHAT_MODELS,
    LLAMA_8B,
    NEMO,
    bulk_models,
    bulk_provider,
    endpoint,
    listed_slugs,
    table,
    text,
)

pytestmark = pytest.mark.django_db


def test_catalog_lists_every_chat_model_by_name_with_its_cheapest_prices(client, catalog):
    response = client.get("/models")

    assert sorted(listed_slugs(response)) == sorted(CHAT_MODELS)
    names = [row.cells[0] for row in table(response, "models")]
    assert names == sorted(names)
    mini = next(row for row in table(response, "models") if "openai/gpt-4o-mini" in row.cells[0])
    assert mini.cells[1:5] == ["128,000", "$0.15", "$0.60", "2"]
    assert mini.links == ["/models/openai/gpt-4o-mini"]


def test_search_matches_name_or_id_in_any_case(client, catalog):
    assert set(listed_slugs(client.get("/models?q=LLAMA"))) == {
        LLAMA_8B,
        "meta-llama/llama-3.1-70b-instruct",
    }
    assert listed_slugs(client.get("/models?q=DeepSeek V3")) == ["deepseek/deepseek-chat"]
    assert listed_slugs(client.get("/models?q=qwen/")) == ["qwen/qwen-2.5-72b-instruct"]
    assert "No model matches" in text(client.get("/models?q=nothing-like-this"))


def test_provider_filter_keeps_the_models_that_provider_serves(client, catalog):
    served = {d.slug for d in DEMO_MODELS if "lumen" in d.providers or "lumen" in d.free_providers}

    assert set(listed_slugs(client.get("/models?provider=lumen"))) == served
    assert len(served) < len(CHAT_MODELS)
    assert set(listed_slugs(client.get("/models?provider=atlas"))) >= {LLAMA_8B}


def test_context_filter_is_a_minimum(client, catalog):
    assert set(listed_slugs(client.get("/models?context=200000"))) == {
        "anthropic/claude-3.5-haiku",
        "anthropic/claude-3.5-sonnet",
        "google/gemini-2.0-flash",
    }
    assert listed_slugs(client.get("/models?context=1048576")) == ["google/gemini-2.0-flash"]


def test_modality_filter_matches_input_modalities(client, catalog):
    Model.objects.filter(slug__in=["openai/gpt-4o", "google/gemini-2.0-flash"]).update(
        input_modalities=["text", "image"]
    )

    assert set(listed_slugs(client.get("/models?modality=image"))) == {
        "openai/gpt-4o",
        "google/gemini-2.0-flash",
    }
    assert set(listed_slugs(client.get("/models?modality=text"))) == CHAT_MODELS
    assert listed_slugs(client.get("/models?modality=audio")) == []


def test_max_price_filter_compares_the_cheapest_paid_prompt_price(client, catalog):
    response = client.get("/models?max_price=0.12")

    # Cheapest paid prompt prices: llama 8B 0.02, nemo 0.09, llama 70B 0.108, gemini flash
    # 0.10, qwen 0.12; mistral small's is 0.16.
    assert set(listed_slugs(response)) == {
        LLAMA_8B,
        NEMO,
        "meta-llama/llama-3.1-70b-instruct",
        "google/gemini-2.0-flash",
        "qwen/qwen-2.5-72b-instruct",
    }
    assert set(listed_slugs(client.get("/models?max_price=0.1"))) == {
        LLAMA_8B,
        NEMO,
        "google/gemini-2.0-flash",
    }


def test_free_filter_keeps_models_with_a_free_variant_and_links_it(client, catalog):
    response = client.get("/models?free=1")

    assert set(listed_slugs(response)) == {LLAMA_8B, NEMO}
    row = next(r for r in table(response, "models") if LLAMA_8B in r.cells[0])
    assert row.links == [f"/models/{LLAMA_8B}", f"/models/{LLAMA_8B}:free"]
    # A model served only free is listed as free, and counts as the cheapest.
    Endpoint.objects.filter(model__slug=NEMO, variant="").update(is_active=False)
    response = client.get("/models?free=1&sort=price")
    assert listed_slugs(response) == [NEMO, LLAMA_8B]
    assert table(response, "models")[0].cells[2:4] == ["Free", "Free"]


def test_sorts_order_the_results_as_named(client, catalog):
    by_price = listed_slugs(client.get("/models?sort=price"))
    assert by_price[:3] == [LLAMA_8B, NEMO, "meta-llama/llama-3.1-70b-instruct"]
    assert by_price[-1] == "anthropic/claude-3.5-sonnet"  # 3 + 15

    by_context = listed_slugs(client.get("/models?sort=context"))
    assert by_context[0] == "google/gemini-2.0-flash"
    assert set(by_context[1:3]) == {"anthropic/claude-3.5-haiku", "anthropic/claude-3.5-sonnet"}
    assert by_context[-2:] == ["mistralai/mistral-small", "qwen/qwen-2.5-72b-instruct"]

    Model.objects.filter(slug="qwen/qwen-2.5-72b-instruct").update(
        created_at=timezone.now() + timedelta(days=1)
    )
    assert listed_slugs(client.get("/models?sort=newest"))[0] == "qwen/qwen-2.5-72b-instruct"


def test_filters_combine_with_sort(client, catalog):
    response = client.get("/models?provider=quanta&max_price=0.2&sort=price")

    # Prompt + completion at the cheapest paid endpoint, whichever provider that is.
    assert listed_slugs(response) == [
        LLAMA_8B,  # 0.02 + 0.05 at quanta
        "meta-llama/llama-3.1-70b-instruct",  # 0.108 + 0.27 at ember, also served by quanta
        "qwen/qwen-2.5-72b-instruct",  # 0.12 + 0.39
        "mistralai/mistral-small",  # 0.16 + 0.48
        "openai/gpt-4o-mini",  # 0.15 + 0.60
    ]


def test_throughput_sort_puts_measured_models_first_fastest_first(client, catalog, health):
    health.success(endpoint("mistralai/mistral-small", "atlas"), latency_ms=100, throughput_tps=90)
    health.success(endpoint("openai/gpt-4o", "nimbus"), latency_ms=100, throughput_tps=120)

    response = health.get(client, "/models?sort=throughput")

    slugs = listed_slugs(response)
    assert slugs[:2] == ["openai/gpt-4o", "mistralai/mistral-small"]
    rest = slugs[2:]
    assert set(rest) == CHAT_MODELS - set(slugs[:2])
    names = {m.slug: m.name for m in Model.objects.all()}
    assert [names[s] for s in rest] == sorted(names[s] for s in rest)  # unmeasured: by name
    rows = table(response, "models")
    assert rows[0].cells[5] == "120.0 tok/s"
    assert rows[2].cells[5] == "—"


def test_filters_apply_to_the_throughput_sort(client, catalog, health):
    health.success(endpoint("openai/gpt-4o", "nimbus"), latency_ms=100, throughput_tps=120)
    health.success(endpoint(LLAMA_8B, "quanta"), latency_ms=100, throughput_tps=60)

    response = health.get(client, "/models?sort=throughput&q=llama")

    assert listed_slugs(response) == [LLAMA_8B, "meta-llama/llama-3.1-70b-instruct"]


def test_an_invalid_filter_is_reported_and_ignored(client, catalog):
    response = client.get("/models?context=lots&provider=nowhere&sort=price")

    page = text(response)
    assert "Enter a whole number." in page
    assert "Select a valid choice." in page
    slugs = listed_slugs(response)
    assert set(slugs) == CHAT_MODELS
    assert slugs[0] == LLAMA_8B  # the valid sort still applies


def test_the_form_has_a_label_for_every_input_and_works_without_javascript(client, catalog):
    page = client.get("/models").content.decode()

    form = page[page.index('<form method="get" action="/models"') : page.index("</form>")]
    for name in ("q", "provider", "context", "modality", "max_price", "free", "sort"):
        assert f'name="{name}"' in form
        assert f'<label for="id_{name}">' in form
    assert "<script" not in page


def test_pages_of_fifty_keep_the_filters(client, catalog):
    bulk_models(120, provider=bulk_provider())

    first = client.get("/models?q=bulk")
    assert len(listed_slugs(first)) == 50
    assert "Page 1 of 3" in text(first)
    assert 'href="?q=bulk&amp;page=2"' in first.content.decode()

    third = client.get("/models?q=bulk&page=3")
    assert listed_slugs(third) == [f"bulk/model-{n:04d}" for n in range(101, 121)]
    everything = [client.get(f"/models?q=bulk&page={n}") for n in (1, 2, 3)]
    assert len({s for page in everything for s in listed_slugs(page)}) == 120
    assert listed_slugs(client.get("/models?q=bulk&page=99")) == listed_slugs(third)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?sort=price",
        "?sort=context&provider=bulk&context=4500",
        "?free=1&max_price=0.5&modality=text&q=model&sort=newest",
        "?sort=throughput&page=3",
    ],
)
def test_catalog_queries_do_not_grow_with_the_number_of_models(
    client, catalog, django_assert_max_num_queries, query
):
    bulk_models(1000, provider=bulk_provider(), free_every=7)

    with django_assert_max_num_queries(3):
        response = client.get(f"/models{query}")

    assert len(listed_slugs(response)) == 50


def test_catalog_queries_stay_constant_with_measured_throughput(
    client, catalog, django_assert_max_num_queries, health
):
    models = bulk_models(1000, provider=bulk_provider())
    fast = Endpoint.objects.get(model=models[500])
    health.success(fast, latency_ms=100, throughput_tps=500)

    with django_assert_max_num_queries(4):  # and one for throughput, once a minute
        response = health.get(client, "/models?sort=throughput")
    with django_assert_max_num_queries(4):
        home = health.get(client, "/")

    assert listed_slugs(response)[0] == models[500].slug
    assert table(home, "fastest")[0].cells[0] == models[500].name


def test_home_queries_do_not_grow_with_the_number_of_models(
    client, catalog, django_assert_max_num_queries
):
    bulk_models(1000, provider=bulk_provider())

    with django_assert_max_num_queries(3):
        response = client.get("/")

    assert f"<strong>{len(CHAT_MODELS) + 1000}</strong> models" in text(response)
