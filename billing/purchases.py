"""Buying credits: a purchase's life, from the quote to the wallet, and what refunds and
disputes take back.

Stripe tells us what happened through events, which arrive more than once, late, and out of
order. So every handler here reads the object's *current* state from Stripe and makes the
wallet agree with it: the ledger entries it posts are keyed on Stripe's ids (and on cumulative
amounts), so replaying any event, in any order, posts nothing twice.

Refunds and disputes take back credits in proportion to what the card was charged (the
credits plus the fee): a full refund takes back exactly the credits bought. The wallet may go
negative (credits already spent); requests are then refused until it is topped up.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import stripe_api
from billing.models import CreditPurchase, LedgerEntry, StripeCustomer, StripeEvent
from billing.money import purchase_fee_nanos, usd_to_nanos
from billing.services import ledger_post, wallet_get_or_create
from marketplace.accounts.models import User

logger = logging.getLogger(__name__)

CENT_NANOS = 10_000_000


class PurchaseRefused(ValueError):
    """An amount the credits page does not sell."""


@dataclass(frozen=True, slots=True)
class Quote:
    amount_nanos: int  # credits
    fee_nanos: int  # on top, in whole cents
    total_cents: int  # what the card is charged


def _whole_cents_up(nanos: int) -> int:
    return -(-nanos // CENT_NANOS)


def purchase_quote(amount_usd: Decimal) -> Quote:
    """The price of `amount_usd` of credits; refused outside the configured range or when
    not a whole number of cents."""
    low = Decimal(settings.CREDIT_PURCHASE_MIN_USD)
    high = Decimal(settings.CREDIT_PURCHASE_MAX_USD)
    # NaN is neither in nor out of a range: comparing it raises InvalidOperation.
    if not amount_usd.is_finite() or not low <= amount_usd <= high:
        raise PurchaseRefused(f"Buy between ${low} and ${high} of credits")
    if amount_usd != amount_usd.quantize(Decimal("0.01")):
        raise PurchaseRefused("Amounts are in whole cents")
    amount = usd_to_nanos(amount_usd)
    fee = purchase_fee_nanos(
        amount,
        fee_bps=settings.CREDIT_PURCHASE_FEE_BPS,
        minimum_nanos=usd_to_nanos(settings.CREDIT_PURCHASE_FEE_MIN_USD),
    )
    fee = _whole_cents_up(fee) * CENT_NANOS  # a card is charged in cents
    return Quote(amount_nanos=amount, fee_nanos=fee, total_cents=(amount + fee) // CENT_NANOS)


def stripe_customer_for(user: User) -> StripeCustomer:
    existing = StripeCustomer.objects.filter(user=user).first()
    if existing is not None:
        return existing
    # Created at Stripe first (idempotent per user), recorded after: never inside a transaction.
    customer_id = stripe_api.customer_create(user_id=user.pk, email=user.email)
    customer, _ = StripeCustomer.objects.get_or_create(
        user=user, defaults={"customer_id": customer_id}
    )
    return customer


def checkout_setup(*, user: User) -> str:
    """The client secret with which Stripe.js collects a card on the credits page."""
    return stripe_api.setup_intent_create(customer_id=stripe_customer_for(user).customer_id)


@dataclass(frozen=True, slots=True)
class Checkout:
    purchase: CreditPurchase
    # Set when the card holder must authenticate the payment in the browser (3-D Secure).
    action_client_secret: str | None


def checkout_pay(
    *, user: User, amount_usd: Decimal, payment_method_id: str, save_card: bool
) -> Checkout:
    """Charge the card collected on the credits page for `amount_usd` of credits plus the fee.
    A paid purchase is credited here, at once; the webhook only confirms it."""
    quote = purchase_quote(amount_usd)
    customer = stripe_customer_for(user)
    label = stripe_api.card_of_customer(
        payment_method_id=payment_method_id, customer_id=customer.customer_id
    )
    purchase = CreditPurchase.objects.create(
        wallet=wallet_get_or_create(user=user),
        kind=CreditPurchase.Kind.CHECKOUT,
        amount_nanos=quote.amount_nanos,
        fee_nanos=quote.fee_nanos,
        total_cents=quote.total_cents,
    )
    intent = stripe_api.payment_intent_charge(
        purchase_id=purchase.pk,
        customer_id=customer.customer_id,
        payment_method_id=payment_method_id,
        total_cents=quote.total_cents,
        off_session=False,
    )
    applied = payment_intent_apply(intent) or purchase
    needs_action = intent.get("status") == "requires_action"
    if save_card and (applied.status == CreditPurchase.Status.SUCCEEDED or needs_action):
        # Only a card that paid (or is being authenticated) is kept for auto top-up.
        StripeCustomer.objects.filter(pk=customer.pk).update(
            saved_payment_method_id=payment_method_id, saved_card_label=label[:64]
        )
    secret = intent.get("client_secret") if needs_action else None
    return Checkout(purchase=applied, action_client_secret=secret)


def _purchase_of(intent: dict[str, Any]) -> CreditPurchase | None:
    purchase = CreditPurchase.objects.filter(payment_intent_id=intent.get("id")).first()
    if purchase is None:
        purchase_id = (intent.get("metadata") or {}).get("purchase_id")
        purchase = CreditPurchase.objects.filter(pk=purchase_id).first() if purchase_id else None
    return purchase


def _purchase_of_charge(charge: dict[str, Any]) -> CreditPurchase | None:
    intent = charge.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    return _purchase_of({"id": intent_id, "metadata": charge.get("metadata")})


def _credit(purchase: CreditPurchase, intent_id: str) -> None:
    """The money paid (credits and fee), then the fee: the wallet gains the credits, and the
    ledger shows what the card paid for."""
    user = purchase.wallet.user
    reference = f"purchase {purchase.pk}"
    ledger_post(user=user, amount_nanos=purchase.amount_nanos + purchase.fee_nanos,
                kind=LedgerEntry.Kind.TOPUP, idempotency_key=f"topup:{intent_id}",
                reference=reference)  # fmt: skip
    if purchase.fee_nanos:
        ledger_post(user=user, amount_nanos=-purchase.fee_nanos, kind=LedgerEntry.Kind.FEE,
                    idempotency_key=f"fee:{intent_id}", reference=reference)  # fmt: skip


def _failure_message(intent: dict[str, Any]) -> str:
    error = intent.get("last_payment_error") or {}
    return str(error.get("message") or intent.get("cancellation_reason") or "Payment failed")


def payment_intent_apply(intent: dict[str, Any]) -> CreditPurchase | None:
    """Make our purchase agree with the PaymentIntent's current state (idempotent)."""
    found = _purchase_of(intent)
    if found is None:
        logger.warning("a PaymentIntent of no purchase of ours: %s", intent.get("id"))
        return None
    status = intent.get("status")
    with transaction.atomic():
        purchase = CreditPurchase.objects.select_for_update().get(pk=found.pk)
        if purchase.payment_intent_id is None:
            purchase.payment_intent_id = str(intent["id"])
        if status == "succeeded" and purchase.status != CreditPurchase.Status.SUCCEEDED:
            _credit(purchase, str(intent["id"]))
            purchase.status = CreditPurchase.Status.SUCCEEDED
            purchase.failure_message = ""
        elif status in ("requires_payment_method", "canceled") and (
            purchase.status == CreditPurchase.Status.CREATED
            and (intent.get("last_payment_error") or status == "canceled")
        ):
            purchase.status = CreditPurchase.Status.FAILED
            purchase.failure_message = _failure_message(intent)
        purchase.save()
    return purchase


