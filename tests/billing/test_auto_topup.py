"""Auto top-up (billing/auto_topup.py, billing/tasks.py): the saved card charged off-session
on localstripe, once however many triggers fire, and turned off after repeated declines."""

import uuid
from decimal import Decimal
from typing import Any

import pytest
import stripe
from django.core import mail
from django.test import override_settings

from billing import tasks
from billing.auto_topup import auto_topup_configure, auto_topup_run, wallets_due_for_topup
from billing.models import AutoTopUp, CreditPurchase, LedgerEntry, StripeCustomer, Wallet
from billing.purchases import checkout_pay, stripe_customer_for
from billing.services import credits_grant, ledger_post, wallet_get_or_create
from marketplace.accounts.models import User
from tests.billing.threads import concurrently

USD = 10**9
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then is declined when charged


@pytest.fixture
def stripe_client(localstripe: str) -> stripe.StripeClient:
    """The test's own view of localstripe (emptied for it), where the code under test goes."""
    return stripe.StripeClient("sk_test_localstripe", base_addresses={"api": localstripe})


@pytest.fixture
def alice(transactional_db: None) -> User:
    return User.objects.create_user(email="alice@example.com")


def card(client: stripe.StripeClient, number: str) -> str:
    return client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        }
    ).id


def save_card(client: stripe.StripeClient, user: User, number: str) -> str:
    """Attach a card to the user's customer and keep it, as a purchase that saved it would."""
    customer = stripe_customer_for(user)
    method = client.v1.payment_methods.attach(
        card(client, number), {"customer": customer.customer_id}
    )
    StripeCustomer.objects.filter(pk=customer.pk).update(
        saved_payment_method_id=method.id, saved_card_label=f"visa {number[-4:]}"
    )
    return method.id


def configure(user: User, *, threshold: str = "5", amount: str = "20") -> AutoTopUp:
    return auto_topup_configure(user=user, enabled=True, threshold_usd=Decimal(threshold),
                                amount_usd=Decimal(amount))  # fmt: skip


def spend(user: User, usd: int) -> None:
    ledger_post(user=user, amount_nanos=-usd * USD, kind=LedgerEntry.Kind.USAGE,
                idempotency_key=f"usage:{uuid.uuid4()}")  # fmt: skip


def balance(user: User) -> int:
    return Wallet.objects.get(user=user).balance_nanos


def intents_of(client: stripe.StripeClient, user: User) -> list[dict[str, Any]]:
    """The user's PaymentIntents at Stripe (localstripe cannot filter them by customer)."""
    customer_id = StripeCustomer.objects.get(user=user).customer_id
    intents = (i.to_dict() for i in client.v1.payment_intents.list({"limit": 100}).data)
    return [i for i in intents if i["customer"] == customer_id]


def auto_topups() -> list[CreditPurchase]:
    return list(CreditPurchase.objects.filter(kind=CreditPurchase.Kind.AUTO_TOPUP).order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_triggers_below_the_threshold_charge_the_saved_card_once(stripe_client, alice):
    method = card(stripe_client, GOOD_CARD)
    checkout = checkout_pay(user=alice, amount_usd=Decimal("10"), payment_method_id=method,
                            save_card=True)  # fmt: skip
    config = configure(alice, threshold="5", amount="20")
    spend(alice, 6)  # $4 left, below the $5 threshold

    runs = concurrently(8, lambda: auto_topup_run(config.wallet_id))

    charged = [purchase for purchase in runs if purchase is not None]
    assert [purchase.status for purchase in charged] == [CreditPurchase.Status.SUCCEEDED]
    [topup] = auto_topups()
    assert (topup.pk, topup.status, topup.total_cents) == (charged[0].pk, "succeeded", 2110)
    intents = intents_of(stripe_client, alice)
    assert sorted(int(i["metadata"]["purchase_id"]) for i in intents) == [
        checkout.purchase.pk, topup.pk
    ]  # fmt: skip
    auto_intent = next(i for i in intents if i["id"] == topup.payment_intent_id)
    assert (auto_intent["status"], auto_intent["amount"]) == ("succeeded", 2110)
    assert auto_intent["payment_method"] == config.payment_method_id
    assert balance(alice) == 24 * USD
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.TOPUP).count() == 2
    assert AutoTopUp.objects.get().consecutive_failures == 0
    assert tasks.auto_topup_task(config.wallet_id) == "nothing due"  # now above the threshold


