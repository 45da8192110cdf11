"""Refunds: they take back the share of credits refunded so far, once, even of credits spent or
of a payment not yet settled."""

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync

from billing.models import LedgerEntry, Wallet
from billing.services import credits_grant, ledger_post
from billing.usage import HoldRefused, HoldRequest, hold_open
from marketplace.asyncdb import DjangoConnectionDb
from marketplace.keys.periods import EPOCH
from marketplace.keys.services import api_key_create
from tests.billing.stripe_webhooks.support import (
    USD,
    balance,
    deliver,
    entries,
    intent_of,
    paid_at_checkout,
    paid_but_never_returned,
    refund,
    share,
    stripe_event,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_partial_refunds_take_back_the_share_of_credits_of_what_was_refunded_so_far(
    stripe_client, alice
):
    purchase = paid_at_checkout(stripe_client, alice, "100")  # $105.50 charged
    first = stripe_event("charge.refunded", refund(stripe_client, purchase, 3000))

    deliver(first)

    assert balance(alice) == 100 * USD - share(purchase, 3000)
    assert share(purchase, 3000) == 28_436_018_957  # 100e9 * 3000 / 10550, rounded down

    second = stripe_event("charge.refunded", refund(stripe_client, purchase, 2000))
    deliver(second)

    assert balance(alice) == 100 * USD - share(purchase, 5000)
    assert entries(LedgerEntry.Kind.REFUND) == sorted(
        [-share(purchase, 3000), -(share(purchase, 5000) - share(purchase, 3000))]
    )

    assert deliver(first)["duplicate"]
    assert deliver(second)["duplicate"]
    # New events carrying older states of the charge: the handler reads the charge as it is.
    deliver(stripe_event("charge.refunded", first["data"]["object"]))
    deliver(stripe_event("charge.refunded", second["data"]["object"]))
    assert balance(alice) == 100 * USD - share(purchase, 5000)
    assert len(entries(LedgerEntry.Kind.REFUND)) == 2
    purchase.refresh_from_db()
    assert purchase.refunded_cents == 5000


def test_a_full_refund_leaves_the_wallet_where_it_was_before_the_purchase(stripe_client, alice):
    credits_grant(user=alice, amount_nanos=3 * USD + 7)
    purchase = paid_at_checkout(stripe_client, alice, "14.55")  # 81 cents of fee: 1536 charged
    deliver(stripe_event("charge.refunded", refund(stripe_client, purchase, 1000)))

    deliver(stripe_event("charge.refunded", refund(stripe_client, purchase, 536)))

    assert balance(alice) == 3 * USD + 7
    assert sum(entries(LedgerEntry.Kind.REFUND)) == -purchase.amount_nanos


def test_a_refund_of_spent_credits_takes_the_wallet_negative_and_holds_are_refused(
    stripe_client, alice
):
    purchase = paid_at_checkout(stripe_client, alice, "100")
    ledger_post(user=alice, amount_nanos=-60 * USD, kind=LedgerEntry.Kind.USAGE,
                idempotency_key="usage:gen-spent")  # fmt: skip
    key, _ = api_key_create(user=alice, name="test")

    deliver(stripe_event("charge.refunded", refund(stripe_client, purchase, 10550)))

    wallet = Wallet.objects.get(user=alice)
    assert wallet.balance_nanos == wallet.available_nanos == -60 * USD
    now = datetime.now(UTC)
    request = HoldRequest(hold_id="gen-after-refund", wallet_id=wallet.pk, api_key_id=key.pk,
                          amount_nanos=1, key_period_start=EPOCH, created_at=now,
                          expires_at=now + timedelta(minutes=5))  # fmt: skip
    with pytest.raises(HoldRefused) as refused:
        async_to_sync(hold_open)(DjangoConnectionDb(), request)
    assert refused.value.reason == "insufficient_credits"


def test_a_refund_delivered_before_the_payment_is_settled_the_same(stripe_client, alice):
    purchase = paid_but_never_returned(stripe_client, alice, "100")
    intent = intent_of(stripe_client, purchase)
    refunded = stripe_event("charge.refunded", refund(stripe_client, purchase, 3000))

    deliver(refunded)
    deliver(stripe_event("payment_intent.succeeded", intent))

    assert balance(alice) == 100 * USD - share(purchase, 3000)
    assert len(entries(LedgerEntry.Kind.TOPUP)) == len(entries(LedgerEntry.Kind.REFUND)) == 1
