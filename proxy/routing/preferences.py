"""What a request asks of routing: the models to try and OpenRouter's `provider` preferences.

Parsed and validated before anything is held or forwarded, so a bad preference is a 400 that
names the field. Provider names are matched later, against the catalog.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from proxy.errors import InvalidRequest


class Sort(StrEnum):
    PRICE = "price"
    THROUGHPUT = "throughput"
    LATENCY = "latency"


class Variant(StrEnum):
    FREE = "free"  # only the model's free endpoints
    NITRO = "nitro"  # fastest first
    FLOOR = "floor"  # cheapest first


# OpenRouter's quantization names; an endpoint with none recorded is "unknown".
QUANTIZATIONS = frozenset(
    {"int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16", "fp32",
     "unknown"}
)  # fmt: skip
MAX_FALLBACK_MODELS = 10
_PREFERENCE_FIELDS = frozenset(
    {"order", "only", "ignore", "allow_fallbacks", "require_parameters", "sort", "max_price",
     "quantizations", "data_collection", "zdr", "enforce_distillable_text",
     "preferred_min_throughput", "preferred_max_latency"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelRef:
    slug: str  # author/name
    variant: Variant | None = None

    def __str__(self) -> str:
        return f"{self.slug}:{self.variant}" if self.variant else self.slug


@dataclass(frozen=True, slots=True)
class MaxPrice:
    """Upper prices the caller accepts: USD per million tokens, and USD per request."""

    prompt: Decimal | None = None
    completion: Decimal | None = None
    request: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProviderPreferences:
    order: tuple[str, ...] = ()
    only: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    allow_fallbacks: bool = True
    require_parameters: bool = False
    sort: Sort | None = None
    # "model": each model's endpoints in turn (fallback models after); "none": all together.
    partition_by_model: bool = True
    max_price: MaxPrice = MaxPrice()
    quantizations: frozenset[str] | None = None

    @property
    def provider_names(self) -> set[str]:
        """Every provider the preferences name, to check against the catalog."""
        return {*self.order, *(self.only or ()), *self.ignore}


def model_ref_parse(value: str) -> ModelRef:
    slug, _, variant = value.strip().partition(":")
    if not slug:
        raise InvalidRequest(f"'{value}' is not a model id, e.g. 'openai/gpt-4o-mini'")
    if not variant:
        return ModelRef(slug)
    try:
        return ModelRef(slug, Variant(variant))
    except ValueError:
        known = ", ".join(f":{v}" for v in Variant)
        raise InvalidRequest(
            f"Model variant ':{variant}' is not supported (supported: {known})"
        ) from None


def model_refs_parse(model: Any, models: Any) -> tuple[ModelRef, ...]:
    """`model`, then the `models` fallback list, without repeats."""
    if models is not None and (
        not isinstance(models, list) or not all(isinstance(m, str) and m.strip() for m in models)
    ):
        raise InvalidRequest("'models' must be an array of model ids")
    if models is not None and len(models) > MAX_FALLBACK_MODELS:
        raise InvalidRequest(f"'models' may list at most {MAX_FALLBACK_MODELS} models")
    names = ([model] if model is not None else []) + (models or [])
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise InvalidRequest("'model' must be a model id string, e.g. 'openai/gpt-4o-mini'")
    if not names:
        raise InvalidRequest("'model' is required and must be a string, e.g. 'openai/gpt-4o-mini'")
    return tuple(dict.fromkeys(model_ref_parse(name) for name in names))


def _names(raw: dict[str, Any], field: str) -> tuple[str, ...] | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidRequest(f"'provider.{field}' must be an array of strings")
    return tuple(v.strip().lower() for v in value)


def _flag(raw: dict[str, Any], field: str, default: bool) -> bool:
    value = raw.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest(f"'provider.{field}' must be a boolean")
    return value


def _sort(value: Any) -> tuple[Sort | None, bool]:
    """The sort, and whether it is partitioned by model."""
    partition = "model"
    if isinstance(value, dict):
        by, partition = value.get("by"), value.get("partition") or "model"
        if partition not in ("model", "none"):
            raise InvalidRequest("'provider.sort.partition' must be 'model' or 'none'")
        value = by
    if value is None:
        return None, partition == "model"
    try:
        return Sort(value), partition == "model"
    except ValueError:
        raise InvalidRequest(
            f"'provider.sort' must be one of {', '.join(Sort)} (got {value!r})"
        ) from None


def _price(raw: dict[str, Any], field: str) -> Decimal:
    value = raw[field]
    error = InvalidRequest(f"'provider.max_price.{field}' must be a non-negative number")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise error
    try:
        # JSON numbers arrive as floats: their shortest repr is the number the caller wrote.
        price = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise error from None
    if not price.is_finite() or price < 0:
        raise error
    return price


def _max_price(value: Any) -> MaxPrice:
    if value is None:
        return MaxPrice()
    if not isinstance(value, dict):
        raise InvalidRequest("'provider.max_price' must be an object")
    prices = {
        f: _price(value, f) for f in ("prompt", "completion", "request") if value.get(f) is not None
    }
    return MaxPrice(**prices)


def _quantizations(raw: dict[str, Any]) -> frozenset[str] | None:
    names = _names(raw, "quantizations")
    if names is None:
        return None
    unknown = sorted(set(names) - QUANTIZATIONS)
    if unknown:
        raise InvalidRequest(
            f"Unknown quantization {', '.join(unknown)} in 'provider.quantizations' "
            f"(known: {', '.join(sorted(QUANTIZATIONS))})"
        )
    return frozenset(names)


def preferences_parse(raw: Any) -> ProviderPreferences:
    if raw is None:
        return ProviderPreferences()
    if not isinstance(raw, dict):
        raise InvalidRequest("'provider' must be an object")
    unknown = sorted(set(raw) - _PREFERENCE_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field 'provider.{unknown[0]}'")
    only = _names(raw, "only")
    sort, partition_by_model = _sort(raw.get("sort"))
    return ProviderPreferences(
        order=_names(raw, "order") or (),
        only=None if only is None else frozenset(only),
        ignore=frozenset(_names(raw, "ignore") or ()),
        allow_fallbacks=_flag(raw, "allow_fallbacks", True),
        require_parameters=_flag(raw, "require_parameters", False),
        sort=sort,
        partition_by_model=partition_by_model,
        max_price=_max_price(raw.get("max_price")),
        quantizations=_quantizations(raw),
    )
