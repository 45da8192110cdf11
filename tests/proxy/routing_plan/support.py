"""What the routing-plan tests share: endpoints built from a few prices, a catalog of them, a
request planned from its JSON fields, and readers of the plan."""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from catalog.selectors import RoutableEndpoint
from proxy.routing.plan import HEALTHY, Catalog, Demand, RoutePlan, Vitals, route_plan
from proxy.routing.preferences import model_refs_parse, preferences_parse

MODEL = "acme/llm"
BIG = "acme/big"
SMALL = "acme/small"
PLATFORM_FEE_BPS = 500
_ids = itertools.count(1)


def endpoint(
    provider: str,
    prompt: str = "1",
    completion: str = "1",
    *,
    model: str = MODEL,
    request: str = "0",
    context_length: int = 128_000,
    max_output_tokens: int = 8_000,
    fee_bps: int | None = None,
    variant: str = "",
    quantization: str = "",
    parameters: Iterable[str] = (),
) -> RoutableEndpoint:
    return RoutableEndpoint(
        endpoint_id=next(_ids),
        model_slug=model,
        provider_slug=provider,
        provider_name=f"{provider.capitalize()} AI",
        adapter="openai",
        base_url=f"https://{provider}.example",
        api_key_env=f"{provider.upper()}_API_KEY",
        upstream_model_id=model,
        prompt_usd_per_mtok=Decimal(prompt),
        completion_usd_per_mtok=Decimal(completion),
        request_usd=Decimal(request),
        context_length=context_length,
        max_output_tokens=max_output_tokens,
        inference_fee_bps=fee_bps,
        variant=variant,
        quantization=quantization,
        supported_parameters=frozenset(parameters),
    )


def catalog_of(endpoints: Sequence[RoutableEndpoint]) -> Catalog:
    by_model: dict[str, list[RoutableEndpoint]] = {}
    names: dict[str, str] = {}
    for e in endpoints:
        by_model.setdefault(e.model_slug, []).append(e)
        names |= {
            e.provider_slug.lower(): e.provider_slug,
            e.provider_name.lower(): e.provider_slug,
        }
    return Catalog(
        endpoints_of=lambda slug: by_model.get(slug, []),
        provider_slugs=names,
        platform_fee_bps=PLATFORM_FEE_BPS,
    )


def route(
    endpoints: Sequence[RoutableEndpoint],
    *,
    model: str | None = MODEL,
    models: list[str] | None = None,
    provider: dict[str, Any] | None = None,
    prompt_tokens: int = 1_000,
    max_tokens: int | None = 1_000,
    parameters: Iterable[str] = (),
    vitals: Mapping[str, Vitals] | None = None,
    max_attempts: int = 10,
) -> RoutePlan:
    """Plan a request given as its JSON fields; `vitals` is keyed by provider slug."""
    demand = Demand(
        models=model_refs_parse(model, models),
        preferences=preferences_parse(provider),
        prompt_tokens_estimate=prompt_tokens,
        max_tokens=max_tokens,
        parameters=frozenset(parameters),
    )
    by_id = {e.endpoint_id: (vitals or {}).get(e.provider_slug, HEALTHY) for e in endpoints}
    return route_plan(demand, catalog_of(endpoints), lambda i: by_id[i], max_attempts=max_attempts)


def tried(plan: RoutePlan) -> list[str]:
    return [e.provider_slug for e in plan.attempts]


def tried_by_model(plan: RoutePlan) -> list[str]:
    return [f"{e.model_slug}@{e.provider_slug}" for e in plan.attempts]


def reasons(plan: RoutePlan) -> dict[str, str | None]:
    return {c.endpoint.provider_slug: c.excluded for c in plan.considered}


def three_providers() -> list[RoutableEndpoint]:
    """bravo is cheapest, then alpha, then charlie; listed in none of those orders."""
    return [endpoint("alpha", "2", "2"), endpoint("charlie", "3", "3"), endpoint("bravo", "1", "1")]


def speeds() -> tuple[list[RoutableEndpoint], dict[str, Vitals]]:
    """bravo is cheapest and unmeasured; charlie is the dearest and the fastest."""
    vitals = {
        "alpha": Vitals(latency_ms=300.0, throughput_tps=50.0),
        "charlie": Vitals(latency_ms=100.0, throughput_tps=100.0),
    }
    return three_providers(), vitals


def two_models() -> list[RoutableEndpoint]:
    return [
        endpoint("alpha", "2", "2", model=BIG),
        endpoint("bravo", "5", "5", model=BIG),
        endpoint("alpha", "1", "1", model=SMALL),
        endpoint("bravo", "3", "3", model=SMALL),
    ]


def with_free() -> list[RoutableEndpoint]:
    return [
        endpoint("alpha", "1", "1"),
        endpoint("bravo", "2", "2"),
        endpoint("charlie", "0", "0", variant="free"),
    ]
