"""Stripe's webhook: verified, recorded once, applied by reading Stripe's current state."""

import logging

import stripe
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import stripe_api
from billing.purchases import stripe_event_handle

logger = logging.getLogger(__name__)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": status, "message": message}}, status=status)


@csrf_exempt  # Stripe signs its requests; it has no CSRF token
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        event = stripe_api.webhook_event(request.body, request.headers.get("Stripe-Signature"))
    except stripe.SignatureVerificationError as error:
        return _error(400, f"Invalid signature: {error.user_message or error}")
    except ValueError:
        return _error(400, "The body is not a Stripe event")
    try:
        handled = stripe_event_handle(event)
    except Exception:
        # Stripe retries a delivery that fails: nothing is lost, and handling is idempotent.
        logger.exception("handling Stripe event %s failed", event.get("id"))
        return _error(503, "The event could not be handled now; deliver it again")
    return JsonResponse({"received": True, "duplicate": not handled})
