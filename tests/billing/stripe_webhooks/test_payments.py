"""Payments: an event credits its purchase once however often it comes, a browser that never
returned is credited by its event, and stale or foreign events change nothing."""

import pytest

from billing.models import CreditPurchase, LedgerEntry, StripeEvent
from tests.billing.stripe_webhooks.support import (
    USD,
    balance,
    card,
    deliver,
    entries,
    intent_of,
    paid_at_checkout,
    paid_but_never_returned,
    stripe_event,
)
from tests.billing.threads import concurrently

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("setup", [paid_at_checkout, paid_but_never_returned])
def test_one_event_delivered_ten_times_at_once_and_again_later_credits_once(
    stripe_client, alice, setup
):
    purchase = setup(stripe_client, alice, "100")
    event = stripe_event("payment_intent.succeeded", intent_of(stripe_client, purchase))

    answers = concurrently(10, lambda: deliver(event))

    assert [a["received"] for a in answers] == [True] * 10
    assert not all(a["duplicate"] for a in answers)
    assert deliver(event) == {"received": True, "duplicate": True}
    assert entries(LedgerEntry.Kind.TOPUP) == [10550 * 10**7]
    assert entries(LedgerEntry.Kind.FEE) == [-550 * 10**7]
    assert balance(alice) == 100 * USD
    assert StripeEvent.objects.count() == 1
    purchase.refresh_from_db()
    assert purchase.status == CreditPurchase.Status.SUCCEEDED
    assert purchase.payment_intent_id == intent_of(stripe_client, purchase)["id"]


def test_a_payment_whose_browser_never_returned_is_credited_by_its_event(stripe_client, alice):
    purchase = paid_but_never_returned(stripe_client, alice, "25")
    intent = intent_of(stripe_client, purchase)
    assert balance(alice) == 0

    deliver(stripe_event("payment_intent.succeeded", intent))
    deliver(stripe_event("payment_intent.succeeded", intent))  # another event, the same payment

    purchase.refresh_from_db()
    assert (purchase.status, purchase.payment_intent_id) == ("succeeded", intent["id"])
    assert balance(alice) == 25 * USD
    assert LedgerEntry.objects.count() == 2
    assert StripeEvent.objects.count() == 2


def test_a_stale_payment_failed_event_leaves_a_paid_purchase_paid(stripe_client, alice):
    purchase = paid_at_checkout(stripe_client, alice, "10")
    stale = intent_of(stripe_client, purchase) | {
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
    }

    deliver(stripe_event("payment_intent.payment_failed", stale))

    purchase.refresh_from_db()
    assert (purchase.status, purchase.failure_message) == ("succeeded", "")
    assert balance(alice) == 10 * USD


def test_a_stale_payment_failed_event_first_credits_what_stripe_says_was_paid(stripe_client, alice):
    purchase = paid_but_never_returned(stripe_client, alice, "10")
    intent = intent_of(stripe_client, purchase)
    stale = intent | {"status": "requires_payment_method", "latest_charge": None}

    deliver(stripe_event("payment_intent.payment_failed", stale))
    deliver(stripe_event("payment_intent.succeeded", intent))

    purchase.refresh_from_db()
    assert purchase.status == CreditPurchase.Status.SUCCEEDED
    assert balance(alice) == 10 * USD
    assert len(entries(LedgerEntry.Kind.TOPUP)) == 1


def test_an_event_of_a_payment_intent_not_ours_changes_nothing(stripe_client, alice):
    customer = stripe_client.v1.customers.create({"email": "someone@example.com"})
    intent = stripe_client.v1.payment_intents.create({
        "amount": 1000, "currency": "usd", "customer": customer.id,
        "payment_method": card(stripe_client),
    })  # fmt: skip
    intent = stripe_client.v1.payment_intents.confirm(intent.id)

    assert deliver(stripe_event("payment_intent.succeeded", intent.to_dict()))["received"]
    assert not LedgerEntry.objects.exists()
