"""Two gateway processes, one wallet funded for exactly K holds, 5K requests at once.

The database's hold trigger is the only thing between concurrent requests and an overdrawn
wallet: exactly K may be forwarded, whichever gateway process they reach.
"""

import asyncio

import httpx
import orjson
import pytest
from django.conf import settings

from billing.models import Generation, Hold, LedgerEntry, Wallet
from billing.money import Prices, Usage, format_usd, hold_bound_nanos, usage_charge
from billing.selectors import ledger_mismatches
from catalog.selectors import routable_endpoints
from proxy.simulator.responder import prompt_tokens
from tests.live import simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
K = 8
N = 5 * K
MAX_TOKENS = 400
# Each punctuation mark is one token, so the hold (one prompt token per body byte) is close
# to the charge; the reply echoes them, so it is cut at exactly MAX_TOKENS. The slow first
# token keeps every admitted request's hold open while the others try theirs.
MESSAGES = [{"role": "user", "content": "[sim:slow=400] " + "." * MAX_TOKENS}]
# One provider only, so the hold is that provider's bound and not a pricier fallback's.
PROVIDER = "nimbus"
BODY = orjson.dumps({"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS,
                     "provider": {"only": [PROVIDER]}})  # fmt: skip


def prices_and_fee() -> tuple[Prices, int]:
    endpoint = next(e for e in routable_endpoints()[MODEL] if e.provider_slug == PROVIDER)
    prices = Prices(
        endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok, endpoint.request_usd
    )
    own_fee = endpoint.inference_fee_bps
    return prices, settings.INFERENCE_FEE_BPS if own_fee is None else own_fee


async def fire(urls: list[str], api_key: str) -> list[tuple[str, httpx.Response]]:
    """N requests at once, alternating between the gateways."""
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def one(url: str) -> tuple[str, httpx.Response]:
            return url, await client.post(f"{url}/api/v1/chat/completions", content=BODY)

        return await asyncio.gather(*(one(urls[i % len(urls)]) for i in range(N)))


def test_concurrent_requests_on_two_gateways_never_overdraw_one_wallet(
    gateway_url, start_gateway, simulator_url, make_account, wallet_balance
):
    prices, fee_bps = prices_and_fee()
    hold = hold_bound_nanos(prompt_tokens_bound=len(BODY), completion_tokens_bound=MAX_TOKENS,
                            prices=prices, fee_bps=fee_bps)  # fmt: skip
    charge = usage_charge(Usage(prompt_tokens(MESSAGES), MAX_TOKENS), prices, fee_bps=fee_bps)
    # What the K admitted requests leave unspent cannot pay for one more hold, so exactly K are
    # admitted however the requests interleave with the settlements.
    assert 0 < K * (hold - charge.total_nanos) < hold
    alice = make_account(format_usd(K * hold))
    other = start_gateway()
    requests_before = simulator_stats(simulator_url)["chat_requests"]

    answers = asyncio.run(fire([gateway_url, other.url], alice.api_key))

    statuses = sorted(response.status_code for _, response in answers)
    assert statuses == [200] * K + [402] * (N - K), {r.text for _, r in answers}
    for _, response in answers:
        if response.status_code == 402:
            assert response.headers["content-type"] == "application/json"
            error = response.json()["error"]
            assert error["code"] == 402
            assert error["message"]
            assert error["metadata"]["limit_source"] == "credits"
        else:
            assert response.json()["usage"]["completion_tokens"] == MAX_TOKENS
    assert simulator_stats(simulator_url)["chat_requests"] == requests_before + K

    wallet = Wallet.objects.get(user_id=alice.user_id)
    assert wallet.reserved_nanos == 0
    assert wallet.balance_nanos == K * (hold - charge.total_nanos) >= 0
    assert wallet_balance(alice.user_id) == wallet.balance_nanos
    holds = Hold.objects.filter(wallet=wallet)
    assert sorted(holds.values_list("status", flat=True)) == ["settled"] * K
    assert set(holds.values_list("amount_nanos", "charge_nanos")) == {(hold, charge.total_nanos)}
    assert Generation.objects.filter(user_id=alice.user_id).count() == K
    assert LedgerEntry.objects.filter(wallet=wallet, kind="usage").count() == K
    assert ledger_mismatches() == []
