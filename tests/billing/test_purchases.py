"""Buying credits on the credits page: the quote, and `checkout_pay` against localstripe."""

from decimal import Decimal

import pytest
import stripe
from django.db import transaction
from django.test import override_settings

from billing import stripe_api
from billing.models import CreditPurchase, LedgerEntry, StripeCustomer, Wallet
from billing.purchases import PurchaseRefused, checkout_pay, purchase_quote
from marketplace.accounts.models import User

USD = 10**9
CENT = 10**7
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then is declined when charged


@pytest.fixture
def stripe_client(localstripe: str) -> stripe.StripeClient:
    """The test's own view of localstripe (emptied for it), where the code under test goes."""
    return stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})


def card(client: stripe.StripeClient, number: str) -> str:
    return client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        }
    ).id


@pytest.fixture
def alice(transactional_db: None) -> User:
    return User.objects.create_user(email="alice@example.com")


def _balance(user: User) -> int:
    return Wallet.objects.get(user=user).balance_nanos


# --- the quote -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "fee_cents", "total_cents"),
    [
        ("5", 80, 580),  # 5.5% is 27.5 cents: the $0.80 minimum
        ("14.54", 80, 1534),  # 79.97 cents: still the minimum
        ("14.55", 81, 1536),  # 80.025 cents, rounded up to whole cents
        ("10.10", 80, 1090),
        ("100", 550, 10550),
        ("123.45", 679, 13024),  # 678.975 cents, rounded up
        ("10000", 55000, 1055000),
    ],
)
def test_the_quote_adds_the_fee_in_whole_cents_rounded_up(amount, fee_cents, total_cents):
    quote = purchase_quote(Decimal(amount))

    assert quote.amount_nanos == int(Decimal(amount) * 100) * CENT
    assert quote.fee_nanos == fee_cents * CENT
    assert quote.total_cents == total_cents
    for value in (quote.amount_nanos, quote.fee_nanos, quote.total_cents):
        assert type(value) is int


@pytest.mark.parametrize(
    "amount", ["4.99", "0", "-10", "10000.01", "1e6", "10.001", "5.005", "NaN", "Infinity"]
)
def test_the_quote_refuses_amounts_outside_the_range_or_finer_than_a_cent(amount):
    with pytest.raises(PurchaseRefused):
        purchase_quote(Decimal(amount))


def test_the_quote_accepts_the_edges_of_the_range():
    assert purchase_quote(Decimal("5.00")).amount_nanos == 5 * USD
    assert purchase_quote(Decimal("10000.00")).amount_nanos == 10_000 * USD


@override_settings(CREDIT_PURCHASE_FEE_BPS=1000, CREDIT_PURCHASE_FEE_MIN_USD="0.10")
def test_the_quote_follows_the_fee_settings():
    quote = purchase_quote(Decimal("20"))

    assert (quote.fee_nanos, quote.total_cents) == (2 * USD, 2200)


# --- checkout_pay ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_paid_checkout_credits_the_wallet_once_and_records_the_fee(stripe_client, alice):
    checkout = checkout_pay(user=alice, amount_usd=Decimal("100"),
                            payment_method_id=card(stripe_client, GOOD_CARD),
                            save_card=False)  # fmt: skip

    purchase = CreditPurchase.objects.get()
    assert checkout.purchase.pk == purchase.pk
    assert checkout.action_client_secret is None
    assert purchase.status == CreditPurchase.Status.SUCCEEDED
    assert purchase.kind == CreditPurchase.Kind.CHECKOUT
    assert (purchase.amount_nanos, purchase.fee_nanos, purchase.total_cents) == (
        100 * USD, 550 * CENT, 10550
    )  # fmt: skip
    intent = stripe_client.v1.payment_intents.retrieve(str(purchase.payment_intent_id))
    assert (intent.status, intent.amount, intent.metadata["purchase_id"]) == (
        "succeeded", 10550, str(purchase.pk)
    )  # fmt: skip
    entries = {(e.kind, e.amount_nanos, e.idempotency_key) for e in LedgerEntry.objects.all()}
    assert entries == {
        (LedgerEntry.Kind.TOPUP, 10550 * CENT, f"topup:{intent.id}"),
        (LedgerEntry.Kind.FEE, -550 * CENT, f"fee:{intent.id}"),
    }
    assert _balance(alice) == 100 * USD
    assert not StripeCustomer.objects.get(user=alice).saved_payment_method_id


@pytest.mark.django_db(transaction=True)
def test_a_checkout_that_saves_the_card_records_it_for_auto_top_up(stripe_client, alice):
    method = card(stripe_client, GOOD_CARD)

    checkout_pay(user=alice, amount_usd=Decimal("10"), payment_method_id=method, save_card=True)

    customer = StripeCustomer.objects.get(user=alice)
    assert (customer.saved_payment_method_id, customer.saved_card_label) == (method, "visa 4242")
    assert stripe_client.v1.payment_methods.retrieve(method).customer == customer.customer_id


@pytest.mark.django_db(transaction=True)
def test_a_second_checkout_reuses_the_stripe_customer(stripe_client, alice):
    for _ in range(2):
        checkout_pay(user=alice, amount_usd=Decimal("5"),
                     payment_method_id=card(stripe_client, GOOD_CARD), save_card=False)  # fmt: skip

    assert StripeCustomer.objects.filter(user=alice).count() == 1
    assert CreditPurchase.objects.filter(status=CreditPurchase.Status.SUCCEEDED).count() == 2
    assert _balance(alice) == 10 * USD


@pytest.mark.django_db(transaction=True)
def test_a_declined_card_fails_the_purchase_with_its_message_and_leaves_the_wallet(
    stripe_client, alice
):
    checkout = checkout_pay(user=alice, amount_usd=Decimal("10"),
                            payment_method_id=card(stripe_client, DECLINED_CARD),
                            save_card=False)  # fmt: skip

    purchase = CreditPurchase.objects.get()
    assert checkout.purchase.status == purchase.status == CreditPurchase.Status.FAILED
    assert purchase.failure_message == "Your card was declined."
    assert purchase.payment_intent_id is not None
    assert not LedgerEntry.objects.exists()
    assert _balance(alice) == 0


@pytest.mark.django_db(transaction=True)
def test_a_refused_amount_charges_nothing(stripe_client, alice):
    with pytest.raises(PurchaseRefused):
        checkout_pay(user=alice, amount_usd=Decimal("4.99"),
                     payment_method_id=card(stripe_client, GOOD_CARD), save_card=False)  # fmt: skip

    assert not CreditPurchase.objects.exists()
    assert stripe_client.v1.payment_intents.list().data == []


@pytest.mark.django_db(transaction=True)
def test_stripe_is_never_called_inside_a_database_transaction(stripe_client, alice):
    method = card(stripe_client, GOOD_CARD)

    with transaction.atomic():
        with pytest.raises(stripe_api.StripeCallInTransaction):
            stripe_api.customer_create(user_id=alice.pk, email=alice.email)
        with pytest.raises(stripe_api.StripeCallInTransaction):
            checkout_pay(user=alice, amount_usd=Decimal("10"), payment_method_id=method,
                         save_card=False)  # fmt: skip
        with pytest.raises(stripe_api.StripeCallInTransaction):
            stripe_api.payment_intent_retrieve("pi_anything")

    assert stripe_client.v1.customers.list().data == []
    assert stripe_api.customer_create(user_id=alice.pk, email=alice.email).startswith("cus_")
