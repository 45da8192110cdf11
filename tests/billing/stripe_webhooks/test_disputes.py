"""Disputes: they withdraw their share once and give it back once if won, in whatever order the
events arrive; inquiries move no money."""

import pytest

from billing.models import LedgerEntry, StripeEvent
from tests.billing.stripe_webhooks.support import (
    USD,
    balance,
    charge_of,
    deliver,
    dispute,
    entries,
    intent_of,
    paid_at_checkout,
    paid_but_never_returned,
    share,
    stripe_event,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dispute_withdraws_its_share_once_and_winning_gives_it_back_once(stripe_client, alice):
    purchase = paid_at_checkout(stripe_client, alice, "100")
    charge = charge_of(stripe_client, purchase)
    created = stripe_event("charge.dispute.created", dispute(charge, "needs_response"))

    deliver(created)
    deliver(created)
    deliver(stripe_event("charge.dispute.updated", dispute(charge, "under_review")))

    assert balance(alice) == 0
    won = stripe_event("charge.dispute.closed", dispute(charge, "won"))
    deliver(won)
    deliver(won)
    deliver(stripe_event("charge.dispute.closed", dispute(charge, "won")))
    assert balance(alice) == 100 * USD
    assert entries(LedgerEntry.Kind.DISPUTE) == [-100 * USD, 100 * USD]


def test_a_lost_dispute_keeps_its_share_withdrawn(stripe_client, alice):
    purchase = paid_at_checkout(stripe_client, alice, "100")
    charge = charge_of(stripe_client, purchase)

    deliver(stripe_event("charge.dispute.created", dispute(charge, "needs_response", cents=4000)))
    deliver(stripe_event("charge.dispute.closed", dispute(charge, "lost", cents=4000)))
    deliver(stripe_event("charge.dispute.closed", dispute(charge, "lost", cents=4000)))

    assert balance(alice) == 100 * USD - share(purchase, 4000)
    assert entries(LedgerEntry.Kind.DISPUTE) == [-share(purchase, 4000)]


@pytest.mark.parametrize(("outcome", "kept_usd"), [("won", 100), ("lost", 0)])
def test_a_dispute_closed_before_its_creation_arrives_ends_the_same(
    stripe_client, alice, outcome, kept_usd
):
    purchase = paid_at_checkout(stripe_client, alice, "100")
    charge = charge_of(stripe_client, purchase)

    deliver(stripe_event("charge.dispute.closed", dispute(charge, outcome)))
    deliver(stripe_event("charge.dispute.created", dispute(charge, "needs_response")))
    deliver(stripe_event("charge.dispute.funds_withdrawn", dispute(charge, "needs_response")))

    assert balance(alice) == kept_usd * USD


def test_an_inquiry_moves_no_money(stripe_client, alice):
    purchase = paid_at_checkout(stripe_client, alice, "100")
    charge = charge_of(stripe_client, purchase)

    for kind, status in [
        ("charge.dispute.created", "warning_needs_response"),
        ("charge.dispute.updated", "warning_under_review"),
        ("charge.dispute.closed", "warning_closed"),
    ]:
        deliver(stripe_event(kind, dispute(charge, status)))

    assert balance(alice) == 100 * USD
    assert not entries(LedgerEntry.Kind.DISPUTE)
    assert StripeEvent.objects.filter(processed_at__isnull=False).count() == 3


def test_a_dispute_delivered_before_the_payment_is_settled_the_same(stripe_client, alice):
    purchase = paid_but_never_returned(stripe_client, alice, "100")
    charge = charge_of(stripe_client, purchase)

    deliver(stripe_event("charge.dispute.created", dispute(charge, "needs_response")))
    deliver(stripe_event("payment_intent.succeeded", intent_of(stripe_client, purchase)))

    assert balance(alice) == 0
    deliver(stripe_event("charge.dispute.closed", dispute(charge, "won")))
    assert balance(alice) == 100 * USD
