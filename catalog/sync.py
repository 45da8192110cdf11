"""Importing a provider's models and prices from its own model-list API.

Model lists differ: OpenAI's and Anthropic's carry no prices, OpenRouter's give USD per token
as decimal strings, Together's USD per million tokens, Gemini's lists `models/<id>` with token
limits. `listed_model` reads whichever fields are there; a model without a price is reported
and skipped (an operator prices it in the admin). `catalog_sync` applies the list: endpoints
created or updated, those no longer listed deactivated; running it twice changes nothing.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.db import transaction

from catalog.demo import COMMON_PARAMETERS, TOOL_PARAMETERS
from catalog.models import Endpoint, Model, Provider

_PRICE_STEP = Decimal("0.000000001")
_DEFAULT_MAX_OUTPUT = 4096
_MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class ListedModel:
    slug: str  # author/name, the catalog's id
    upstream_id: str  # the provider's own id
    name: str
    context_length: int
    max_output_tokens: int
    prompt_usd_per_mtok: Decimal | None
    completion_usd_per_mtok: Decimal | None
    supported_parameters: tuple[str, ...]
    quantization: str = ""
    embeddings: bool = False
    variant: str = ""  # "free": listed as `<id>:free`, reached only as `<slug>:free`


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def _prices(entry: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """USD per million tokens, from per-token strings (OpenRouter) or per-million (Together)."""
    pricing = entry.get("pricing")
    if not isinstance(pricing, dict):
        return None, None
    if "prompt" in pricing or "completion" in pricing:
        return _per_million(pricing.get("prompt")), _per_million(pricing.get("completion"))
    return _decimal(pricing.get("input")), _decimal(pricing.get("output"))


def _per_million(per_token: Any) -> Decimal | None:
    price = _decimal(per_token)
    return None if price is None else price * 1_000_000


def _int(*values: Any) -> int | None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def listed_model(
    entry: dict[str, Any], *, default_author: str, provider_slug: str = ""
) -> ListedModel | None:
    """One entry of a provider's model list, or None when it is not a usable model. An id
    without an author gets the first-party `default_author`, else the list's `owned_by`, else
    the provider's slug."""
    upstream_id = str(entry.get("id") or entry.get("name") or "").removeprefix("models/")
    if not upstream_id:
        return None
    base_id, _, variant = upstream_id.partition(":")
    author = default_author or str(entry.get("owned_by") or provider_slug)
    slug = base_id if "/" in base_id else f"{author}/{base_id}"
    top = entry.get("top_provider")
    top = top if isinstance(top, dict) else {}
    context = _int(
        entry.get("context_length"), entry.get("context_window"),
        entry.get("max_context_length"), entry.get("inputTokenLimit"),
    ) or 8192  # fmt: skip
    max_output = _int(
        top.get("max_completion_tokens"), entry.get("max_completion_tokens"),
        entry.get("outputTokenLimit"),
    ) or min(context, _DEFAULT_MAX_OUTPUT)  # fmt: skip
    prompt, completion = _prices(entry)
    parameters = entry.get("supported_parameters")
    modalities = (entry.get("architecture") or {}).get("output_modalities") or []
    return ListedModel(
        slug=slug,
        upstream_id=upstream_id,
        name=str(entry.get("name") or entry.get("display_name") or entry.get("displayName")
                 or slug).removeprefix("models/"),
        context_length=context,
        max_output_tokens=0 if "embeddings" in modalities else max_output,
        prompt_usd_per_mtok=prompt,
        completion_usd_per_mtok=completion,
        supported_parameters=tuple(parameters) if isinstance(parameters, list)
        else (*COMMON_PARAMETERS, *TOOL_PARAMETERS),
        quantization=str(entry.get("quantization") or ""),
        embeddings="embeddings" in modalities,
        variant=Endpoint.Variant.FREE if variant == "free" else "",
    )  # fmt: skip


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)


