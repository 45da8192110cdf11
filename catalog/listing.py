"""Reads of the public catalog pages: models filtered, priced, sorted and counted in the database.

A model is listed when it is a chat model (embedding models have their own list, as in
`/api/v1/embeddings/models`) with at least one active endpoint at an active provider. Its
listed prices are those of its cheapest active paid endpoint, in the order routing uses
(`selectors.price_rank`); a model served only by free endpoints has no paid price (None) and
counts as zero when filtered or sorted by price. Every figure is an annotation, so a page of
results costs the same few queries however many models there are.
"""

import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery

from catalog.models import Endpoint, Model, Provider

# The input modalities a model can declare (OpenRouter's names).
INPUT_MODALITIES = ("text", "image", "audio", "video", "file")


class Sort(models.TextChoices):
    NAME = "name", "Name"
    PRICE = "price", "Price, lowest first"
    CONTEXT = "context", "Context, longest first"
    NEWEST = "newest", "Newest first"
    THROUGHPUT = "throughput", "Throughput, fastest first"


@dataclass(frozen=True, slots=True)
class ModelFilters:
    query: str = ""  # part of the name or slug, any case
    provider_slug: str = ""
    min_context_length: int | None = None
    input_modality: str = ""
    max_prompt_usd_per_mtok: Decimal | None = None
    free_only: bool = False  # only models that have a `:free` variant


def _active_endpoints() -> "QuerySet[Endpoint]":
    return Endpoint.objects.filter(is_active=True, provider__is_active=True)


def _json_list_item(value: str) -> str:
    # SQLite has no JSON containment lookup; a JSON list's text holds each item quoted, and
    # modality names are plain words, so this text search matches whole items only.
    return json.dumps(value)


def _chat_models() -> "QuerySet[Model]":
    return Model.objects.exclude(output_modalities__icontains=_json_list_item("embeddings"))


def _cheapest_price(paid: "QuerySet[Endpoint]", field: str) -> Subquery:
    return Subquery(paid.values(field)[:1])


def listed_models(*, filters: ModelFilters | None = None) -> "QuerySet[Model]":
    """Listed models matching `filters`, unordered, each annotated with `prompt_usd_per_mtok`
    and `completion_usd_per_mtok` (its cheapest paid endpoint's; None when it has none),
    `total_usd_per_mtok` (their sum), `has_free`, and `provider_count`."""
    active = _active_endpoints().filter(model=OuterRef("pk"))
    paid = active.filter(variant=Endpoint.Variant.STANDARD).order_by(
        F("prompt_usd_per_mtok") + F("completion_usd_per_mtok"),
        "request_usd",
        "prompt_usd_per_mtok",
    )
    provider_count = active.order_by().values("model").annotate(n=Count("provider", distinct=True))
    listed = (
        _chat_models()
        .filter(Exists(active))
        .annotate(
            prompt_usd_per_mtok=_cheapest_price(paid, "prompt_usd_per_mtok"),
            completion_usd_per_mtok=_cheapest_price(paid, "completion_usd_per_mtok"),
            has_free=Exists(active.filter(variant=Endpoint.Variant.FREE)),
            provider_count=Subquery(provider_count.values("n")),
        )
        .annotate(total_usd_per_mtok=F("prompt_usd_per_mtok") + F("completion_usd_per_mtok"))
    )
    return _filtered(listed, filters or ModelFilters(), active)


def _filtered(
    listed: "QuerySet[Model]", filters: ModelFilters, active: "QuerySet[Endpoint]"
) -> "QuerySet[Model]":
    if filters.query:
        listed = listed.filter(Q(name__icontains=filters.query) | Q(slug__icontains=filters.query))
    if filters.provider_slug:
        listed = listed.filter(Exists(active.filter(provider__slug=filters.provider_slug)))
    if filters.min_context_length is not None:
        listed = listed.filter(context_length__gte=filters.min_context_length)
    if filters.input_modality:
        item = _json_list_item(filters.input_modality)
        listed = listed.filter(input_modalities__icontains=item)
    if filters.max_prompt_usd_per_mtok is not None:
        cheap_enough = Q(prompt_usd_per_mtok__lte=filters.max_prompt_usd_per_mtok)
        listed = listed.filter(cheap_enough | Q(prompt_usd_per_mtok__isnull=True))
    if filters.free_only:
        listed = listed.filter(Q(has_free=True))
    return listed


def models_ordered(listed: "QuerySet[Model]", *, sort: Sort) -> "QuerySet[Model]":
    """`listed` in the order of `sort`; by name for THROUGHPUT, which the database cannot
    know (the caller orders by measured throughput)."""
    if sort is Sort.PRICE:
        # A model with only free endpoints has no paid price: it is the cheapest.
        return listed.order_by(F("total_usd_per_mtok").asc(nulls_first=True), "name", "slug")
    if sort is Sort.CONTEXT:
        return listed.order_by("-context_length", "name", "slug")
    if sort is Sort.NEWEST:
        return listed.order_by("-created_at", "name", "slug")
    return listed.order_by("name", "slug")


def cheapest_paid_models(*, limit: int) -> list[Model]:
    """The listed models with a paid endpoint, cheapest (prompt + completion) first."""
    paid = listed_models().filter(Q(prompt_usd_per_mtok__isnull=False))
    return list(models_ordered(paid, sort=Sort.PRICE)[:limit])


def listed_model_count() -> int:
    return listed_models().count()


def serving_provider_count() -> int:
    """Active providers with an active endpoint (those `/api/v1/providers` lists)."""
    return Provider.objects.filter(is_active=True, endpoints__is_active=True).distinct().count()


def provider_choices() -> list[tuple[str, str]]:
    """(slug, name) of the active providers, for the catalog's provider filter."""
    return list(Provider.objects.filter(is_active=True).values_list("slug", "name"))


def listed_endpoint_ids() -> list[tuple[int, int]]:
    """(endpoint id, model id) of every active endpoint of a listed model."""
    endpoints = _active_endpoints().filter(model__in=_chat_models()).order_by()
    return list(endpoints.values_list("pk", "model_id"))


def other_variant_exists(*, model: Model, variant: str) -> bool:
    """Whether `model` has an active endpoint of the variant other than `variant` (the free
    one for the standard page, the standard one for the free page)."""
    other = Endpoint.Variant.STANDARD if variant else Endpoint.Variant.FREE
    return _active_endpoints().filter(model=model, variant=other).exists()
