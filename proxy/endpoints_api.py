"""`GET /api/v1/models/{author}/{slug}/endpoints`: a model's providers with their prices and
measured health, in OpenRouter's shape.

`status` follows OpenRouter's integer codes: 0 serving normally, -1 recovering (its cooldown is
over and a trial decides), -2 resting after a rate limit (429), -3 ejected after failures.
"""

import time
from typing import Any

import orjson
from asgiref.sync import sync_to_async

from catalog.models import Endpoint
from catalog.pricing import price_per_token
from catalog.selectors import CatalogEntry, catalog_entry
from proxy.asgi_io import Receive, Scope, Send, send_response
from proxy.errors import ModelNotFound
from proxy.gateway import Gateway
from proxy.health import CircuitState, EndpointHealth, EndpointStats, Percentiles

PREFIX = "/api/v1/models/"
SUFFIX = "/endpoints"
ENDPOINTS_ROUTE = f"{PREFIX}{{author}}/{{slug}}{SUFFIX}"  # the route's name in metrics and logs


def is_endpoints_path(path: str) -> bool:
    return path.startswith(PREFIX) and path.endswith(SUFFIX) and len(path) > len(PREFIX + SUFFIX)


def _status(health: EndpointHealth | None) -> int:
    if health is None or health.state is CircuitState.CLOSED:
        return 0
    if health.state is CircuitState.HALF_OPEN:
        return -1
    return -3 if health.ejections else -2


def _percentiles(value: Percentiles | None) -> dict[str, float] | None:
    if value is None:
        return None
    return {"p50": value.p50, "p75": value.p75, "p90": value.p90, "p99": value.p99}


def _endpoint_payload(
    entry: CatalogEntry,
    endpoint: Endpoint,
    health: EndpointHealth | None,
    stats: EndpointStats | None,
) -> dict[str, Any]:
    provider = endpoint.provider
    return {
        "name": f"{provider.name} | {entry.slug}",
        "model_id": entry.slug,
        "model_name": entry.model.name,
        "provider_name": provider.name,
        "tag": provider.slug + (f"/{endpoint.variant}" if endpoint.variant else ""),
        "context_length": endpoint.context_length,
        "max_completion_tokens": endpoint.max_output_tokens,
        "max_prompt_tokens": None,
        "quantization": endpoint.quantization or "unknown",
        "pricing": {
            "prompt": price_per_token(endpoint.prompt_usd_per_mtok),
            "completion": price_per_token(endpoint.completion_usd_per_mtok),
            "request": price_per_token(endpoint.request_usd * 1_000_000),
            "image": "0",
        },
        "supported_parameters": sorted(endpoint.supported_parameters),
        "supports_implicit_caching": False,
        "status": _status(health),
        "uptime_last_5m": stats.uptime_last_5m if stats else None,
        "uptime_last_30m": stats.uptime_last_30m if stats else None,
        "uptime_last_1d": stats.uptime_last_1d if stats else None,
        "latency_last_30m": _percentiles(stats.latency_last_30m if stats else None),
        "throughput_last_30m": _percentiles(stats.throughput_last_30m if stats else None),
    }


async def model_endpoints(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    model_id = scope["path"][len(PREFIX) : -len(SUFFIX)]
    entry = await sync_to_async(catalog_entry)(model_id)
    if entry is None:
        raise ModelNotFound(f"Model '{model_id}' does not exist or has no provider")
    ids = [endpoint.pk for endpoint in entry.endpoints]
    now = time.time()
    health = await gateway.health.store.snapshot(ids, now)
    stats = await gateway.health.store.stats(ids, now)
    model = entry.model
    data = {
        "id": entry.slug,
        "name": model.name,
        "created": int(model.created_at.timestamp()),
        "description": model.description,
        "architecture": {
            "tokenizer": model.tokenizer,
            "instruct_type": None,
            "modality": f"{'+'.join(model.input_modalities)}->{'+'.join(model.output_modalities)}",
            "input_modalities": model.input_modalities,
            "output_modalities": model.output_modalities,
        },
        "endpoints": [
            _endpoint_payload(entry, e, health.get(e.pk), stats.get(e.pk)) for e in entry.endpoints
        ],
    }
    await send_response(send, 200, orjson.dumps({"data": data}))
