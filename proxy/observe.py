"""What the gateway records of each API request once it is answered: Prometheus metrics
(`proxy.metrics`) and one structured log line (logger `switchyard.request`).

`observe_request` is the one call per request, made by the gateway's dispatcher (which sees
every status, errors included). A completion's handler leaves its `Call` in the ASGI scope
under `CALL_SCOPE_KEY`; who answered, the tokens, the charge and the timings are read from it.
The log line shows an API key by its display prefix only, never the key.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from billing.money import format_usd
from marketplace.log_format import log_fields
from proxy.asgi_io import Scope
from proxy.metering import Call
from proxy.metrics import (
    COST,
    GATEWAY_OVERHEAD,
    REQUESTS,
    TIME_TO_FIRST_TOKEN,
    TOKENS,
    UPSTREAM_LATENCY,
)

CALL_SCOPE_KEY = "switchyard.call"

logger = logging.getLogger("switchyard.request")


@dataclass(frozen=True, slots=True)
class RequestSummary:
    route: str
    method: str
    status: int
    total_s: float
    generation_id: str = ""
    key_prefix: str = ""
    model: str = ""
    provider: str = ""
    attempts: int = 0
    streamed: bool = False
    cancelled: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_nanos: int = 0
    upstream_s: float | None = None  # None: no provider was asked
    first_token_s: float | None = None
    phases_ms: dict[str, float] | None = None  # the Server-Timing phases (proxy.timing)

    @property
    def overhead_s(self) -> float:
        return max(self.total_s - (self.upstream_s or 0.0), 0.0)


def _upstream_s(call: Call) -> float | None:
    """Every attempt until one answered, then (a stream) the rest of the answer."""
    if not call.trace:
        return None
    waited = sum(attempt.duration_ms for attempt in call.trace) / 1000
    first, ended = call.outcome.first_token_at, call.outcome.ended_at
    return waited + (ended - first if first is not None and ended is not None else 0.0)


def request_summary(
    scope: Scope, *, route: str, status: int, started_at: float, ended_at: float
) -> RequestSummary:
    total_s = ended_at - started_at
    call: Call | None = scope.get(CALL_SCOPE_KEY)
    if call is None:
        return RequestSummary(route, scope["method"], status, total_s)
    usage, charge = (call.bill.usage, call.bill.charge) if call.bill else (None, None)
    first_token_at = call.outcome.first_token_at
    return RequestSummary(
        route,
        scope["method"],
        status,
        total_s,
        generation_id=call.generation_id,
        key_prefix=call.principal.key_prefix,
        model=call.endpoint.model_slug,
        provider=call.endpoint.provider_slug,
        attempts=len(call.trace),
        streamed=call.request.stream,
        cancelled=call.outcome.cancelled,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cost_nanos=charge.total_nanos if charge else 0,
        upstream_s=_upstream_s(call),
        first_token_s=first_token_at - call.started_at if first_token_at is not None else None,
        phases_ms={phase: round(s * 1000, 3) for phase, s in call.timer.durations.items()},
    )


# prometheus_client's `labels()` looks a child up under a lock and checks its label values:
# done once per label set and kept here (label values are bounded: routes, catalog slugs,
# statuses; the size cap bounds it anyway).
_children: dict[tuple[object, ...], Any] = {}
_MAX_CHILDREN = 10_000


def _child(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        if len(_children) >= _MAX_CHILDREN:
            _children.clear()
        child = _children[key] = metric.labels(*labels)
    return child


def _count(summary: RequestSummary) -> None:
    model, provider = summary.model, summary.provider
    _child(REQUESTS, summary.route, model, provider, str(summary.status)).inc()
    _child(GATEWAY_OVERHEAD, summary.route).observe(summary.overhead_s)
    if summary.upstream_s is not None:
        _child(UPSTREAM_LATENCY, model, provider).observe(summary.upstream_s)
    if summary.streamed and summary.first_token_s is not None:
        _child(TIME_TO_FIRST_TOKEN, model, provider).observe(summary.first_token_s)
    if summary.prompt_tokens:
        _child(TOKENS, model, provider, "prompt").inc(summary.prompt_tokens)
    if summary.completion_tokens:
        _child(TOKENS, model, provider, "completion").inc(summary.completion_tokens)
    if summary.cost_nanos:
        _child(COST, model, provider).inc(summary.cost_nanos)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _log(summary: RequestSummary) -> None:
    fields = log_fields(
        route=summary.route,
        method=summary.method,
        status=summary.status,
        generation_id=summary.generation_id or None,
        key_prefix=summary.key_prefix or None,
        model=summary.model or None,
        provider=summary.provider or None,
        attempts=summary.attempts,
        streamed=summary.streamed,
        cancelled=summary.cancelled,
        prompt_tokens=summary.prompt_tokens,
        completion_tokens=summary.completion_tokens,
        cost_nanos=summary.cost_nanos,
        cost_usd=format_usd(summary.cost_nanos),
        total_ms=_ms(summary.total_s),
        upstream_ms=_ms(summary.upstream_s),
        first_token_ms=_ms(summary.first_token_s),
        phases_ms=summary.phases_ms,
    )
    logger.info("request", extra=fields)


def observe_request(scope: Scope, *, route: str, status: int, started_at: float) -> None:
    """Count and log one answered request (`started_at`: time.monotonic() at its arrival)."""
    summary = request_summary(
        scope, route=route, status=status, started_at=started_at, ended_at=time.monotonic()
    )
    _count(summary)
    _log(summary)
