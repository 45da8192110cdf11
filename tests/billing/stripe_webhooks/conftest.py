"""The Stripe webhook fixtures: the test's own localstripe client, alice, and an event awaiting
its handling."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from django.test import override_settings

from marketplace.accounts.models import User
from tests.billing.stripe_webhooks.support import (
    SECRET,
    intent_of,
    paid_but_never_returned,
    stripe_event,
)


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


@pytest.fixture
def awaiting(stripe_client: stripe.StripeClient, alice: User) -> dict[str, Any]:
    """A `payment_intent.succeeded` event whose handling credits alice $10."""
    purchase = paid_but_never_returned(stripe_client, alice, "10")
    return stripe_event("payment_intent.succeeded", intent_of(stripe_client, purchase))
