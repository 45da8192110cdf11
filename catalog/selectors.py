from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from billing.money import Prices
from catalog.models import Endpoint, Model
from marketplace.env import env_str


@dataclass(frozen=True, slots=True)
class RoutableEndpoint:
    """What the gateway needs to forward a request to one endpoint and price it."""

    endpoint_id: int
    model_slug: str
    provider_slug: str
    provider_name: str
    adapter: str
    base_url: str
    api_key_env: str
    upstream_model_id: str
    prompt_usd_per_mtok: Decimal
    completion_usd_per_mtok: Decimal
    request_usd: Decimal
    context_length: int
    max_output_tokens: int
    # The provider's own inference markup in basis points; None = the platform default.
    inference_fee_bps: int | None = None
    variant: str = ""
    quantization: str = ""
    embeddings: bool = False  # an embedding model's endpoint (served by /embeddings only)
    supported_parameters: frozenset[str] = frozenset()
    # Tried with the requesting user's own key for this provider (BYOK), not the shared one.
    byok: bool = False

    @property
    def prices(self) -> Prices:
        return Prices(self.prompt_usd_per_mtok, self.completion_usd_per_mtok, self.request_usd)

    def fee_bps(self, platform_fee_bps: int) -> int:
        return platform_fee_bps if self.inference_fee_bps is None else self.inference_fee_bps

    @property
    def price_rank(self) -> tuple[Decimal, Decimal, Decimal]:
        return price_rank(self.prompt_usd_per_mtok, self.completion_usd_per_mtok, self.request_usd)


def price_rank(
    prompt_usd_per_mtok: Decimal, completion_usd_per_mtok: Decimal, request_usd: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """The order of "cheapest first", shared by routing and the catalog's displayed price."""
    return (prompt_usd_per_mtok + completion_usd_per_mtok, request_usd, prompt_usd_per_mtok)


def _active() -> "QuerySet[Endpoint]":
    return Endpoint.objects.filter(is_active=True, provider__is_active=True)


def _active_endpoints() -> "QuerySet[Endpoint]":
    return _active().select_related("model", "provider")


# Plain rows, not model instances: building a thousand Endpoint, Model and Provider objects
# (with their signals) was most of a catalog reload's CPU time, which holds the GIL.
_ROUTABLE_FIELDS = (
    "pk", "model__slug", "model__output_modalities", "provider__slug", "provider__name",
    "provider__adapter", "provider__base_url", "provider__api_key_env",
    "provider__inference_fee_bps", "upstream_model_id", "prompt_usd_per_mtok",
    "completion_usd_per_mtok", "request_usd", "context_length", "max_output_tokens", "variant",
    "quantization", "supported_parameters",
)  # fmt: skip


def provider_api_key(*, api_key_env: str) -> str:
    """A provider's API key, from the environment variable its row names (or `<name>_FILE`);
    "" for a provider that needs none. Keys never live in the database."""
    return env_str(api_key_env) if api_key_env else ""


def _keyed(api_key_env: str) -> bool:
    """A provider that needs an API key is routable only once the key is in the environment."""
    return not api_key_env or bool(provider_api_key(api_key_env=api_key_env))


def _routable(row: Any) -> RoutableEndpoint:  # a named row of _ROUTABLE_FIELDS
    return RoutableEndpoint(
        endpoint_id=row.pk,
        model_slug=row.model__slug,
        provider_slug=row.provider__slug,
        provider_name=row.provider__name,
        adapter=row.provider__adapter,
        base_url=row.provider__base_url,
        api_key_env=row.provider__api_key_env,
        upstream_model_id=row.upstream_model_id,
        prompt_usd_per_mtok=row.prompt_usd_per_mtok,
        completion_usd_per_mtok=row.completion_usd_per_mtok,
        request_usd=row.request_usd,
        context_length=row.context_length,
        max_output_tokens=row.max_output_tokens,
        inference_fee_bps=row.provider__inference_fee_bps,
        variant=row.variant,
        quantization=row.quantization,
        supported_parameters=frozenset(row.supported_parameters),
        embeddings="embeddings" in row.model__output_modalities,
    )


def routable_endpoints() -> dict[str, list[RoutableEndpoint]]:
    """Every active endpoint (all variants) whose provider can be called, grouped by model
    slug, cheapest first."""
    by_model: dict[str, list[RoutableEndpoint]] = {}
    for row in _active().values_list(*_ROUTABLE_FIELDS, named=True):
        if _keyed(row.provider__api_key_env):
            by_model.setdefault(row.model__slug, []).append(_routable(row))
    for endpoints in by_model.values():
        endpoints.sort(key=lambda e: e.price_rank)  # stable: equal prices keep Endpoint's order
    return by_model


# Raised by database triggers on every write to the catalog (catalog/migrations/0005); a missing
# row reads as 0. Written once for PostgreSQL and SQLite alike.
CATALOG_VERSION_SQL = "SELECT COALESCE(MAX(version), 0) FROM catalog_catalogversion"


def catalog_version() -> int:
    """The catalog's version: it differs from an earlier reading once the catalog changed."""
    with connection.cursor() as cursor:
        cursor.execute(CATALOG_VERSION_SQL)
        row = cursor.fetchone()
    return int(row[0])


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A model as the public catalog lists it: `author/name`, or `author/name:free` for its
    free variant, with its active endpoints cheapest first."""

    model: Model
    variant: str
    endpoints: list[Endpoint]

    @property
    def slug(self) -> str:
        return f"{self.model.slug}:{self.variant}" if self.variant else self.model.slug


def catalog_entries(*, embeddings: bool = False) -> list[CatalogEntry]:
    """Every model (and variant) that has at least one active endpoint, by slug: chat models,
    or embedding models."""
    grouped: dict[tuple[int, str], CatalogEntry] = {}
    for endpoint in _active_endpoints():
        if ("embeddings" in endpoint.model.output_modalities) != embeddings:
            continue
        key = (endpoint.model_id, endpoint.variant)
        entry = grouped.setdefault(key, CatalogEntry(endpoint.model, endpoint.variant, []))
        entry.endpoints.append(endpoint)
    for entry in grouped.values():
        entry.endpoints.sort(key=lambda e: e.prompt_usd_per_mtok + e.completion_usd_per_mtok)
    return sorted(grouped.values(), key=lambda entry: entry.slug)


def catalog_entry(model_id: str) -> CatalogEntry | None:
    """One catalog entry by its id (`author/name` or `author/name:free`), if it has endpoints."""
    slug, _, variant = model_id.partition(":")
    if variant not in ("", Endpoint.Variant.FREE):
        return None
    endpoints = list(_active_endpoints().filter(model__slug=slug, variant=variant))
    if not endpoints:
        return None
    endpoints.sort(key=lambda e: e.prompt_usd_per_mtok + e.completion_usd_per_mtok)
    return CatalogEntry(endpoints[0].model, variant, endpoints)
