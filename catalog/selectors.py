from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from catalog.models import Endpoint, Model


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

    @property
    def price_rank(self) -> tuple[Decimal, Decimal, Decimal]:
        return price_rank(self.prompt_usd_per_mtok, self.completion_usd_per_mtok, self.request_usd)


def price_rank(
    prompt_usd_per_mtok: Decimal, completion_usd_per_mtok: Decimal, request_usd: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """The order of "cheapest first", shared by routing and the catalog's displayed price."""
    return (prompt_usd_per_mtok + completion_usd_per_mtok, request_usd, prompt_usd_per_mtok)


def _active_endpoints() -> Iterable[Endpoint]:
    return Endpoint.objects.filter(is_active=True, provider__is_active=True).select_related(
        "model", "provider"
    )


def routable_endpoints() -> dict[str, list[RoutableEndpoint]]:
    """Every active endpoint, grouped by model slug, cheapest first."""
    by_model: dict[str, list[RoutableEndpoint]] = {}
    for endpoint in _active_endpoints():
        by_model.setdefault(endpoint.model.slug, []).append(
            RoutableEndpoint(
                endpoint_id=endpoint.pk,
                model_slug=endpoint.model.slug,
                provider_slug=endpoint.provider.slug,
                provider_name=endpoint.provider.name,
                adapter=endpoint.provider.adapter,
                base_url=endpoint.provider.base_url,
                api_key_env=endpoint.provider.api_key_env,
                upstream_model_id=endpoint.upstream_model_id,
                prompt_usd_per_mtok=endpoint.prompt_usd_per_mtok,
                completion_usd_per_mtok=endpoint.completion_usd_per_mtok,
                request_usd=endpoint.request_usd,
                context_length=endpoint.context_length,
                max_output_tokens=endpoint.max_output_tokens,
                inference_fee_bps=endpoint.provider.inference_fee_bps,
            )
        )
    for endpoints in by_model.values():
        endpoints.sort(key=lambda e: e.price_rank)
    return by_model


def models_with_endpoints() -> list[tuple[Model, list[Endpoint]]]:
    """Models that have at least one active endpoint, each with its endpoints cheapest first."""
    grouped: dict[int, tuple[Model, list[Endpoint]]] = {}
    for endpoint in _active_endpoints():
        grouped.setdefault(endpoint.model_id, (endpoint.model, []))[1].append(endpoint)
    result = sorted(grouped.values(), key=lambda pair: pair[0].slug)
    for _, endpoints in result:
        endpoints.sort(key=lambda e: e.prompt_usd_per_mtok + e.completion_usd_per_mtok)
    return result