def _endpoint_fields(listed: ListedModel) -> dict[str, Any]:
    assert listed.prompt_usd_per_mtok is not None
    assert listed.completion_usd_per_mtok is not None
    return {
        "upstream_model_id": listed.upstream_id,
        "prompt_usd_per_mtok": listed.prompt_usd_per_mtok.quantize(_PRICE_STEP),
        "completion_usd_per_mtok": listed.completion_usd_per_mtok.quantize(_PRICE_STEP),
        "context_length": listed.context_length,
        "max_output_tokens": listed.max_output_tokens,
        "supported_parameters": list(listed.supported_parameters),
        "quantization": listed.quantization,
        "is_active": True,
    }


def _model_for(listed: ListedModel) -> Model:
    modalities = ["embeddings"] if listed.embeddings else ["text"]
    model, _ = Model.objects.get_or_create(
        slug=listed.slug,
        defaults={"name": listed.name, "context_length": listed.context_length,
                  "output_modalities": modalities, "created_at": datetime.now(UTC)},
    )  # fmt: skip
    return model


def _apply_one(provider: Provider, listed: ListedModel, report: SyncReport) -> int:
    """Create or update one endpoint; returns its id."""
    wanted = _endpoint_fields(listed)
    model = _model_for(listed)
    endpoint = Endpoint.objects.filter(
        model=model, provider=provider, variant=listed.variant
    ).first()
    label = f"{listed.slug}:{listed.variant}" if listed.variant else listed.slug
    if endpoint is None:
        endpoint = Endpoint.objects.create(
            model=model, provider=provider, variant=listed.variant, **wanted
        )
        report.created.append(label)
        return endpoint.pk
    changed = {k: v for k, v in wanted.items() if getattr(endpoint, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(endpoint, key, value)
        endpoint.save(update_fields=list(changed))
        report.updated.append(f"{label} ({', '.join(sorted(changed))})")
    else:
        report.unchanged.append(label)
    return endpoint.pk


def catalog_sync(
    provider: Provider,
    listed: Iterable[ListedModel],
    *,
    progress: Callable[[str], None] = lambda line: None,
) -> SyncReport:
    report = SyncReport()
    with transaction.atomic():
        kept = []
        for model in listed:
            if model.prompt_usd_per_mtok is None or model.completion_usd_per_mtok is None:
                report.unpriced.append(model.slug)
                continue
            kept.append(_apply_one(provider, model, report))
            progress(f"  {model.slug}")
        gone = provider.endpoints.filter(is_active=True).exclude(pk__in=kept)
        report.deactivated = [e.model.slug for e in gone.select_related("model")]
        gone.update(is_active=False)
    return report


def _auth_headers(adapter: str, api_key: str) -> dict[str, str]:
    if not api_key:
        return {}
    if adapter == Provider.Adapter.ANTHROPIC:
        return {"x-api-key": api_key, "anthropic-version": "2023-06-01"}
    if adapter == Provider.Adapter.GEMINI:
        return {"x-goog-api-key": api_key}
    return {"authorization": f"Bearer {api_key}"}


def _entries(payload: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page's entries, and the query that asks for the next page (empty when done)."""
    if isinstance(payload, list):  # Together returns a bare array
        return [e for e in payload if isinstance(e, dict)], {}
    if not isinstance(payload, dict):
        raise ValueError("the model list is not JSON")
    entries = payload.get("data", payload.get("models", []))
    entries = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    if payload.get("nextPageToken"):
        return entries, {"pageToken": str(payload["nextPageToken"])}
    if payload.get("has_more") and payload.get("last_id"):
        return entries, {"after_id": str(payload["last_id"])}
    return entries, {}


def fetch_model_list(
    client: httpx.Client, *, base_url: str, adapter: str, api_key: str
) -> list[dict[str, Any]]:
    """Every entry of the provider's model list (following its pagination)."""
    url = f"{base_url.rstrip('/')}/models"
    headers = _auth_headers(adapter, api_key)
    entries: list[dict[str, Any]] = []
    query: dict[str, str] = {}
    for _ in range(_MAX_PAGES):
        response = client.get(url, headers=headers, params=query)
        response.raise_for_status()
        page, query = _entries(response.json())
        entries += page
        if not query:
            break
    return entries
