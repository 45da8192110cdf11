"""A client that hangs up mid-stream stops the upstream and pays for what was generated."""

from io import StringIO

import httpx
import orjson
import pytest
from django.conf import settings
from django.core.management import call_command

from billing.models import Generation, Hold, LedgerEntry, Wallet
from billing.money import Prices, Usage, usage_charge, usd_to_nanos
from catalog.selectors import routable_endpoints
from proxy.chat_request import tokens_estimate
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responder import plan_completion
from tests.live import eventually, read_events, simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
# 100 ms between tokens: the whole reply (~70 tokens) would take about 7 s.
MESSAGES = [{"role": "user", "content": "[sim:delay=100] " + "please keep talking " * 20}]
BODY = orjson.dumps({"model": MODEL, "messages": MESSAGES, "stream": True})


def test_a_client_hanging_up_mid_stream_is_billed_for_what_was_generated(
    gateway_url, simulator_url, make_account
):
    alice = make_account("1")
    abandoned_before = simulator_stats(simulator_url)["abandoned_streams"]
    endpoint = routable_endpoints()[MODEL][0]
    simulated = provider_by_slug(endpoint.provider_slug)
    assert simulated is not None
    full_reply_tokens = plan_completion(MESSAGES, simulated, None).completion_tokens

    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST",
            f"{gateway_url}/api/v1/chat/completions",
            content=BODY,
            headers={"authorization": f"Bearer {alice.api_key}"},
        ) as response,
    ):
        assert response.status_code == 200
        generation_id = response.headers["x-generation-id"]
        lines = response.iter_lines()
        read_events(lines, 3)  # the role chunk and two tokens
    # Leaving the block unread closes the connection.

    generation = eventually(
        lambda: Generation.objects.filter(id=generation_id).first(),
        what="the cancelled stream is settled",
    )
    assert generation.streamed
    assert generation.cancelled
    assert generation.usage_estimated
    assert generation.prompt_tokens == tokens_estimate(len(BODY))
    assert 0 < generation.completion_tokens < full_reply_tokens
    prices = Prices(
        endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok, endpoint.request_usd
    )
    own_fee = endpoint.inference_fee_bps
    expected = usage_charge(
        Usage(generation.prompt_tokens, generation.completion_tokens),
        prices,
        fee_bps=settings.INFERENCE_FEE_BPS if own_fee is None else own_fee,
    )
    assert generation.cost_nanos == expected.total_nanos > 0

    entry = LedgerEntry.objects.get(idempotency_key=f"usage:{generation_id}")
    assert (entry.kind, entry.amount_nanos) == ("usage", -generation.cost_nanos)
    hold = Hold.objects.get(id=generation_id)
    assert (hold.status, hold.charge_nanos) == (Hold.Status.SETTLED, generation.cost_nanos)
    wallet = Wallet.objects.get(user_id=alice.user_id)
    assert (wallet.balance_nanos, wallet.reserved_nanos) == (
        usd_to_nanos("1") - generation.cost_nanos,
        0,
    )
    # The gateway closed its upstream stream instead of reading it to the end.
    eventually(
        lambda: simulator_stats(simulator_url)["abandoned_streams"] == abandoned_before + 1,
        what="the simulator saw the upstream stream abandoned",
    )
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "ledger check passed" in out.getvalue()
