"""Public catalog API in OpenRouter's shape (plus OpenAI's `object`/`owned_by` fields)."""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from catalog.models import Endpoint, Model
from catalog.pricing import price_per_token
from catalog.selectors import models_with_endpoints


def _model_payload(model: Model, endpoints: list[Endpoint]) -> dict[str, Any]:
    top = endpoints[0]
    parameters = sorted({p for e in endpoints for p in e.supported_parameters})
    modality = f"{'+'.join(model.input_modalities)}->{'+'.join(model.output_modalities)}"
    return {
        "id": model.slug,
        "canonical_slug": model.slug,
        "hugging_face_id": None,
        "name": model.name,
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
        "links": {"details": f"/api/v1/models/{model.slug}/endpoints"},
    }


# A public, cookie-less API: without the exemption a POST would get a CSRF 403, not a 405.
@csrf_exempt
@require_GET
def model_list(request: HttpRequest) -> JsonResponse:
    data = [_model_payload(model, endpoints) for model, endpoints in models_with_endpoints()]
    return JsonResponse({"object": "list", "data": data, "total_count": len(data)})
