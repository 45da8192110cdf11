"""What the catalog page tests share: the demo catalog's model ids, readers of the rendered
pages' tables and text, the health a test records (and the way its pages see it), and bulk
models for the query-count tests."""

import asyncio
import html
import time
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import AsyncRequestFactory
from django.urls import resolve
from django.utils import timezone

from catalog.demo import DEMO_MODELS
from catalog.models import Endpoint, Model, Provider
from proxy.health import BreakerPolicy, HealthStore, RedisHealthStore
from proxy.health_reader import HEALTH_STORE_SCOPE_KEY

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


# -- the demo catalog's endpoints and the health a test records ---------------------------


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