@pytest.mark.django_db(transaction=True)
def test_each_fall_below_the_threshold_is_topped_up_once_however_many_triggers_race(
    stripe_client, alice
):
    save_card(stripe_client, alice, GOOD_CARD)
    config = configure(alice, threshold="5", amount="10")

    for round_ in range(4):
        if round_:
            spend(alice, balance(alice) // USD - 4)  # $4: below the threshold again
        runs = concurrently(8, lambda: auto_topup_run(config.wallet_id))

        assert [p.status for p in runs if p is not None] == ["succeeded"], round_
        assert balance(alice) == (14 if round_ else 10) * USD
    assert [p.status for p in auto_topups()] == ["succeeded"] * 4
    assert len(intents_of(stripe_client, alice)) == 4


@pytest.mark.django_db(transaction=True)
def test_a_wallet_at_or_above_its_threshold_charges_nothing(stripe_client, alice):
    save_card(stripe_client, alice, GOOD_CARD)
    config = configure(alice, threshold="5", amount="20")
    credits_grant(user=alice, amount_nanos=5 * USD)

    assert auto_topup_run(config.wallet_id) is None
    assert tasks.auto_topup_task(config.wallet_id) == "nothing due"
    assert not CreditPurchase.objects.exists()
    assert intents_of(stripe_client, alice) == []


@pytest.mark.django_db(transaction=True)
def test_the_task_charges_a_wallet_below_its_threshold(stripe_client, alice):
    save_card(stripe_client, alice, GOOD_CARD)
    config = configure(alice, threshold="1", amount="5")

    assert tasks.auto_topup_task(config.wallet_id) == "succeeded"
    assert balance(alice) == 5 * USD
    assert [i["amount"] for i in intents_of(stripe_client, alice)] == [580]


@pytest.mark.django_db(transaction=True)
def test_a_declined_card_turns_auto_top_up_off_after_three_failures_and_tells_the_user(
    stripe_client, alice
):
    save_card(stripe_client, alice, DECLINED_CARD)
    config = configure(alice, threshold="5", amount="20")

    for failures in (1, 2):
        purchase = auto_topup_run(config.wallet_id)
        assert purchase is not None
        assert (purchase.status, purchase.failure_message) == ("failed", "Your card was declined.")
        config.refresh_from_db()
        assert (config.enabled, config.consecutive_failures) == (True, failures)
        assert mail.outbox == []

    last = auto_topup_run(config.wallet_id)

    assert last is not None
    assert last.status == CreditPurchase.Status.FAILED
    config.refresh_from_db()
    assert not config.enabled
    assert config.disabled_reason == "Turned off after 3 failed charges: Your card was declined."
    [message] = mail.outbox
    assert message.to == [alice.email]
    assert message.subject == "Switchyard: auto top-up turned off"
    assert "declined 3 times" in message.body
    assert "$20" in message.body
    assert auto_topup_run(config.wallet_id) is None  # off: nothing more is charged
    assert [p.status for p in auto_topups()] == ["failed"] * 3
    assert len(intents_of(stripe_client, alice)) == 3
    assert balance(alice) == 0
    assert not LedgerEntry.objects.exists()

    configure(alice)  # the user turns it back on (with a working card, one hopes)
    config.refresh_from_db()
    assert (config.enabled, config.consecutive_failures, config.disabled_reason) == (True, 0, "")


@pytest.mark.django_db(transaction=True)
def test_a_charge_stripe_refuses_is_recorded_as_failed_and_blocks_no_later_top_up(
    stripe_client, alice
):
    method = save_card(stripe_client, alice, GOOD_CARD)
    config = configure(alice)
    AutoTopUp.objects.filter(pk=config.pk).update(payment_method_id="pm_gone")

    refused = auto_topup_run(config.wallet_id)

    assert refused is not None
    assert refused.status == CreditPurchase.Status.FAILED
    assert refused.failure_message.startswith("Stripe refused the charge")
    assert AutoTopUp.objects.get().consecutive_failures == 1
    AutoTopUp.objects.filter(pk=config.pk).update(payment_method_id=method)
    paid = auto_topup_run(config.wallet_id)
    assert paid is not None
    assert paid.status == CreditPurchase.Status.SUCCEEDED
    assert AutoTopUp.objects.get().consecutive_failures == 0
    assert balance(alice) == 20 * USD


@pytest.mark.django_db(transaction=True)
def test_stripe_out_of_reach_fails_the_charge_without_counting_it_against_the_card(
    stripe_client, alice
):
    save_card(stripe_client, alice, GOOD_CARD)
    config = configure(alice)

    with override_settings(STRIPE_API_BASE="http://127.0.0.1:9"):  # nothing listens there
        unreached = auto_topup_run(config.wallet_id)

    assert unreached is not None
    assert unreached.status == CreditPurchase.Status.FAILED
    assert AutoTopUp.objects.get().consecutive_failures == 0
    paid = auto_topup_run(config.wallet_id)
    assert paid is not None
    assert paid.status == CreditPurchase.Status.SUCCEEDED
    assert balance(alice) == 20 * USD


# --- the periodic check ----------------------------------------------------------------------


def _wallet_with_auto_topup(email: str, *, balance_usd: int, threshold_usd: int,
                            enabled: bool = True) -> int:  # fmt: skip
    user = User.objects.create_user(email=email)
    wallet = wallet_get_or_create(user=user)
    if balance_usd:
        credits_grant(user=user, amount_nanos=balance_usd * USD)
    AutoTopUp.objects.create(wallet=wallet, enabled=enabled, threshold_nanos=threshold_usd * USD,
                             amount_nanos=20 * USD, payment_method_id="pm_saved")  # fmt: skip
    return wallet.pk


@pytest.mark.django_db
def test_the_periodic_check_starts_the_top_up_of_every_wallet_below_its_threshold(monkeypatch):
    below = _wallet_with_auto_topup("below@example.com", balance_usd=4, threshold_usd=5)
    empty = _wallet_with_auto_topup("empty@example.com", balance_usd=0, threshold_usd=1)
    _wallet_with_auto_topup("at@example.com", balance_usd=5, threshold_usd=5)
    _wallet_with_auto_topup("above@example.com", balance_usd=9, threshold_usd=5)
    _wallet_with_auto_topup("off@example.com", balance_usd=1, threshold_usd=5, enabled=False)
    wallet_get_or_create(user=User.objects.create_user(email="none@example.com"))
    started: list[int] = []

    class Task:
        @staticmethod
        def delay(wallet_id: int) -> None:
            started.append(wallet_id)

    monkeypatch.setattr(tasks, "auto_topup_task", Task)

    assert tasks.auto_topups_due_task() == 2
    assert sorted(started) == sorted([below, empty])
    assert sorted(wallets_due_for_topup()) == sorted([below, empty])
