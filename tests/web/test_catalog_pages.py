"""The public catalog pages: home, the model list (search, filters, sort, pages) and a model's
page, rendered by Django's test client over the demo catalog.

Health figures come from a store the tests fill by hand: the gateway's own memory store (handed
to the page in the ASGI scope, as GatewayApp does) or Redis (read by the page on its own). The
last test checks the whole path in a live gateway process.
"""

import asyncio
import html
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import httpx
import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import AsyncRequestFactory
from django.urls import resolve
from django.utils import timezone

from catalog.demo import DEMO_MODELS, DEMO_PROVIDERS
from catalog.models import Endpoint, Model, Provider
from catalog.services import demo_catalog_load
from proxy.health import BreakerPolicy, HealthStore, MemoryHealthStore, RedisHealthStore
from proxy.health_reader import HEALTH_STORE_SCOPE_KEY
from tests.live import eventually

pytestmark = pytest.mark.django_db

SIMULATOR = "http://127.0.0.1:9"  # nothing is called: the pages only read the catalog
LLAMA_8B = "meta-llama/llama-3.1-8b-instruct"  # quanta, atlas, ember; free at atlas
NEMO = "mistralai/mistral-nemo"  # the other model with a free variant
CHAT_MODELS = {demo.slug for demo in DEMO_MODELS}  # embedding models are not listed


# -- reading the rendered pages -----------------------------------------------------------


@dataclass
class Row:
    cells: list[str]
    classes: str = ""
    links: list[str] = field(default_factory=list)


class _Tables(HTMLParser):
    """The rows of every <table>, by the table's class: each cell's text and each row's links."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[Row]] = {}
        self._table: list[Row] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attributes.get("class") or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append(Row([], attributes.get("class") or ""))
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "a" and self._table:
            self._table[-1].links.append(attributes.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self._table[-1].cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table(response: HttpResponse, name: str) -> list[Row]:
    """The body rows (not the header) of the table of class `name`."""
    assert response.status_code == 200, response.status_code
    parser = _Tables()
    parser.feed(response.content.decode())
    assert name in parser.tables, f"no table {name!r} on the page"
    return parser.tables[name][1:]


def listed_slugs(response: HttpResponse) -> list[str]:
    """The model ids of the catalog's rows, in order (each row's first link is its page)."""
    return [row.links[0].removeprefix("/models/") for row in table(response, "models") if row.links]


def text(response: HttpResponse) -> str:
    """The page's HTML with entities decoded and white space collapsed."""
    return " ".join(html.unescape(response.content.decode()).split())


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _health_of_this_test(settings) -> None:
    # No Redis unless a test asks for it, and never another test's (or a developer's) keys.
    settings.REDIS_URL = ""
    settings.HEALTH_REDIS_PREFIX = f"test-web:{uuid.uuid4().hex}"


@pytest.fixture
def catalog() -> None:
    demo_catalog_load(simulator_url=SIMULATOR)


def endpoint(model_slug: str, provider_slug: str, variant: str = "") -> Endpoint:
    return Endpoint.objects.get(
        model__slug=model_slug, provider__slug=provider_slug, variant=variant
    )


class Health:
    """Provider health a test records, and the way its pages see it: through the gateway's
    memory store in the request's scope, or through Redis from settings."""

    def __init__(self, store: HealthStore, *, in_scope: bool) -> None:
        self.store = store
        self.in_scope = in_scope

    def success(self, target: Endpoint, *, latency_ms: int, throughput_tps: float) -> None:
        record = self.store.record_success
        self._run(record(target.pk, time.time(), latency_ms=latency_ms,
                         throughput_tps=throughput_tps))  # fmt: skip

    def failure(self, target: Endpoint) -> None:
        siblings = Endpoint.objects.filter(model=target.model, variant=target.variant)
        others = [e.pk for e in siblings if e.pk != target.pk]
        self._run(self.store.record_failure(target.pk, time.time(), siblings=others))

    def eject(self, target: Endpoint) -> None:
        for _ in range(BreakerPolicy().failure_threshold):
            self.failure(target)

    def get(self, client, path: str):
        """The page at `path`, read as a request from the gateway (or any request) would be."""
        if not self.in_scope:
            return client.get(path)
        # As GatewayApp passes a request on to Django: its health store in the scope.
        request = AsyncRequestFactory().get(path)
        request.scope = {**request.scope, HEALTH_STORE_SCOPE_KEY: self.store}
        request.user = AnonymousUser()
        match = resolve(request.path)
        return match.func(request, *match.args, **match.kwargs)

    def _run(self, recording) -> None:
        asyncio.run(recording)


