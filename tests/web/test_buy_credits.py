"""Buying credits on the credits page, in Chromium, against a live gateway and live localstripe:
Stripe.js (localstripe's stand-in) collects the card, the gateway charges it and credits the
wallet at once, and the webhook that follows confirms the payment without crediting it again."""

from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import Page, expect

from billing.models import AutoTopUp, CreditPurchase, LedgerEntry, StripeEvent, Wallet
from billing.money import usd_to_nanos
from marketplace.accounts.models import User
from tests.live import eventually

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "alice@example.com"
PASSWORD = "correct-horse-battery-9"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then is declined when charged


@dataclass(frozen=True)
class Customer:
    page: Page  # on the credits page, logged in
    user: User


@pytest.fixture
def customer(page: Page, gateway_url: str, localstripe: str, stripe_webhooks_to) -> Customer:
    """Alice, verified and with an empty wallet, logged in through the login page and on the
    credits page; localstripe's webhooks go to the gateway."""
    stripe_webhooks_to(gateway_url)
    user = User.objects.create_user(email=EMAIL, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    page.goto(f"{gateway_url}/accounts/login/")
    page.fill('input[name="login"]', EMAIL)
    page.fill('input[name="password"]', PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{gateway_url}/dashboard/")
    page.goto(f"{gateway_url}/dashboard/credits/")
    return Customer(page=page, user=user)


def pay(page: Page, card_number: str, *, save_card: bool = False) -> None:
    """Buy the amount in the form (10 USD unless changed) with a card, as a person would."""
    card = page.locator("#card-element")
    card.locator('input[placeholder="number"]').fill(card_number)
    card.locator('input[placeholder="exp_month"]').fill("12")
    card.locator('input[placeholder="exp_year"]').fill("34")  # two digits in localstripe's
    card.locator('input[placeholder="cvc"]').fill("123")
    card.locator('input[placeholder="postal_code"]').fill("12345")
    if save_card:
        page.check("#save_card")
    page.click("#pay-button")


def table_rows(page: Page, table: str) -> list[list[str]]:
    """The cells of a table's rows under its header, without the date column."""
    rows = page.locator(f"{table} tr").all()[1:]
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()[1:]] for row in rows]


def test_a_card_payment_credits_the_wallet_once(customer: Customer) -> None:
    page = customer.page
    expect(page.locator("#balance")).to_have_text("$0.00")
    expect(page.locator("#quote")).to_have_text(
        "Credits $10.00 + platform fee $0.80 = $10.80 charged"
    )

    pay(page, GOOD_CARD)
    expect(page.locator("#pay-result")).to_have_text(
        "Payment succeeded: your credits are in your balance."
    )
    # The page reloads itself to show the new balance and history.
    expect(page.locator("#purchases")).to_contain_text("Paid")
    expect(page.locator("#balance")).to_have_text("$10.00")
    assert table_rows(page, "#purchases") == [["$10.00", "$0.80", "$10.80", "Paid"]]
    assert table_rows(page, "#ledger") == [
        ["Fee", "-$0.80", "$10.00"],
        ["Top-up", "$10.80", "$10.80"],
    ]

    eventually(
        lambda: StripeEvent.objects.filter(
            type="payment_intent.succeeded", processed_at__isnull=False
        ).exists(),
        timeout_s=15,
        what="localstripe's payment_intent.succeeded webhook handled",
    )
    wallet = Wallet.objects.get(user=customer.user)
    assert wallet.balance_nanos == usd_to_nanos(10)
    entries = LedgerEntry.objects.filter(wallet=wallet).values_list("amount_nanos", flat=True)
    assert sorted(entries) == [-usd_to_nanos("0.8"), usd_to_nanos("10.8")]
    page.reload()
    expect(page.locator("#balance")).to_have_text("$10.00")


def test_a_declined_card_buys_nothing(customer: Customer) -> None:
    page = customer.page
    pay(page, DECLINED_CARD)

    expect(page.locator("#pay-result")).to_have_text("Payment failed: Your card was declined.")
    expect(page.locator("#pay-button")).to_be_enabled()  # free to try another card
    purchase = CreditPurchase.objects.get(wallet__user=customer.user)
    assert (purchase.status, purchase.failure_message) == (
        CreditPurchase.Status.FAILED,
        "Your card was declined.",
    )
    assert Wallet.objects.get(user=customer.user).balance_nanos == 0
    page.reload()
    expect(page.locator("#balance")).to_have_text("$0.00")
    assert table_rows(page, "#purchases") == [
        ["$10.00", "$0.80", "$10.80", "Failed: Your card was declined."]
    ]
    expect(page.locator("#ledger")).to_contain_text("No transactions yet.")


def test_a_saved_card_is_offered_for_auto_top_up(customer: Customer) -> None:
    page = customer.page
    pay(page, GOOD_CARD, save_card=True)
    expect(page.locator("#pay-result")).to_contain_text("Payment succeeded")
    expect(page.locator("#balance")).to_have_text("$10.00")  # after the page's own reload

    page.check("#id_enabled")
    page.fill("#id_threshold_usd", "5")
    page.fill("#id_amount_usd", "20")
    page.get_by_role("button", name="Save auto top-up").click()

    expect(page.get_by_text("Auto top-up saved.")).to_be_visible()
    expect(page.locator("p", has_text="Saved card:")).to_have_text("Saved card: visa 4242")
    config = AutoTopUp.objects.get(wallet__user=customer.user)
    assert config.enabled
    assert (config.threshold_nanos, config.amount_nanos) == (usd_to_nanos(5), usd_to_nanos(20))
