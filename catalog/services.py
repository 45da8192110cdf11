from datetime import UTC, datetime
from decimal import Decimal

from catalog.demo import (
    COMMON_PARAMETERS,
    DEMO_EMBEDDING_MODELS,
    DEMO_MODELS,
    DEMO_PROVIDER_FORMATS,
    DEMO_PROVIDERS,
    FORMAT_API_PATHS,
    OPEN_WEIGHTS_QUANTIZATION,
    PROVIDERS_WITHOUT_STRUCTURED_OUTPUT,
    STRUCTURED_OUTPUT_PARAMETERS,
    TOOL_PARAMETERS,
    DemoEmbeddingModel,
    DemoModel,
)
from catalog.known_providers import KNOWN_PROVIDERS, KnownProvider
from catalog.models import Endpoint, Model, Provider

# A fixed date keeps `created` stable across reloads of the demo catalog.
_DEMO_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
_PRICE_STEP = Decimal("0.000000001")


def demo_catalog_load(*, simulator_url: str) -> dict[str, int]:
    """Create or update the demo catalog (idempotent). Returns counts of what was created."""
    created = {"providers": 0, "models": 0, "endpoints": 0}
    providers = {}
    for slug, name in DEMO_PROVIDERS.items():
        adapter = DEMO_PROVIDER_FORMATS.get(slug, Provider.Adapter.OPENAI)
        base_url = f"{simulator_url.rstrip('/')}/{slug}/{FORMAT_API_PATHS[adapter]}"
        provider, is_new = Provider.objects.update_or_create(
            slug=slug, defaults={"name": name, "adapter": adapter, "base_url": base_url}
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
    for embedding in DEMO_EMBEDDING_MODELS:
        created["models"] += _embedding_model_load(embedding, providers, created)
    return created


def _embedding_model_load(
    demo: DemoEmbeddingModel, providers: dict[str, Provider], created: dict[str, int]
) -> bool:
    model, is_new = Model.objects.update_or_create(
        slug=demo.slug,
        defaults={"name": demo.name, "context_length": demo.context_length,
                  "input_modalities": ["text"], "output_modalities": ["embeddings"]},
        create_defaults={"name": demo.name, "context_length": demo.context_length,
                         "input_modalities": ["text"], "output_modalities": ["embeddings"],
                         "created_at": _DEMO_CREATED_AT},
    )  # fmt: skip
    for slug, multiplier in demo.providers.items():
        _, new_endpoint = Endpoint.objects.update_or_create(
            model=model, provider=providers[slug], variant="",
            defaults={
                "upstream_model_id": demo.slug.split("/", 1)[1],
                "prompt_usd_per_mtok": (demo.usd_per_mtok * multiplier).quantize(_PRICE_STEP),
                "completion_usd_per_mtok": Decimal(0),
                "context_length": demo.context_length,
                "max_output_tokens": 0,
                "supported_parameters": ["dimensions", "encoding_format"],
            },
        )  # fmt: skip
        created["endpoints"] += new_endpoint
    return is_new


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


def known_provider_upsert(known: KnownProvider) -> Provider:
    """Create or update a real provider's row (its key stays in the environment)."""
    provider, _ = Provider.objects.update_or_create(
        slug=known.slug,
        defaults={
            "name": known.name,
            "adapter": known.adapter,
            "base_url": known.base_url,
            "api_key_env": known.api_key_env,
            "privacy_policy_url": known.privacy_policy_url,
            "terms_of_service_url": known.terms_of_service_url,
            "status_page_url": known.status_page_url,
            "headquarters": known.headquarters,
            "datacenters": list(known.datacenters),
        },
    )
    return provider


def known_providers_load() -> int:
    """Every real provider Switchyard knows, ready to enable with its API key."""
    for known in KNOWN_PROVIDERS:
        known_provider_upsert(known)
    return len(KNOWN_PROVIDERS)
