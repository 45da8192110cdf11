"""The routing trace: what was considered and tried for one request, returned on request
(header `X-Switchyard-Metadata: true`) as `switchyard_metadata`, and in error metadata."""

from dataclasses import dataclass
from typing import Any

import orjson

from billing.money import format_usd
from proxy.routing.plan import RoutePlan, Vitals

TRACE_HEADER = b"x-switchyard-metadata"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one endpoint."""

    provider: str
    model: str
    status: int | None  # the provider's HTTP status, if it answered
    error: str | None
    duration_ms: int

    def payload(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


def trace_wanted(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes")


def _health_label(vitals: Vitals) -> str:
    if vitals.trial:
        return "recovering"
    return "healthy" if vitals.healthy else "unhealthy"


def trace_payload(
    plan: RoutePlan, vitals: dict[int, Vitals], attempts: list[Attempt]
) -> dict[str, Any]:
    return {
        "strategy": plan.strategy,
        "candidates": [
            {
                "provider": c.endpoint.provider_slug,
                "model": c.endpoint.model_slug,
                "variant": c.endpoint.variant or None,
                "expected_cost": orjson.Fragment(format_usd(c.expected_cost_nanos)),
                "health": _health_label(vitals.get(c.endpoint.endpoint_id, Vitals())),
                "excluded": c.excluded,
                "position": next((i for i, e in enumerate(plan.attempts) if e == c.endpoint), None),
            }
            for c in plan.considered
        ],
        "attempts": [attempt.payload() for attempt in attempts],
    }
