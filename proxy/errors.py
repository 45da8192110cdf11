"""Errors of the public API, each mapped once to OpenRouter's shape:
`{"error": {"code": <http status>, "message": ..., "metadata": {...}}}`."""

from typing import Any

import orjson


class ApiError(Exception):
    status = 500

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


class ClientDisconnected(Exception):
    """The client went away before the request body was read."""
