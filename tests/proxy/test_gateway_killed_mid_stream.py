"""A gateway process killed mid-stream never settles: its hold keeps the money reserved until
it expires, and the sweep then gives the money back; nothing is charged."""

import signal
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from billing.models import Generation, Hold, LedgerEntry, Wallet
from billing.money import usd_to_nanos
from billing.selectors import ledger_mismatches
from billing.services import holds_expire
from tests.live import eventually, read_events, simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
HOLD_TTL_S = 2


def test_a_killed_gateways_hold_expires_and_nothing_is_charged(
    start_gateway, live_catalog, simulator_url, make_account
):
    gateway = start_gateway(HOLD_TTL_S=str(HOLD_TTL_S))
    alice = make_account("1")
    abandoned_before = simulator_stats(simulator_url)["abandoned_streams"]
    body = {
        "model": MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": "[sim:delay=200] " + "tell me more " * 20}],
    }

    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST",
            f"{gateway.url}/api/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {alice.api_key}"},
        ) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()
        read_events(lines, 2)  # the role chunk and the first token
        gateway.server.process.send_signal(signal.SIGKILL)
        assert gateway.server.process.wait(timeout=10) == -signal.SIGKILL
        with pytest.raises(httpx.TransportError):
            for _ in lines:
                pass

    hold = Hold.objects.get(wallet__user_id=alice.user_id)
    wallet = Wallet.objects.get(user_id=alice.user_id)
    assert hold.status == Hold.Status.OPEN
    assert wallet.reserved_nanos == hold.amount_nanos > 0
    assert hold.expires_at - hold.created_at == timedelta(seconds=HOLD_TTL_S)
    assert not Generation.objects.filter(user_id=alice.user_id).exists()
    # The provider's stream was dropped with the process.
    eventually(
        lambda: simulator_stats(simulator_url)["abandoned_streams"] == abandoned_before + 1,
        what="the simulator saw the upstream stream abandoned",
    )
    assert holds_expire(now=hold.expires_at) == 0  # not before it is due

    expired = eventually(
        lambda: holds_expire(now=timezone.now()), timeout_s=HOLD_TTL_S + 5, what="hold expired"
    )
    assert expired == 1

    hold.refresh_from_db()
    wallet.refresh_from_db()
    assert (hold.status, hold.charge_nanos) == (Hold.Status.EXPIRED, 0)
    assert hold.closed_at is not None
    assert wallet.reserved_nanos == 0
    assert wallet.balance_nanos == usd_to_nanos("1")
    assert list(LedgerEntry.objects.filter(wallet=wallet).values_list("kind", flat=True)) == [
        "grant"
    ]
    assert ledger_mismatches() == []
