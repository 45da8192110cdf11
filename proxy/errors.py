"""Errors of the public API, each mapped once to OpenRouter's shape:
`{"error": {"code": <http status>, "message": ..., "metadata": {...}}}`."""

from typing import Any

import orjson

Headers = tuple[tuple[bytes, bytes], ...]


class ApiError(Exception):
    status = 500
    headers: Headers = ()  # sent along with the JSON body

    def __init__(self, message: str, *, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = metadata

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.metadata:
            error["metadata"] = self.metadata
        return {"error": error}

    def body(self) -> bytes:
        return orjson.dumps(self.payload())


class InvalidRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class InsufficientCredits(ApiError):
    status = 402


class NotFound(ApiError):
    status = 404


class ModelNotFound(NotFound):
    pass


class MethodNotAllowed(ApiError):
    status = 405


class PayloadTooLarge(ApiError):
    status = 413


class RateLimited(ApiError):
    """One of the caller's rate limits is used up (see proxy.rate_limits)."""

    status = 429

    def __init__(
        self, message: str, *, limit: int, remaining: int, reset_at: int, retry_after_s: int
    ) -> None:
        values = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset_at),  # unix seconds
        }
        # Also in the body, as OpenRouter does, for clients that do not show headers.
        super().__init__(message, metadata={"headers": values})
        pairs = [("Retry-After", str(retry_after_s)), *values.items()]
        self.headers = tuple((name.lower().encode(), value.encode()) for name, value in pairs)


class RateLimitUnavailable(ApiError):
    """Rate limits could not be checked (their Redis is unreachable): the request is refused
    rather than let through unmetered."""

    status = 503
    headers = ((b"retry-after", b"1"),)


class UpstreamError(ApiError):
    """The provider failed or answered with something that is not a valid response: the next
    provider may do better."""

    status = 502

    def __init__(
        self,
        message: str,
        *,
        metadata: dict[str, Any] | None = None,
        provider_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.provider_status = provider_status  # the provider's HTTP status, if it sent one
        self.retry_after_s = retry_after_s  # a 429's Retry-After

    @property
    def rate_limited(self) -> bool:
        return self.provider_status == 429


class ProvidersRateLimited(ApiError):
    """Every provider tried answered 429."""

    status = 429


class UpstreamRejected(ApiError):
    """The provider refused the request itself (a 4xx); passed on with its status."""

    def __init__(self, status: int, message: str, *, provider: str) -> None:
        super().__init__(message, metadata={"provider_name": provider, "provider_code": status})
        self.status = status


class UpstreamTimeout(ApiError):
    status = 408


class NoProviderAvailable(ApiError):
    status = 503


class ShuttingDown(ApiError):
    """This gateway process is draining before it exits: the client should retry, which a load
    balancer sends to another replica (the connection is closed, so the retry cannot land here).
    """

    status = 503
    headers = ((b"connection", b"close"), (b"retry-after", b"1"))


class ClientDisconnected(Exception):
    """The client went away before the request body was read."""
