"""Which endpoints a request may go to, and in what order: the routing decision, as a pure
function of the catalog, the request, its preferences and what health says of each endpoint.

Every endpoint of the requested models is either excluded, with the reason (for the 503
message and the routing trace), or placed in the attempt order: the preferred order
(`provider.order`, else the sort: cheapest expected cost of this request by default), healthy
endpoints before unhealthy ones, which stay as last-resort fallbacks.
"""

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from billing.money import Usage, usage_charge
from catalog.selectors import RoutableEndpoint
from proxy.errors import InvalidRequest, ModelNotFound, NoProviderAvailable
from proxy.routing.preferences import ModelRef, ProviderPreferences, Sort, Variant

# Parameters the caller cannot do without: a provider that ignores `tools` or
# `response_format` gives a wrong answer, not a degraded one. Without `require_parameters`
# they still only filter when some provider supports them.
ESSENTIAL_PARAMETERS = frozenset({"tools", "tool_choice", "response_format", "structured_outputs"})
# Without max_tokens, a request's completion length is unknown; rank prices as if it were this.
EXPECTED_COMPLETION_TOKENS = 500


@dataclass(frozen=True, slots=True)
class Vitals:
    """What health says of one endpoint, as routing needs it."""

    healthy: bool = True  # not ejected or cooling down
    trial: bool = False  # cooldown over: one trial request decides whether it is back
    latency_ms: float | None = None  # recent median time to first token
    throughput_tps: float | None = None  # recent median tokens per second


HEALTHY = Vitals()


@dataclass(frozen=True, slots=True)
class Demand:
    """The facts of a request that decide which endpoints can serve it."""

    models: tuple[ModelRef, ...]
    preferences: ProviderPreferences
    prompt_tokens_estimate: int
    max_tokens: int | None
    parameters: frozenset[str]
    embeddings: bool = False  # an embeddings request (else a completion)


@dataclass(frozen=True, slots=True)
class Considered:
    endpoint: RoutableEndpoint
    expected_cost_nanos: int
    excluded: str | None = None  # why it is not tried


@dataclass(frozen=True, slots=True)
class RoutePlan:
    attempts: tuple[RoutableEndpoint, ...]
    considered: tuple[Considered, ...]
    strategy: str


@dataclass(frozen=True, slots=True)
class Catalog:
    """The routable catalog as routing reads it."""

    endpoints_of: Callable[[str], Sequence[RoutableEndpoint]]
    # Lower-cased provider slugs and display names -> slug, to resolve preference names.
    provider_slugs: Mapping[str, str]
    platform_fee_bps: int


def expected_cost_nanos(endpoint: RoutableEndpoint, demand: Demand, platform_fee_bps: int) -> int:
    completion = demand.max_tokens or min(EXPECTED_COMPLETION_TOKENS, endpoint.max_output_tokens)
    usage = Usage(prompt_tokens=demand.prompt_tokens_estimate, completion_tokens=completion)
    fee_bps = endpoint.fee_bps(platform_fee_bps)
    return usage_charge(usage, endpoint.prices, fee_bps=fee_bps).total_nanos


def _format_exclusion(endpoint: RoutableEndpoint, demand: Demand) -> str:
    # Only OpenAI-compatible APIs serve embeddings here.
    if demand.embeddings and endpoint.adapter != "openai":
        return "its provider's API has no embeddings"
    return ""


def _resolve_providers(preferences: ProviderPreferences, catalog: Catalog) -> ProviderPreferences:
    """The preferences with every provider name replaced by its slug; unknown names are a 400."""

    def slug(name: str) -> str:
        found = catalog.provider_slugs.get(name)
        if found is None:
            raise InvalidRequest(f"Unknown provider '{name}' in the 'provider' preferences")
        return found

    names = preferences.provider_names
    if not names:  # most requests name no provider: nothing to resolve
        return preferences
    for name in sorted(names):
        slug(name)
    return ProviderPreferences(
        order=tuple(dict.fromkeys(slug(n) for n in preferences.order)),
        only=None if preferences.only is None else frozenset(slug(n) for n in preferences.only),
        ignore=frozenset(slug(n) for n in preferences.ignore),
        allow_fallbacks=preferences.allow_fallbacks,
        require_parameters=preferences.require_parameters,
        sort=preferences.sort,
        partition_by_model=preferences.partition_by_model,
        max_price=preferences.max_price,
        quantizations=preferences.quantizations,
    )


