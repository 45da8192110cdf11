"""Wallet leases on live gateways: a well-funded key's requests are held against one slice of
the wallet and each recorded with its generation; the lease is charged exactly what its
generations cost when it closes (idle, or swept after its process died). Thin wallets keep a
hold per request."""

import asyncio
import signal
from datetime import timedelta

import httpx
import pytest
from django.db.models import Sum

from billing.leases import LEASE_PREFIX
from billing.models import Generation, GenerationDay, Hold, LedgerEntry, Wallet
from billing.money import usd_to_nanos
from billing.selectors import ledger_mismatches
from billing.services import holds_expire
from tests.live import eventually, read_events

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
LEASES = {"LEASE_IDLE_S": "0.3", "LEASE_MIN_AVAILABLE_USD": "50", "LEASE_MAX_USD": "5"}


def ask(url: str, key: str, text: str = "Hello", **body: object) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": text}], **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def charged(user_id: int) -> int:
    total = Generation.objects.filter(user_id=user_id).aggregate(s=Sum("cost_nanos"))["s"]
    return int(total or 0)


def rolled_up(user_id: int) -> tuple[int, int]:
    """(requests, cost) in the user's daily roll-up."""
    sums = GenerationDay.objects.filter(user_id=user_id).aggregate(
        requests=Sum("requests"), cost=Sum("cost_nanos")
    )
    return int(sums["requests"] or 0), int(sums["cost"] or 0)


def leases_of(user_id: int) -> list[Hold]:
    return list(Hold.objects.filter(wallet__user_id=user_id, id__startswith=LEASE_PREFIX))


def closed(user_id: int) -> bool:
    holds = Hold.objects.filter(wallet__user_id=user_id)
    return holds.exists() and not holds.filter(status=Hold.Status.OPEN).exists()


def test_a_funded_keys_requests_share_one_lease_charged_when_it_closes(
    start_gateway, live_catalog, make_account, wallet_balance
):
    gateway = start_gateway(**LEASES)
    alice = make_account("100")

    for _ in range(3):
        assert ask(gateway.url, alice.api_key).status_code == 200
    streamed = ask(gateway.url, alice.api_key, stream=True)
    assert streamed.status_code == 200
    assert "data: [DONE]" in streamed.text

    (lease,) = leases_of(alice.user_id)
    # A sixteenth of the $100 available would be more than the largest slice: $5.
    assert lease.amount_nanos == usd_to_nanos("5")
    generations = Generation.objects.filter(user_id=alice.user_id)
    assert generations.count() == 4
    assert set(generations.values_list("lease_id", flat=True)) == {lease.id}
    assert not Hold.objects.filter(id__in=generations.values("id")).exists()
    assert rolled_up(alice.user_id) == (0, 0)  # counted when their lease is settled

    eventually(lambda: closed(alice.user_id), what="the idle lease closed")
    lease.refresh_from_db()
    cost = charged(alice.user_id)
    assert cost > 0
    assert (lease.status, lease.charge_nanos) == (Hold.Status.SETTLED, cost)
    entry = LedgerEntry.objects.get(idempotency_key=f"usage:{lease.id}")
    assert entry.amount_nanos == -cost
    wallet = Wallet.objects.get(user_id=alice.user_id)
    assert (wallet.balance_nanos, wallet.reserved_nanos) == (usd_to_nanos("100") - cost, 0)
    assert wallet_balance(alice.user_id) == usd_to_nanos("100") - cost
    assert rolled_up(alice.user_id) == (4, cost)
    assert ledger_mismatches() == []


def test_a_thin_wallet_holds_each_request_on_its_own(start_gateway, live_catalog, make_account):
    gateway = start_gateway(**LEASES)
    bob = make_account("10")  # below the $50 a lease needs

    assert ask(gateway.url, bob.api_key).status_code == 200

    assert leases_of(bob.user_id) == []
    generation = Generation.objects.get(user_id=bob.user_id)
    assert generation.lease_id is None
    hold = Hold.objects.get(id=generation.id)
    assert (hold.status, hold.charge_nanos) == (Hold.Status.SETTLED, generation.cost_nanos)


def test_a_killed_gateways_lease_is_charged_what_its_generations_cost(
    start_gateway, live_catalog, make_account
):
    gateway = start_gateway(**{**LEASES, "LEASE_IDLE_S": "60"})
    carol = make_account("100")
    for _ in range(2):
        assert ask(gateway.url, carol.api_key).status_code == 200
    body = {
        "model": MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": "[sim:delay=200] " + "tell me more " * 20}],
    }
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST", f"{gateway.url}/api/v1/chat/completions", json=body,
            headers={"authorization": f"Bearer {carol.api_key}"},
        ) as response,
    ):  # fmt: skip
        read_events(response.iter_lines(), 2)  # streaming when the process dies
        gateway.server.process.send_signal(signal.SIGKILL)
        assert gateway.server.process.wait(timeout=10) == -signal.SIGKILL

    (lease,) = leases_of(carol.user_id)
    assert lease.status == Hold.Status.OPEN
    recorded = charged(carol.user_id)
    on_lease = Generation.objects.filter(lease_id=lease.id)
    assert on_lease.filter(streamed=False, finish_reason="stop").count() == 2
    # The stream never finished: at most a cancelled record of it made it before the kill.
    assert not on_lease.filter(streamed=True, cancelled=False).exists()
    assert holds_expire(now=lease.expires_at) == 0  # not before it is due

    assert holds_expire(now=lease.expires_at + timedelta(seconds=1)) == 1

    lease.refresh_from_db()
    wallet = Wallet.objects.get(user_id=carol.user_id)
    assert (lease.status, lease.charge_nanos) == (Hold.Status.SETTLED, recorded)
    assert (wallet.balance_nanos, wallet.reserved_nanos) == (usd_to_nanos("100") - recorded, 0)
    assert rolled_up(carol.user_id) == (on_lease.count(), recorded)
    assert ledger_mismatches() == []


async def _ask_many(urls: list[str], key: str, count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(index: int) -> int:
            response = await client.post(
                f"{urls[index % len(urls)]}/api/v1/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": f"Hi {index}"}],
                      "stream": index % 3 == 0},
                headers={"Authorization": f"Bearer {key}"},
            )  # fmt: skip
            return response.status_code

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def test_two_replicas_under_load_charge_every_generation_exactly_once(
    start_gateway, live_catalog, make_account
):
    replicas = [start_gateway(**LEASES), start_gateway(**LEASES)]
    dave = make_account("60")

    statuses = asyncio.run(_ask_many([r.url for r in replicas], dave.api_key, 90))

    assert statuses == [200] * 90
    eventually(lambda: closed(dave.user_id), timeout_s=10, what="every lease closed")
    generations = Generation.objects.filter(user_id=dave.user_id)
    assert generations.count() == 90
    leases = leases_of(dave.user_id)
    assert len(leases) >= 2  # each replica held its own slice
    assert all(lease.status == Hold.Status.SETTLED for lease in leases)
    assert sum(lease.charge_nanos for lease in leases) == charged(dave.user_id)
    wallet = Wallet.objects.get(user_id=dave.user_id)
    assert wallet.balance_nanos == usd_to_nanos("60") - charged(dave.user_id)
    assert wallet.reserved_nanos == 0
    assert rolled_up(dave.user_id) == (90, charged(dave.user_id))
    assert ledger_mismatches() == []
