"""The public catalog pages: the model list (search, filters, sort, pages) and a model's page.

Models are filtered, priced and sorted in the database (`catalog.listing`); health figures come
from the gateway's store (`proxy.health_reader`). Throughput by model needs every listed
endpoint's statistics, so it is cached for a minute: the list and the home page show it on
every visit. A model's own page reads its few endpoints' health afresh.
"""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.listing import (
    INPUT_MODALITIES,
    ModelFilters,
    Sort,
    listed_endpoint_ids,
    listed_models,
    models_ordered,
    other_variant_exists,
    provider_choices,
)
from catalog.models import Endpoint, Model
from catalog.selectors import catalog_entry
from proxy.health import CircuitState, EndpointStats
from proxy.health_reader import (
    HealthReading,
    health_read,
    health_source_exists,
    live_health_store,
)

PAGE_SIZE = 50
THROUGHPUT_CACHE_TTL_S = 60


class ModelFilterForm(forms.Form):
    """The catalog's GET form; an invalid field is reported and ignored, the others apply."""

    q = forms.CharField(required=False, max_length=200, label="Search name or id")
    provider = forms.ChoiceField(required=False, label="Provider")
    context = forms.IntegerField(required=False, min_value=0, label="Minimum context (tokens)")
    modality = forms.ChoiceField(
        required=False,
        label="Input modality",
        choices=[("", "Any"), *((m, m) for m in INPUT_MODALITIES)],
    )
    max_price = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=18,
        decimal_places=9,
        label="Max prompt price ($ per M tokens)",
    )
    free = forms.BooleanField(
        required=False,
        label="Has a free variant",
        widget=forms.CheckboxInput(attrs={"value": "1"}),
    )
    sort = forms.ChoiceField(required=False, choices=Sort.choices, label="Sort by")

    def __init__(self, data: Any, *, providers: list[tuple[str, str]]) -> None:
        super().__init__(data, label_suffix="")
        self.fields["provider"].choices = [("", "Any provider"), *providers]  # type: ignore[attr-defined]

    def model_filters(self) -> ModelFilters:
        data = self.cleaned_data  # the valid fields only
        return ModelFilters(
            query=data.get("q") or "",
            provider_slug=data.get("provider") or "",
            min_context_length=data.get("context"),
            input_modality=data.get("modality") or "",
            max_prompt_usd_per_mtok=data.get("max_price"),
            free_only=bool(data.get("free")),
        )

    def model_sort(self) -> Sort:
        return Sort(self.cleaned_data.get("sort") or Sort.NAME)


@dataclass(frozen=True, slots=True)
class ListedModel:
    """A model as a list shows it: `model` carries `catalog.listing`'s annotations."""

    model: Model
    throughput_tps: float | None  # best p50 over 30 minutes among its providers; None = unmeasured


def model_throughputs(request: HttpRequest) -> dict[int, float]:
    """The best measured throughput (tokens per second, p50 over 30 minutes) of each listed
    model among its active endpoints; models without measurements are absent."""
    live_store = live_health_store(request)
    if not health_source_exists(live_store):
        return {}
    key = f"catalog-pages:model-throughput:{settings.HEALTH_REDIS_PREFIX}"
    cached: dict[int, float] | None = cache.get(key)
    if cached is not None:
        return cached
    endpoints = listed_endpoint_ids()
    reading = health_read([e for e, _ in endpoints], live_store=live_store, circuits=False)
    best: dict[int, float] = {}
    for endpoint_id, model_id in endpoints:
        stats = reading.stats.get(endpoint_id)
        if stats is not None and stats.throughput_last_30m is not None:
            best[model_id] = max(best.get(model_id, 0.0), stats.throughput_last_30m.p50)
    if reading.available:
        cache.set(key, best, THROUGHPUT_CACHE_TTL_S)
    return best


def fastest_models(throughputs: dict[int, float], *, limit: int) -> list[ListedModel]:
    fastest = sorted(throughputs, key=lambda model_id: -throughputs[model_id])[:limit]
    models = listed_models().in_bulk(fastest)
    return [ListedModel(models[i], throughputs[i]) for i in fastest if i in models]


def _page_by_throughput(
    listed: "QuerySet[Model]", throughputs: dict[int, float], number: str | None
) -> tuple[Page[int], list[Model]]:
    """The database sorts by name; measured throughput, fastest first, comes on top of that."""
    ids = list(models_ordered(listed, sort=Sort.NAME).values_list("pk", flat=True))
    ids.sort(key=lambda model_id: (model_id not in throughputs, -throughputs.get(model_id, 0.0)))
    page = Paginator(ids, PAGE_SIZE).get_page(number)
    models = listed.in_bulk(page.object_list)
    return page, [models[i] for i in page.object_list if i in models]


