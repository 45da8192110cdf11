"""Every call Switchyard makes to Stripe, and nothing else talks to it.

Each call that creates something passes an idempotency key derived from our own row, so a
retry (ours, or the SDK's after a network error) can never charge twice. None may run inside a
database transaction: a slow or failed call must not hold locks, and a rolled-back row must
not leave a charge behind without its record. The API base is a setting, so the same code runs
against Stripe in production and localstripe in development and tests.
"""

from typing import Any, cast

import stripe
from django.conf import settings
from django.db import connection
from stripe.params import PaymentIntentCreateParams


class StripeCallInTransaction(RuntimeError):
    pass


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=2,
    )


def _outside_transactions() -> None:
    if connection.in_atomic_block:
        raise StripeCallInTransaction("Stripe is never called inside a database transaction")


def customer_create(*, user_id: int, email: str) -> str:
    _outside_transactions()
    customer = _client().v1.customers.create(
        {"email": email, "metadata": {"user_id": str(user_id)}},
        {"idempotency_key": f"customer:{user_id}"},
    )
    return str(customer.id)


def setup_intent_create(*, customer_id: str) -> str:
    """A SetupIntent for the credits page to collect a card with Stripe.js (saved on the
    customer for later charges); its client secret."""
    _outside_transactions()
    intent = _client().v1.setup_intents.create({"customer": customer_id, "usage": "off_session"})
    return str(intent.client_secret)


def card_of_customer(*, payment_method_id: str, customer_id: str) -> str:
    """Make sure the card is attached to the customer (Stripe attaches a card confirmed by a
    SetupIntent; localstripe does not); its label, e.g. "visa 4242"."""
    _outside_transactions()
    client = _client()
    method = client.v1.payment_methods.retrieve(payment_method_id)
    if not method.customer:
        method = client.v1.payment_methods.attach(payment_method_id, {"customer": customer_id})
    card = method.card
    return f"{card.brand} {card.last4}" if card else "card"


def payment_intent_charge(
    *,
    purchase_id: int,
    customer_id: str,
    payment_method_id: str,
    total_cents: int,
    off_session: bool,
) -> dict[str, Any]:
    """Charge a saved card for a purchase: the PaymentIntent, in whatever state the charge
    left it (succeeded; declined: requires_payment_method; requires_action: the card holder
    must authenticate, in the browser). Created and confirmed in one call, so its idempotency
    key covers the charge itself (and Stripe accepts `off_session` only with `confirm`)."""
    _outside_transactions()
    client = _client()
    params: dict[str, Any] = {
        "amount": total_cents,
        "currency": "usd",
        "customer": customer_id,
        "payment_method": payment_method_id,
        "metadata": {"purchase_id": str(purchase_id)},
        "confirm": True,
        # Cards only: with Stripe's default automatic payment methods, a server-side confirm
        # demands a return_url for redirect-based methods. (The SDK's newer types omit this
        # parameter; the API and localstripe take it.)
        "payment_method_types": ["card"],
    }
    if off_session:
        params["off_session"] = True
    try:
        intent = client.v1.payment_intents.create(
            cast(PaymentIntentCreateParams, params),
            {"idempotency_key": f"purchase:{purchase_id}"},
        )
    except stripe.CardError as declined:  # its state says so
        intent = client.v1.payment_intents.retrieve(_declined_intent_id(client, declined))
    return intent.to_dict()


def _declined_intent_id(client: stripe.StripeClient, declined: stripe.CardError) -> str:
    """The PaymentIntent a decline refused: Stripe names it in the error; localstripe names
    only its charge."""
    error = declined.error
    if error is not None and error.payment_intent is not None:
        return str(error.payment_intent.id)
    if error is not None and error.charge:
        charge = client.v1.charges.retrieve(error.charge)
        if charge.payment_intent:
            return str(getattr(charge.payment_intent, "id", charge.payment_intent))
    raise declined


def payment_intent_retrieve(payment_intent_id: str) -> dict[str, Any]:
    _outside_transactions()
    return _client().v1.payment_intents.retrieve(payment_intent_id).to_dict()


def charge_retrieve(charge_id: str) -> dict[str, Any]:
    _outside_transactions()
    return _client().v1.charges.retrieve(charge_id).to_dict()


def dispute_retrieve(dispute_id: str) -> dict[str, Any]:
    _outside_transactions()
    return _client().v1.disputes.retrieve(dispute_id).to_dict()


def webhook_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if `payload` is signed with our webhook secret within 300 s; else raises
    stripe.SignatureVerificationError (or ValueError for a body that is not JSON)."""
    event = stripe.Webhook.construct_event(
        payload, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=300
    )
    return cast(dict[str, Any], event.to_dict())
