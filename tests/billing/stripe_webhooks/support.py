"""What the Stripe webhook tests share: Stripe's side (cards, payments, refunds, disputes, and
events signed the way Stripe signs them) and ours (balances, ledger entries)."""

import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import stripe
from django.test import Client

from billing.models import CreditPurchase, LedgerEntry, Wallet
from billing.purchases import checkout_pay, purchase_quote, stripe_customer_for
from billing.services import wallet_get_or_create
from marketplace.accounts.models import User

SECRET = "whsec_test_switchyard"
WEBHOOK = "/billing/webhooks/stripe"
USD = 10**9
GOOD_CARD = "4242424242424242"


# --- Stripe's side ---------------------------------------------------------------------------


def card(client: stripe.StripeClient, number: str = GOOD_CARD) -> str:
    return client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        }
    ).id


def paid_at_checkout(client: stripe.StripeClient, user: User, usd: str) -> CreditPurchase:
    """A purchase paid on the credits page (and credited there, before any webhook)."""
    checkout = checkout_pay(user=user, amount_usd=Decimal(usd), payment_method_id=card(client),
                            save_card=False)  # fmt: skip
    assert checkout.purchase.status == CreditPurchase.Status.SUCCEEDED
    return checkout.purchase


def paid_but_never_returned(client: stripe.StripeClient, user: User, usd: str) -> CreditPurchase:
    """A purchase whose card was charged while the browser never came back to credit it: only
    the webhook can."""
    quote = purchase_quote(Decimal(usd))
    purchase = CreditPurchase.objects.create(
        wallet=wallet_get_or_create(user=user), amount_nanos=quote.amount_nanos,
        fee_nanos=quote.fee_nanos, total_cents=quote.total_cents,
    )  # fmt: skip
    customer_id = stripe_customer_for(user).customer_id
    method = client.v1.payment_methods.attach(card(client), {"customer": customer_id})
    intent = client.v1.payment_intents.create({
        "amount": quote.total_cents, "currency": "usd", "customer": customer_id,
        "payment_method": method.id, "metadata": {"purchase_id": str(purchase.pk)},
    })  # fmt: skip
    assert client.v1.payment_intents.confirm(intent.id).status == "succeeded"
    return purchase


def intent_of(client: stripe.StripeClient, purchase: CreditPurchase) -> dict[str, Any]:
    if purchase.payment_intent_id is None:  # never returned: find it the way Stripe would
        intents = client.v1.payment_intents.list({"limit": 100}).data
        found = (i.to_dict() for i in intents)
        return next(i for i in found if i["metadata"].get("purchase_id") == str(purchase.pk))
    return client.v1.payment_intents.retrieve(purchase.payment_intent_id).to_dict()


def charge_of(client: stripe.StripeClient, purchase: CreditPurchase) -> dict[str, Any]:
    charge = intent_of(client, purchase)["latest_charge"]
    charge_id = charge["id"] if isinstance(charge, dict) else charge
    return client.v1.charges.retrieve(charge_id).to_dict()


def refund(client: stripe.StripeClient, purchase: CreditPurchase, cents: int) -> dict[str, Any]:
    """Refund `cents` more at Stripe; the charge as it is then."""
    client.v1.refunds.create({"payment_intent": intent_of(client, purchase)["id"], "amount": cents})
    return charge_of(client, purchase)


def dispute(charge: dict[str, Any], status: str, *, cents: int | None = None) -> dict[str, Any]:
    return {"id": f"dp_{charge['id']}", "object": "dispute", "charge": charge["id"],
            "amount": charge["amount"] if cents is None else cents, "currency": "usd",
            "status": status}  # fmt: skip


def stripe_event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": kind,
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}  # fmt: skip


def signed(
    event: dict[str, Any], secret: str = SECRET, timestamp: int | None = None
) -> tuple[bytes, str]:
    """The body and the `Stripe-Signature` header Stripe would send."""
    payload = json.dumps(event).encode()
    return payload, signature(payload, secret, timestamp)


def signature(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    at = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256)
    return f"t={at},v1={mac.hexdigest()}"


def post(payload: bytes, header: str | None):  # a test Client's response
    headers = {} if header is None else {"Stripe-Signature": header}
    return Client().post(WEBHOOK, data=payload, content_type="application/json", headers=headers)


def deliver(event: dict[str, Any]) -> dict[str, Any]:
    response = post(*signed(event))
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = json.loads(response.content)
    return answer


# --- our side --------------------------------------------------------------------------------


def balance(user: User) -> int:
    return Wallet.objects.get(user=user).balance_nanos


def entries(kind: LedgerEntry.Kind) -> list[int]:
    return sorted(LedgerEntry.objects.filter(kind=kind).values_list("amount_nanos", flat=True))


def share(purchase: CreditPurchase, cents: int) -> int:
    """The credits that `cents` of the charge paid for, rounded down."""
    return purchase.amount_nanos * cents // purchase.total_cents