@require_GET
def model_list(request: HttpRequest) -> HttpResponse:
    form = ModelFilterForm(request.GET, providers=provider_choices())
    form.is_valid()
    listed, sort = listed_models(filters=form.model_filters()), form.model_sort()
    throughputs = model_throughputs(request)
    number = request.GET.get("page")
    page: Page[Any]
    if sort is Sort.THROUGHPUT:
        page, models = _page_by_throughput(listed, throughputs, number)
    else:
        page = Paginator(models_ordered(listed, sort=sort), PAGE_SIZE).get_page(number)
        models = list(page.object_list)
    context = {
        "form": form,
        "page": page,
        "rows": [ListedModel(m, throughputs.get(m.pk)) for m in models],
        "measured": health_source_exists(live_health_store(request)),
    }
    return render(request, "catalog/models.html", context)


@dataclass(frozen=True, slots=True)
class ProviderRow:
    endpoint: Endpoint
    status: str
    stats: EndpointStats | None
    highlighted: bool = False  # the cheapest endpoint that is serving normally


def _status(reading: HealthReading, endpoint_id: int) -> tuple[str, bool]:
    """A label of the endpoint's circuit, and whether it serves normally (an endpoint never
    seen has a closed circuit; without any reading it counts as serving, as routing does)."""
    if not reading.available:
        return "Unknown", True
    health = reading.circuits.get(endpoint_id)
    if health is None or health.state is CircuitState.CLOSED:
        return "Available", True
    if health.state is CircuitState.HALF_OPEN:
        return "Recovering", False
    return ("Ejected after failures" if health.ejections else "Rate limited"), False


def provider_rows(endpoints: list[Endpoint], reading: HealthReading) -> list[ProviderRow]:
    """`endpoints` cheapest first; the first that serves normally is highlighted."""
    rows, highlighted = [], False
    for endpoint in endpoints:
        label, serving = _status(reading, endpoint.pk)
        best = serving and not highlighted
        highlighted = highlighted or best
        rows.append(ProviderRow(endpoint, label, reading.stats.get(endpoint.pk), best))
    return rows


@dataclass(frozen=True, slots=True)
class UptimeBar:
    window: str
    y: int
    width: str  # SVG user units, formatted here so no locale can change the decimal point
    value: str


@dataclass(frozen=True, slots=True)
class UptimeGroup:
    provider: str
    label_y: int
    bars: list[UptimeBar]


# The chart: a label column, then bars whose full length is 100 % uptime.
CHART_LABEL_WIDTH = 140
CHART_BAR_LENGTH = 300
CHART_BAR_HEIGHT = 10
CHART_GROUP_HEIGHT = 3 * (CHART_BAR_HEIGHT + 2) + 12


def uptime_chart(rows: list[ProviderRow]) -> list[UptimeGroup]:
    """Bars of each endpoint's uptime over 5 minutes, 30 minutes and a day; empty when none
    of them has a measurement."""
    groups = []
    for index, row in enumerate(rows):
        stats, top = row.stats, index * CHART_GROUP_HEIGHT
        windows = (
            ("last 5 min", stats.uptime_last_5m if stats else None),
            ("last 30 min", stats.uptime_last_30m if stats else None),
            ("last day", stats.uptime_last_1d if stats else None),
        )
        bars = [
            UptimeBar(
                window=window,
                y=top + k * (CHART_BAR_HEIGHT + 2),
                width=f"{(uptime or 0) * CHART_BAR_LENGTH / 100:.1f}",
                value="no data" if uptime is None else f"{uptime:.1f}%",
            )
            for k, (window, uptime) in enumerate(windows)
        ]
        name = row.endpoint.provider.name
        groups.append(UptimeGroup(name, top + CHART_BAR_HEIGHT + 6, bars))
    measured = any(row.stats and row.stats.uptime_last_1d is not None for row in rows)
    return groups if measured else []


@require_GET
def model_detail(request: HttpRequest, author: str, name: str) -> HttpResponse:
    entry = catalog_entry(f"{author}/{name}")
    if entry is None:
        raise Http404("No such model, or no provider serves it")
    live_store = live_health_store(request)
    reading = health_read([e.pk for e in entry.endpoints], live_store=live_store)
    rows = provider_rows(entry.endpoints, reading)
    highlighted = next((row for row in rows if row.highlighted), None)
    context = {
        "entry": entry,
        "model": entry.model,
        "rows": rows,
        "best": highlighted,
        "measured": reading.available,
        "chart": uptime_chart(rows),
        "chart_label_width": CHART_LABEL_WIDTH,
        "chart_bar_length": CHART_BAR_LENGTH,
        "chart_bar_height": CHART_BAR_HEIGHT,
        "chart_height": max(len(rows) * CHART_GROUP_HEIGHT, CHART_GROUP_HEIGHT),
        "chart_width": CHART_LABEL_WIDTH + CHART_BAR_LENGTH + 70,
        "other_variant": other_variant_exists(model=entry.model, variant=entry.variant),
        "embeddings": "embeddings" in entry.model.output_modalities,
        "api_base_url": request.build_absolute_uri("/api/v1"),
    }
    return render(request, "catalog/model.html", context)
