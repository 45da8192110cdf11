"""Stripe's webhook (billing/views.py, billing/purchases.py) against localstripe.

Payments are real PaymentIntents on localstripe, so the handler's re-read of Stripe's state is
real too. localstripe sends neither refunds' nor disputes' events (and has no disputes), so the
tests build those events around its real charges and sign them the way Stripe does.
"""

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client, override_settings

from billing.models import CreditPurchase, LedgerEntry, StripeEvent, Wallet
from billing.purchases import checkout_pay, purchase_quote, stripe_customer_for
from billing.services import credits_grant, ledger_post, wallet_get_or_create
from billing.usage import HoldRefused, HoldRequest, hold_open
from marketplace.accounts.models import User
from marketplace.asyncdb import DjangoConnectionDb
from marketplace.keys.periods import EPOCH
from marketplace.keys.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_test_switchyard"
WEBHOOK = "/billing/webhooks/stripe"
USD = 10**9
GOOD_CARD = "4242424242424242"


@pytest.fixture
def stripe_client(localstripe: str, tmp_path: Path) -> Iterator[stripe.StripeClient]:
    """The test's own view of localstripe (emptied for it), where the code under test goes."""
    # The test Client loads whitenoise, which warns (an error here) when STATIC_ROOT does not
    # exist yet, as in a fresh checkout; the webhook serves no static files.
    with override_settings(STRIPE_WEBHOOK_SECRET=SECRET, STATIC_ROOT=tmp_path):
        yield stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})


@pytest.fixture
def alice(transactional_db: None) -> User:
    return User.objects.create_user(email="alice@example.com")


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


def concurrently[T](count: int, work: Callable[[], T]) -> list[T]:
    """`work` in `count` threads at once, each on its own database connection."""
    barrier = threading.Barrier(count)

    def run(_: int) -> T:
        try:
            barrier.wait(timeout=10)
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# --- signatures ------------------------------------------------------------------------------


@pytest.fixture
def awaiting(stripe_client: stripe.StripeClient, alice: User) -> dict[str, Any]:
    """A `payment_intent.succeeded` event whose handling credits alice $10."""
    purchase = paid_but_never_returned(stripe_client, alice, "10")
    return stripe_event("payment_intent.succeeded", intent_of(stripe_client, purchase))


def assert_nothing_handled(alice: User) -> None:
    assert not StripeEvent.objects.exists()
    assert CreditPurchase.objects.get().status == CreditPurchase.Status.CREATED
    assert balance(alice) == 0


def test_a_signed_event_is_handled(awaiting, alice):
    answer = deliver(awaiting)

    assert answer == {"received": True, "duplicate": False}
    assert CreditPurchase.objects.get().status == CreditPurchase.Status.SUCCEEDED
    assert balance(alice) == 10 * USD
    assert StripeEvent.objects.get().processed_at is not None


def test_a_tampered_body_is_refused(awaiting, alice):
    payload, header = signed(awaiting)
    forged = payload.replace(awaiting["id"].encode(), b"evt_forged")

    response = post(forged, header)

    assert response.status_code == 400
    assert "signature" in json.loads(response.content)["error"]["message"]
    assert_nothing_handled(alice)


def test_an_event_signed_with_another_secret_is_refused(awaiting, alice):
    assert post(*signed(awaiting, secret="whsec_someone_else")).status_code == 400
    assert_nothing_handled(alice)


def test_an_unsigned_event_is_refused(awaiting, alice):
    payload, _ = signed(awaiting)

    assert post(payload, None).status_code == 400
    assert post(payload, "").status_code == 400
    assert post(payload, "t=not-a-time,v1=00").status_code == 400
    assert_nothing_handled(alice)


def test_a_signature_older_than_five_minutes_is_refused(awaiting, alice):
    stale = int(time.time()) - 301

    assert post(*signed(awaiting, timestamp=stale)).status_code == 400
    assert_nothing_handled(alice)
    assert post(*signed(awaiting, timestamp=int(time.time()) - 240)).status_code == 200


def test_a_signed_body_that_is_not_json_is_refused(stripe_client, alice):
    for body in (b"not json", b'{"id": "evt_1",', b"\xff\xfe"):
        response = post(body, signature(body))

        assert response.status_code == 400, body
        assert json.loads(response.content)["error"]["message"] == "The body is not a Stripe event"
    assert not StripeEvent.objects.exists()


def test_the_webhook_accepts_only_post(stripe_client):
    assert Client().get(WEBHOOK).status_code == 405


# --- payments --------------------------------------------------------------------------------


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


# --- refunds ---------------------------------------------------------------------------------


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


# --- disputes --------------------------------------------------------------------------------


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
