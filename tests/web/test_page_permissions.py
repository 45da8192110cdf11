"""No page or export shows one user's payments to another: a purchase's status is 404 to
anyone but its buyer (keys and activity have their own permission tests)."""

import pytest
from django.test import Client

from billing.models import CreditPurchase
from billing.services import wallet_get_or_create
from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db


def test_a_purchase_is_visible_only_to_its_buyer(client: Client):
    alice = User.objects.create_user(email="alice@example.com", password="pw-alice-123456")
    bob = User.objects.create_user(email="bob@example.com", password="pw-bob-123456")
    purchase = CreditPurchase.objects.create(
        wallet=wallet_get_or_create(user=alice), amount_nanos=10**10, fee_nanos=8 * 10**8,
        total_cents=1080,
    )  # fmt: skip
    url = f"/dashboard/credits/purchases/{purchase.pk}"

    client.force_login(alice)
    assert client.get(url).json()["status"] == "created"
    client.force_login(bob)
    assert client.get(url).status_code == 404
    page = client.get("/dashboard/credits/").content.decode()
    assert "$10.80" not in page  # Bob's credits page lists none of Alice's purchases
    client.logout()
    assert client.get(url).status_code == 302  # to the login page