def _share_of_credits(purchase: CreditPurchase, cents: int) -> int:
    """The credits that `cents` of the card's charge paid for."""
    return purchase.amount_nanos * min(cents, purchase.total_cents) // purchase.total_cents


def charge_refunds_apply(charge: dict[str, Any]) -> None:
    """Take back the credits of what has been refunded so far (cumulative; idempotent)."""
    purchase = _purchase_of_charge(charge)
    if purchase is None:
        return
    refunded = int(charge.get("amount_refunded") or 0)
    with transaction.atomic():
        purchase = CreditPurchase.objects.select_for_update().get(pk=purchase.pk)
        if refunded <= purchase.refunded_cents:
            return  # an older state of the charge, or one already applied
        debit = _share_of_credits(purchase, refunded) - _share_of_credits(
            purchase, purchase.refunded_cents
        )
        if debit:
            ledger_post(user=purchase.wallet.user, amount_nanos=-debit,
                        kind=LedgerEntry.Kind.REFUND,
                        idempotency_key=f"refund:{charge['id']}:{refunded}",
                        reference=f"purchase {purchase.pk}")  # fmt: skip
        purchase.refunded_cents = refunded
        purchase.save(update_fields=["refunded_cents", "updated_at"])


# Inquiries (warning_*) move no money; every other dispute has withdrawn the funds.
_NO_FUNDS_MOVED = frozenset({"warning_needs_response", "warning_under_review", "warning_closed"})


