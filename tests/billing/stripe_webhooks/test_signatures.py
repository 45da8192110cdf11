"""Signatures: a signed event is handled; a tampered, foreign, unsigned, stale or non-JSON one
is refused, and only POST is accepted."""

import json
import time

import pytest
from django.test import Client

from billing.models import CreditPurchase, StripeEvent
from marketplace.accounts.models import User
from tests.billing.stripe_webhooks.support import (
    USD,
    WEBHOOK,
    balance,
    deliver,
    post,
    signature,
    signed,
)

pytestmark = pytest.mark.django_db(transaction=True)


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
