"""Public catalog API in OpenRouter's shape (plus OpenAI's `object`/`owned_by` fields)."""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from catalog.models import Provider
from catalog.pricing import price_per_token
from catalog.selectors import CatalogEntry, catalog_entries


def _model_payload(entry: CatalogEntry) -> dict[str, Any]:
    model, endpoints = entry.model, entry.endpoints
    top = endpoints[0]
    parameters = sorted({p for e in endpoints for p in e.supported_parameters})
    modality = f"{'+'.join(model.input_modalities)}->{'+'.join(model.output_modalities)}"
    return {
        "id": entry.slug,
        "canonical_slug": model.slug,
        "hugging_face_id": None,
        "name": f"{model.name} (free)" if entry.variant else model.name,
        "object": "model",
        "owned_by": model.slug.split("/", 1)[0],
        "created": int(model.created_at.timestamp()),
        "description": model.description,
        "context_length": model.context_length,
        "architecture": {
            "modality": modality,
            "input_modalities": model.input_modalities,
            "output_modalities": model.output_modalities,
            "tokenizer": model.tokenizer,
            "instruct_type": None,
        },
        "pricing": {
            "prompt": price_per_token(top.prompt_usd_per_mtok),
            "completion": price_per_token(top.completion_usd_per_mtok),
            "request": price_per_token(top.request_usd * 1_000_000),
        },
        "top_provider": {
            "context_length": top.context_length,
            "max_completion_tokens": top.max_output_tokens,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "supported_parameters": parameters,
        "links": {"details": f"/api/v1/models/{entry.slug}/endpoints"},
    }


# A public, cookie-less API: without the exemption a POST would get a CSRF 403, not a 405.
@csrf_exempt
@require_GET
def model_list(request: HttpRequest) -> JsonResponse:
    data = [_model_payload(entry) for entry in catalog_entries()]
    return JsonResponse({"object": "list", "data": data, "total_count": len(data)})


@csrf_exempt
@require_GET
def embedding_model_list(request: HttpRequest) -> JsonResponse:
    """The models `/embeddings` serves (OpenRouter lists them apart from chat models)."""
    data = [_model_payload(entry) for entry in catalog_entries(embeddings=True)]
    return JsonResponse({"object": "list", "data": data, "total_count": len(data)})


def _provider_payload(provider: Provider) -> dict[str, Any]:
    return {
        "name": provider.name,
        "slug": provider.slug,
        "privacy_policy_url": provider.privacy_policy_url or None,
        "terms_of_service_url": provider.terms_of_service_url or None,
        "status_page_url": provider.status_page_url or None,
        "headquarters": provider.headquarters or None,
        "datacenters": provider.datacenters,
    }


@csrf_exempt
@require_GET
def provider_list(request: HttpRequest) -> JsonResponse:
    """The providers requests can be routed to, in OpenRouter's shape."""
    providers = Provider.objects.filter(is_active=True, endpoints__is_active=True).distinct()
    return JsonResponse({"data": [_provider_payload(p) for p in providers]})
