"""``GET /{provider}/v1/models``: the models a simulated provider serves, priced.

Chat models come from the demo catalog (``catalog/demo.py``): each model the provider serves,
at list price times the provider's multiplier, quantized as ``catalog/services.py`` stores
endpoint prices, then in USD per token as the catalog API shows prices
(``catalog.pricing.price_per_token``); a provider in a model's ``free_providers`` also lists
``<id>:free`` at price zero. Embedding models come from ``catalog.demo.DEMO_EMBEDDING_MODELS``
and say ``architecture.output_modalities: ["embeddings"]``. Ids are upstream ids (the slug
without its author), ``owned_by`` is the author.
"""

from datetime import UTC, datetime
from decimal import Decimal

from catalog.demo import (
    COMMON_PARAMETERS,
    DEMO_EMBEDDING_MODELS,
    DEMO_MODELS,
    OPEN_WEIGHTS_QUANTIZATION,
    PROVIDERS_WITHOUT_STRUCTURED_OUTPUT,
    STRUCTURED_OUTPUT_PARAMETERS,
    TOOL_PARAMETERS,
    DemoEmbeddingModel,
    DemoModel,
)
from catalog.pricing import price_per_token
from proxy.simulator.prompt import JsonObject

# The demo catalog's fixed creation date, so listings are stable.
CREATED = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
# Endpoint prices are stored to the nano-dollar per million tokens (catalog/services.py).
_PRICE_STEP = Decimal("0.000000001")
_EMBEDDING_PARAMETERS = ["dimensions", "encoding_format"]


def provider_models(slug: str) -> list[JsonObject]:
    entries: list[JsonObject] = []
    for demo in DEMO_MODELS:
        multiplier = demo.providers.get(slug)
        if multiplier is not None:
            entries.append(_chat_entry(demo, slug, multiplier))
        if slug in demo.free_providers:
            entries.append(_chat_entry(demo, slug, Decimal(0), free=True))
    entries += [
        _embedding_entry(model, model.providers[slug])
        for model in DEMO_EMBEDDING_MODELS
        if slug in model.providers
    ]
    return entries


def _chat_entry(
    demo: DemoModel, slug: str, multiplier: Decimal, *, free: bool = False
) -> JsonObject:
    author, upstream_id = demo.slug.split("/", 1)
    return {
        "id": f"{upstream_id}:free" if free else upstream_id,
        "object": "model",
        "created": CREATED,
        "owned_by": author,
        "name": f"{demo.name} (free)" if free else demo.name,
        "context_length": demo.context_length,
        "max_completion_tokens": demo.max_output_tokens,
        "pricing": {
            "prompt": _price(demo.prompt_usd_per_mtok, multiplier),
            "completion": _price(demo.completion_usd_per_mtok, multiplier),
            "request": "0",
        },
        "supported_parameters": _chat_parameters(demo, slug),
        "quantization": OPEN_WEIGHTS_QUANTIZATION[slug] if demo.open_weights else "",
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
    }


def _chat_parameters(demo: DemoModel, slug: str) -> list[str]:
    # As catalog/services.py lists an endpoint's parameters.
    parameters = list(COMMON_PARAMETERS)
    if demo.supports_tools:
        parameters += TOOL_PARAMETERS
    if slug not in PROVIDERS_WITHOUT_STRUCTURED_OUTPUT:
        parameters += STRUCTURED_OUTPUT_PARAMETERS
    return parameters


def _embedding_entry(model: DemoEmbeddingModel, multiplier: Decimal) -> JsonObject:
    author, upstream_id = model.slug.split("/", 1)
    return {
        "id": upstream_id,
        "object": "model",
        "created": CREATED,
        "owned_by": author,
        "name": model.name,
        "context_length": model.context_length,
        "max_completion_tokens": None,
        "pricing": {
            "prompt": _price(model.usd_per_mtok, multiplier),
            "completion": "0",
            "request": "0",
        },
        "supported_parameters": list(_EMBEDDING_PARAMETERS),
        "quantization": "",
        "architecture": {"input_modalities": ["text"], "output_modalities": ["embeddings"]},
        "dimensions": model.dimensions,
    }


def _price(usd_per_mtok: Decimal, multiplier: Decimal) -> str:
    return price_per_token((usd_per_mtok * multiplier).quantize(_PRICE_STEP))