def dispute_apply(dispute: dict[str, Any], charge: dict[str, Any]) -> None:
    """A dispute withdraws what it disputes (once); winning it gives that back (once)."""
    purchase = _purchase_of_charge(charge)
    if purchase is None or dispute.get("status") in _NO_FUNDS_MOVED:
        return
    amount = _share_of_credits(purchase, int(dispute.get("amount") or 0))
    if not amount:
        return
    user, reference = purchase.wallet.user, f"purchase {purchase.pk}"
    ledger_post(user=user, amount_nanos=-amount, kind=LedgerEntry.Kind.DISPUTE,
                idempotency_key=f"dispute:{dispute['id']}:withdrawn",
                reference=reference)  # fmt: skip
    if dispute.get("status") == "won":
        ledger_post(user=user, amount_nanos=amount, kind=LedgerEntry.Kind.DISPUTE,
                    idempotency_key=f"dispute:{dispute['id']}:reinstated",
                    reference=reference)  # fmt: skip


def _object_id(event: dict[str, Any]) -> str:
    return str(((event.get("data") or {}).get("object") or {}).get("id") or "")


def _handle(event: dict[str, Any]) -> None:
    kind = str(event.get("type", ""))
    sent = (event.get("data") or {}).get("object") or {}
    if kind.startswith("payment_intent."):
        payment_intent_apply(stripe_api.payment_intent_retrieve(_object_id(event)))
    elif kind.startswith("charge.refund"):  # charge.refunded, charge.refund.updated
        charge_refunds_apply(_charge_now(_charge_id(sent)))
    elif kind.startswith("charge.dispute."):
        dispute = _dispute_now(sent)
        dispute_apply(dispute, _charge_now(_charge_id(dispute)))


def _charge_id(sent: dict[str, Any]) -> str:
    """The charge an event's object is, or belongs to (a refund's, a dispute's)."""
    if sent.get("object") == "charge":
        return str(sent["id"])
    charge = sent["charge"]
    return str(charge["id"] if isinstance(charge, dict) else charge)


def _charge_now(charge_id: str) -> dict[str, Any]:
    """The charge as Stripe has it now, once the state of its PaymentIntent is applied: a
    refund or a dispute may be delivered before the payment's own event (or the payment's
    event may never have found its purchase), and must find the purchase linked and paid."""
    charge = stripe_api.charge_retrieve(charge_id)
    intent = charge.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    if intent_id:
        payment_intent_apply(stripe_api.payment_intent_retrieve(str(intent_id)))
    return charge


def _dispute_now(sent: dict[str, Any]) -> dict[str, Any]:
    """The dispute as Stripe has it now; the event's copy where Stripe cannot show it (the
    event is signed, and dispute_apply moves money the same in any order). localstripe has
    no disputes: it answers 404 with a body that is not Stripe's error (an APIError)."""
    try:
        return stripe_api.dispute_retrieve(str(sent["id"]))
    except stripe.StripeError as error:
        if error.http_status != 404:
            raise
        return sent


def stripe_event_handle(event: dict[str, Any]) -> bool:
    """Handle a verified event once; False if it had been handled already."""
    event_id = str(event.get("id") or "")
    if not event_id:
        raise ValueError("an event without an id")
    try:
        record, _ = StripeEvent.objects.get_or_create(
            event_id=event_id, defaults={"type": str(event.get("type", ""))[:100]}
        )
    except IntegrityError:  # the same event, delivered concurrently
        record = StripeEvent.objects.get(event_id=event_id)
    if record.processed_at is not None:
        return False
    # Concurrent deliveries may all get here: every handler is idempotent.
    _handle(event)
    StripeEvent.objects.filter(pk=record.pk, processed_at=None).update(processed_at=timezone.now())
    return True