def _preference_exclusion(endpoint: RoutableEndpoint, preferences: ProviderPreferences) -> str:
    provider = endpoint.provider_slug
    if provider in preferences.ignore:
        return "ignored by provider.ignore"
    if preferences.only is not None and provider not in preferences.only:
        return "not in provider.only"
    quantization = endpoint.quantization or "unknown"
    if preferences.quantizations is not None and quantization not in preferences.quantizations:
        return f"quantization {quantization} is not in provider.quantizations"
    return _price_exclusion(endpoint, preferences)


def _price_exclusion(endpoint: RoutableEndpoint, preferences: ProviderPreferences) -> str:
    limit = preferences.max_price
    if limit.prompt is not None and endpoint.prompt_usd_per_mtok > limit.prompt:
        return f"prompt price ${endpoint.prompt_usd_per_mtok.normalize():f}/M is above max_price"
    if limit.completion is not None and endpoint.completion_usd_per_mtok > limit.completion:
        price = endpoint.completion_usd_per_mtok.normalize()
        return f"completion price ${price:f}/M is above max_price"
    if limit.request is not None and endpoint.request_usd > limit.request:
        return f"request price ${endpoint.request_usd.normalize():f} is above max_price"
    return ""


def _fit_exclusion(endpoint: RoutableEndpoint, demand: Demand) -> str:
    if demand.max_tokens is not None and demand.max_tokens > endpoint.max_output_tokens:
        return f"its max output ({endpoint.max_output_tokens} tokens) is below max_tokens"
    needed = demand.prompt_tokens_estimate + (demand.max_tokens or 0)
    if needed > endpoint.context_length:
        return f"its context ({endpoint.context_length} tokens) is too small (~{needed} needed)"
    if demand.preferences.require_parameters:
        missing = sorted(demand.parameters - endpoint.supported_parameters)
        if missing:
            return f"it does not support {', '.join(missing)} (provider.require_parameters)"
    return ""


def _exclude_without_essentials(fitting: list[RoutableEndpoint], demand: Demand) -> dict[int, str]:
    """Endpoints lacking an essential parameter, when another endpoint has them all."""
    essential = demand.parameters & ESSENTIAL_PARAMETERS
    lacking = [e for e in fitting if not essential <= e.supported_parameters]
    if not lacking or len(lacking) == len(fitting):
        return {}
    missing = {e.endpoint_id: sorted(essential - e.supported_parameters) for e in lacking}
    return {i: f"it does not support {', '.join(names)}" for i, names in missing.items()}


def _sort_for(ref: ModelRef, preferences: ProviderPreferences) -> Sort:
    if preferences.sort is not None:
        return preferences.sort
    return Sort.THROUGHPUT if ref.variant is Variant.NITRO else Sort.PRICE


def _rank(
    endpoints: Iterable[RoutableEndpoint],
    sort: Sort,
    order: Sequence[str],
    costs: Mapping[int, int],
    vitals: Callable[[int], Vitals],
) -> list[RoutableEndpoint]:
    """Preferred order first, then the sort; healthy endpoints before unhealthy ones."""

    def key(endpoint: RoutableEndpoint) -> tuple[object, ...]:
        seen = vitals(endpoint.endpoint_id)
        if sort is Sort.THROUGHPUT:
            measure: float = -(seen.throughput_tps or 0.0)
            unmeasured = seen.throughput_tps is None
        elif sort is Sort.LATENCY:
            measure, unmeasured = seen.latency_ms or 0.0, seen.latency_ms is None
        else:
            measure, unmeasured = 0.0, False
        position = order.index(endpoint.provider_slug) if endpoint.provider_slug in order else None
        return (
            not seen.healthy,
            position is None,
            position or 0,
            unmeasured,
            measure,
            costs[endpoint.endpoint_id],
            endpoint.provider_slug,
        )

    return sorted(endpoints, key=key)


