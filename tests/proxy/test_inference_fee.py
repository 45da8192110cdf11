"""A provider's inference markup is charged on top of its price, and recorded apart."""

from decimal import Decimal

import httpx
import pytest

from billing.models import Generation
from billing.money import Prices, Usage, usage_charge, usd_to_nanos
from catalog.models import Endpoint
from proxy.simulator.responder import prompt_tokens

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "mistralai/mistral-small"
MESSAGES = [{"role": "user", "content": "Name three rivers."}]


def test_the_user_pays_provider_cost_plus_the_providers_markup(
    gateway_url, make_account, wallet_balance
):
    endpoint = Endpoint.objects.filter(model__slug=MODEL).select_related("provider")
    cheapest = min(endpoint, key=lambda e: e.prompt_usd_per_mtok + e.completion_usd_per_mtok)
    cheapest.provider.inference_fee_bps = 1_000  # 10 %
    cheapest.provider.save()
    alice = make_account("1")

    response = httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json={"model": MODEL, "messages": MESSAGES},
        headers={"authorization": f"Bearer {alice.api_key}"},
    )

    assert response.status_code == 200
    body = response.json()
    usage = Usage(prompt_tokens(MESSAGES), body["usage"]["completion_tokens"])
    prices = Prices(cheapest.prompt_usd_per_mtok, cheapest.completion_usd_per_mtok)
    expected = usage_charge(usage, prices, fee_bps=1_000)
    assert expected.fee_nanos > 0
    paid = usd_to_nanos(Decimal(repr(body["usage"]["cost"])))
    assert paid == expected.total_nanos
    generation = Generation.objects.get(id=body["id"])
    assert (generation.cost_nanos, generation.provider_cost_nanos) == (
        expected.total_nanos,
        expected.provider_cost_nanos,
    )
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - paid
