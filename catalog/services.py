from datetime import UTC, datetime
from decimal import Decimal

from catalog.demo import (
    COMMON_PARAMETERS,
    DEMO_MODELS,
    DEMO_PROVIDERS,
    OPEN_WEIGHTS_QUANTIZATION,
    PROVIDERS_WITHOUT_STRUCTURED_OUTPUT,
    STRUCTURED_OUTPUT_PARAMETERS,
    TOOL_PARAMETERS,
    DemoModel,
)
from catalog.models import Endpoint, Model, Provider

# A fixed date keeps `created` stable across reloads of the demo catalog.
_DEMO_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
_PRICE_STEP = Decimal("0.000000001")


def demo_catalog_load(*, simulator_url: str) -> dict[str, int]:
    """Create or update the demo catalog (idempotent). Returns counts of what was created."""
    created = {"providers": 0, "models": 0, "endpoints": 0}
    providers = {}
    for slug, name in DEMO_PROVIDERS.items():
        provider, is_new = Provider.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "base_url": f"{simulator_url.rstrip('/')}/{slug}/v1"},
        )
        providers[slug] = provider
        created["providers"] += is_new
    for demo in DEMO_MODELS:
        model, is_new = _model_upsert(demo)
        created["models"] += is_new
        for slug, multiplier in demo.providers.items():
            created["endpoints"] += _endpoint_upsert(model, providers[slug], demo, multiplier)
        for slug in demo.free_providers:
            created["endpoints"] += _endpoint_upsert(
                model, providers[slug], demo, Decimal(0), variant=Endpoint.Variant.FREE
            )
    return created


def _model_upsert(demo: DemoModel) -> tuple[Model, bool]:
    return Model.objects.update_or_create(
        slug=demo.slug,
        defaults={
            "name": demo.name,
            "description": demo.description,
            "context_length": demo.context_length,
            "tokenizer": demo.tokenizer,
        },
        create_defaults={
            "name": demo.name,
            "description": demo.description,
            "context_length": demo.context_length,
            "tokenizer": demo.tokenizer,
            "created_at": _DEMO_CREATED_AT,
        },
    )


def _demo_parameters(demo: DemoModel, provider: Provider) -> list[str]:
    parameters = list(COMMON_PARAMETERS)
    if demo.supports_tools:
        parameters += TOOL_PARAMETERS
    if provider.slug not in PROVIDERS_WITHOUT_STRUCTURED_OUTPUT:
        parameters += STRUCTURED_OUTPUT_PARAMETERS
    return parameters


def _endpoint_upsert(
    model: Model,
    provider: Provider,
    demo: DemoModel,
    multiplier: Decimal,
    *,
    variant: str = Endpoint.Variant.STANDARD,
) -> bool:
    parameters = _demo_parameters(demo, provider)
    quantization = OPEN_WEIGHTS_QUANTIZATION[provider.slug] if demo.open_weights else ""
    _, is_new = Endpoint.objects.update_or_create(
        model=model,
        provider=provider,
        variant=variant,
        defaults={
            "quantization": quantization,
            "upstream_model_id": demo.slug.split("/", 1)[1],
            "prompt_usd_per_mtok": (demo.prompt_usd_per_mtok * multiplier).quantize(_PRICE_STEP),
            "completion_usd_per_mtok": (demo.completion_usd_per_mtok * multiplier).quantize(
                _PRICE_STEP
            ),
            "context_length": demo.context_length,
            "max_output_tokens": demo.max_output_tokens,
            "supported_parameters": parameters,
        },
    )
    return is_new