def _variant_endpoints(ref: ModelRef, catalog: Catalog, demand: Demand) -> list[RoutableEndpoint]:
    endpoints = catalog.endpoints_of(ref.slug)
    if not endpoints:
        raise ModelNotFound(f"Model '{ref.slug}' does not exist or has no provider")
    if demand.embeddings != endpoints[0].embeddings:
        raise InvalidRequest(
            f"'{ref.slug}' is an embedding model: use /embeddings"
            if endpoints[0].embeddings
            else f"'{ref.slug}' is not an embedding model"
        )
    wanted = "free" if ref.variant is Variant.FREE else ""
    chosen = [e for e in endpoints if e.variant == wanted]
    if not chosen:
        raise ModelNotFound(f"Model '{ref}' does not exist (it has no {wanted or 'paid'} variant)")
    return chosen


@dataclass
class _ModelRoute:
    considered: list[Considered]
    ranked: list[RoutableEndpoint]


def _route_model(
    ref: ModelRef, demand: Demand, catalog: Catalog, vitals: Callable[[int], Vitals]
) -> _ModelRoute:
    preferences = demand.preferences
    endpoints = _variant_endpoints(ref, catalog, demand)
    costs = {
        e.endpoint_id: expected_cost_nanos(e, demand, catalog.platform_fee_bps) for e in endpoints
    }
    reasons = {
        e.endpoint_id: _preference_exclusion(e, preferences)
        or _format_exclusion(e, demand)
        or _fit_exclusion(e, demand)
        for e in endpoints
    }
    fitting = [e for e in endpoints if not reasons[e.endpoint_id]]
    reasons.update(_exclude_without_essentials(fitting, demand))
    eligible = [e for e in fitting if not reasons[e.endpoint_id]]
    ranked = _rank(eligible, _sort_for(ref, preferences), preferences.order, costs, vitals)
    if not preferences.allow_fallbacks:
        # With an order, only the listed providers; without one, only the first choice.
        order = preferences.order
        kept = [e for e in ranked if e.provider_slug in order] if order else ranked[:1]
        for endpoint in ranked:
            if endpoint not in kept:
                reasons[endpoint.endpoint_id] = "a fallback, and provider.allow_fallbacks is false"
        ranked = kept
    considered = [
        Considered(e, costs[e.endpoint_id], reasons[e.endpoint_id] or None) for e in endpoints
    ]
    return _ModelRoute(considered=considered, ranked=ranked)


def _no_provider(demand: Demand, considered: list[Considered]) -> NoProviderAvailable:
    reasons = [f"{c.endpoint.provider_slug}: {c.excluded}" for c in considered if c.excluded]
    models = ", ".join(str(ref) for ref in demand.models)
    return NoProviderAvailable(
        f"No provider of {models} can serve this request: " + "; ".join(reasons),
        metadata={
            "excluded": [
                {"provider": c.endpoint.provider_slug, "model": c.endpoint.model_slug,
                 "reason": c.excluded}
                for c in considered
            ]
        },
    )  # fmt: skip


def _strategy(demand: Demand) -> str:
    if demand.preferences.order:
        return "order"
    return _sort_for(demand.models[0], demand.preferences).value


def route_plan(
    demand: Demand, catalog: Catalog, vitals: Callable[[int], Vitals], *, max_attempts: int
) -> RoutePlan:
    preferences = _resolve_providers(demand.preferences, catalog)
    resolved = (
        demand
        if preferences is demand.preferences
        else dataclasses.replace(demand, preferences=preferences)
    )
    routes = [_route_model(ref, resolved, catalog, vitals) for ref in resolved.models]
    considered = [c for route in routes for c in route.considered]
    if resolved.preferences.partition_by_model:
        attempts = [e for route in routes for e in route.ranked]
    else:
        costs = {c.endpoint.endpoint_id: c.expected_cost_nanos for c in considered}
        everything = [e for route in routes for e in route.ranked]
        sort = _sort_for(resolved.models[0], resolved.preferences)
        attempts = _rank(everything, sort, resolved.preferences.order, costs, vitals)
    # `m` and `m:floor` route to the same endpoints: a failed endpoint is not tried twice.
    attempts = list(dict.fromkeys(attempts))
    if not attempts:
        raise _no_provider(resolved, considered)
    return RoutePlan(
        attempts=tuple(attempts[:max_attempts]),
        considered=tuple(considered),
        strategy=_strategy(resolved),
    )
