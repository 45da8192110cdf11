"""A provider's non-200 answer, whatever its wire format: the caller's fault or the provider's."""

from proxy.errors import ApiError, UpstreamError, UpstreamRejected

# A provider's 4xx that are about the provider (its key, its account, its model list, its load),
# not about the request: another provider can serve it.
_PROVIDER_FAULT_4XX = frozenset({401, 402, 403, 404, 408, 409, 429})


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is rare from APIs: ignored)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None


def upstream_failure(
    provider: str, status: int, message: str, *, retry_after: str | None = None
) -> ApiError:
    """Its 400, 413, 422 and the like are the request's own fault and passed on with their
    status; the rest (auth, payment, not found, timeout, rate limit, 5xx, Anthropic's 529
    overload) are the provider's failure: 502, and another provider is tried."""
    if 400 <= status < 500 and status not in _PROVIDER_FAULT_4XX:
        return UpstreamRejected(
            status, message or f"{provider} rejected the request", provider=provider
        )
    return UpstreamError(
        f"{provider} failed (HTTP {status})" + (f": {message}" if message else ""),
        metadata={"provider_name": provider, "provider_code": status},
        provider_status=status,
        retry_after_s=retry_after_seconds(retry_after) if status == 429 else None,
    )
