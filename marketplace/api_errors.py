"""API routes answer in OpenRouter's error shape, never with Django's HTML error pages."""

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def error_response(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": status, "message": message}}, status=status)


class ApiErrorMiddleware:
    """Turns 404/405/500 responses of /api/ routes into JSON errors."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_api = request.path.startswith(API_PREFIX)
        if (
            is_api
            and response.status_code >= 400
            and "json" not in response.get("Content-Type", "")
        ):
            return error_response(response.status_code, response.reason_phrase)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        logger.exception("unhandled error on %s", request.path)
        return error_response(500, "Internal server error")
