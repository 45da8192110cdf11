"""Secrets never leak: distinctive canary values planted as a provider's shared API key, a
user's own provider key (BYOK), the Stripe secret key, the Stripe webhook secret and users'
API keys are driven through answers, provider errors (one of which quotes the key back),
timeouts, broken answers and exceptions; then the gateway's whole log, the logs of this
process, every response body and every text column of every table are searched for them."""

import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal

import httpx
import pytest
import stripe
from django.apps import apps
from django.db import models
from django.test import override_settings

from billing.purchases import checkout_pay
from catalog.models import Provider
from marketplace.accounts.models import User
from marketplace.keys.hashing import DISPLAY_PREFIX_LENGTH
from marketplace.keys.provider_keys import provider_key_set
from tests.conftest import FAILOVER_TEST_SETTINGS

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDER_KEY = "canary-shared-provider-key-3b7e19d4"
BYOK_KEY = "canary-byok-key-c51f08a2e6"
STRIPE_SECRET_KEY = "sk_test_canary_stripe_secret_9d24e6"
STRIPE_WEBHOOK_SECRET = "whsec_canary_webhook_secret_71ac3f"
KEY_ENV = "SWITCHYARD_CANARY_NIMBUS_KEY"

MODEL = "openai/gpt-4o-mini"  # nimbus (with the shared key), then quanta
# Each path a request can take: an answer, provider errors (a 401 quoting the key it was
# sent), silence past the timeouts, an answer that is not JSON, a stream cut short.
DIRECTIVES = ("", "[sim:status=500]", "[sim:status=401]", "[sim:hang]", "[sim:malformed]",
              "[sim:cut=2]")  # fmt: skip
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def chat(url: str, key: str, directive: str, *, stream: bool) -> httpx.Response:
    body = {"model": MODEL, "stream": stream, "max_tokens": 20,
            "messages": [{"role": "user", "content": f"Hello {directive}"}]}  # fmt: skip
    return httpx.post(f"{url}/api/v1/chat/completions", json=body,
                      headers={"authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip


def stripe_signature(payload: bytes, secret: str) -> str:
    at = int(time.time())
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256)
    return f"t={at},v1={mac.hexdigest()}"


def webhook(url: str, event_type: str, object_id: str, *, secret: str) -> httpx.Response:
    event = {"id": f"evt_canary_{object_id}", "object": "event", "type": event_type,
             "data": {"object": {"id": object_id, "object": "payment_intent"}}}  # fmt: skip
    payload = json.dumps(event).encode()
    headers = {"stripe-signature": stripe_signature(payload, secret),
               "content-type": "application/json"}  # fmt: skip
    return httpx.post(f"{url}/billing/webhooks/stripe", content=payload, headers=headers)


def database_texts() -> list[tuple[str, str]]:
    """(table.column, text) of every text column of every table."""
    found = []
    for model in apps.get_models():
        columns = [f.name for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        for row in model._default_manager.values_list(*columns) if columns else ():
            cells = zip(columns, row, strict=True)
            found += [(f"{model._meta.db_table}.{column}", str(value)) for column, value in cells]
    return found


def checkouts_with_the_canary_stripe_key(localstripe: str) -> None:
    """A paid and a declined purchase, made with the canary as the Stripe secret key."""
    client = stripe.StripeClient(STRIPE_SECRET_KEY, base_addresses={"api": localstripe})
    buyer = User.objects.create_user(email="buyer@example.com")
    with override_settings(STRIPE_SECRET_KEY=STRIPE_SECRET_KEY):
        for number in ("4242424242424242", "4000000000000341"):  # paid, then declined
            card = client.v1.payment_methods.create(
                {"type": "card",
                 "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
            ).id  # fmt: skip
            checkout_pay(user=buyer, amount_usd=Decimal(10), payment_method_id=card,
                         save_card=True)  # fmt: skip


def test_no_secret_reaches_a_log_an_error_body_or_the_database(
    live_catalog, start_gateway, make_account, localstripe, caplog
):
    caplog.set_level(logging.DEBUG)
    Provider.objects.filter(slug="nimbus").update(api_key_env=KEY_ENV)
    gateway = start_gateway(
        LOG_FORMAT="json", LOG_LEVEL="DEBUG", HEALTH_FAILURE_THRESHOLD=str(10**9),
        STRIPE_SECRET_KEY=STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
        **{KEY_ENV: PROVIDER_KEY}, **FAILOVER_TEST_SETTINGS,
    )  # fmt: skip
    shared, own = make_account(), make_account()  # `own` brings its own key for quanta
    provider_key_set(user_id=own.user_id, provider=Provider.objects.get(slug="quanta"),
                     api_key=BYOK_KEY, always_use=True)  # fmt: skip

    bodies = []
    for account in (shared, own):
        for directive in DIRECTIVES:
            for stream in (False, True):
                bodies.append(chat(gateway.url, account.api_key, directive, stream=stream).text)
    quoted = [body for body in bodies if "Incorrect API key provided" in body]
    assert quoted, "the providers' 401s (quoting the key) never reached a client"
    assert all("[redacted]" in body for body in quoted)
    bad = webhook(gateway.url, "payment_intent.succeeded", "pi_x", secret="whsec_wrong")
    assert bad.status_code == 400
    # Signed, for a payment Stripe does not know: its handling fails and is logged.
    failed = webhook(gateway.url, "payment_intent.succeeded", "pi_canary_missing",
                     secret=STRIPE_WEBHOOK_SECRET)  # fmt: skip
    assert failed.status_code == 503, failed.text
    bodies += [bad.text, failed.text]
    checkouts_with_the_canary_stripe_key(localstripe)
    gateway.server.stop()  # its log complete

    gateway_log = gateway.server.log()
    assert "handling Stripe event" in gateway_log  # the exception path was logged
    assert '"logger":"switchyard.request"' in gateway_log
    canaries = [PROVIDER_KEY, BYOK_KEY, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET]
    for account in (shared, own):  # a key's display prefix may show; the rest never
        canaries += [account.api_key, account.api_key[DISPLAY_PREFIX_LENGTH:]]
    places = [("gateway log", gateway_log), ("test process log", caplog.text)]
    places += [(f"response {i}", body) for i, body in enumerate(bodies)]
    places += database_texts()
    leaks = [(where, canary) for where, text in places for canary in canaries if canary in text]
    assert leaks == []