@pytest.fixture(params=["gateway memory", "redis"])
def health(request: pytest.FixtureRequest, settings) -> Iterator[Health]:
    if request.param == "gateway memory":
        yield Health(MemoryHealthStore(policy=BreakerPolicy()), in_scope=True)
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    settings.REDIS_URL, settings.HEALTH_REDIS_PREFIX = url, prefix
    # A client per recording: a Redis client belongs to the event loop it was used on.
    yield _RedisHealth(url, prefix)


class _RedisHealth(Health):
    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(RedisHealthStore.from_url(url, prefix=prefix, policy=BreakerPolicy()),
                         in_scope=False)  # fmt: skip
        self._url, self._prefix = url, prefix

    def _run(self, recording) -> None:
        async def run() -> None:
            try:
                await recording
            finally:
                await self.store.close()

        asyncio.run(run())
        self.store = RedisHealthStore.from_url(self._url, prefix=self._prefix,
                                               policy=BreakerPolicy())  # fmt: skip


def bulk_models(count: int, *, provider: Provider, free_every: int = 0) -> list[Model]:
    """`count` models served by `provider`, the n-th at n thousandths of a dollar (plus a free
    endpoint on every `free_every`-th), made with two INSERTs."""
    made_at = timezone.now()
    models = Model.objects.bulk_create(
        Model(slug=f"bulk/model-{n:04d}", name=f"Bulk model {n:04d}", context_length=4096 + n,
              created_at=made_at)
        for n in range(1, count + 1)
    )  # fmt: skip
    endpoints = []
    for n, model in enumerate(models, start=1):
        endpoints.append(_bulk_endpoint(model, provider, Decimal(n) / 1000))
        if free_every and n % free_every == 0:
            endpoints.append(_bulk_endpoint(model, provider, Decimal(0), Endpoint.Variant.FREE))
    Endpoint.objects.bulk_create(endpoints)
    return models


def _bulk_endpoint(model: Model, provider: Provider, price: Decimal, variant: str = "") -> Endpoint:
    return Endpoint(
        model=model,
        provider=provider,
        variant=variant,
        upstream_model_id=model.slug,
        prompt_usd_per_mtok=price,
        completion_usd_per_mtok=price,
        context_length=model.context_length,
        max_output_tokens=1024,
    )


def bulk_provider() -> Provider:
    return Provider.objects.create(slug="bulk", name="Bulk Hosting", base_url=SIMULATOR)


# -- home ---------------------------------------------------------------------------------


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


# -- the model list -----------------------------------------------------------------------


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


# -- a model's page -----------------------------------------------------------------------


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


# -- live: a gateway process's pages read its health, in its memory or in Redis -----------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared", [False, True], ids=["gateway memory", "redis"])
def test_a_gateway_shows_its_own_measurements_on_its_pages(
    request, live_catalog, start_gateway, make_account, shared
):
    redis_url = request.getfixturevalue("redis_url") if shared else ""
    gateway = start_gateway(REDIS_URL=redis_url)
    key = make_account("5").api_key
    model = "openai/gpt-4o-mini"

    def measured_page() -> str | None:
        page = httpx.get(f"{gateway.url}/models/{model}", timeout=10).text
        return None if "No uptime measurements yet" in page else page

    assert measured_page() is None  # no request yet: nothing measured
    response = httpx.post(
        f"{gateway.url}/api/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text

    page = eventually(measured_page, what="the page shows the recorded request")
    assert "Nimbus Cloud, last 30 min: 100.0%" in page
