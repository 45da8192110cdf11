"""Bring your own key against a live gateway and live simulated providers: the user's key is
tried first (even ahead of provider.order) and reaches the provider; only the BYOK fee is
charged; a failing key falls back to the shared endpoints unless it is "always use"; the key
never shows in logs, errors, responses or the database."""

import hashlib
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from django.db import connection

from billing.models import Generation, Hold, LedgerEntry
from billing.money import Prices, Usage, fee_nanos, usage_charge
from catalog.models import Provider
from marketplace.keys.models import ProviderKey
from marketplace.keys.provider_keys import provider_key_set
from tests.live import endpoint_fee_bps, paid_endpoints, simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"  # served by nimbus (cheapest), then quanta
CHEAPEST, OTHER = "nimbus", "quanta"
SECRET = "sk-user-own-key-7f3a9c2e5b1d4f80QZ9K"
BYOK_FEE_BPS = 500


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def chat(gateway_url: str, key: str, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], **extra}
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        content=orjson.dumps(body),
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def store_key(user_id: int, provider: str, *, always_use: bool = False, key: str = SECRET) -> None:
    provider_key_set(
        user_id=user_id,
        provider=Provider.objects.get(slug=provider),
        api_key=key,
        always_use=always_use,
    )


def charge_at(provider: str, usage: Usage) -> int:
    endpoint = next(e for e in paid_endpoints(MODEL) if e.provider.slug == provider)
    prices = Prices(endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok)
    return usage_charge(usage, prices, fee_bps=endpoint_fee_bps(endpoint)).total_nanos


def usage_of(answer: dict[str, Any]) -> Usage:
    return Usage(answer["usage"]["prompt_tokens"], answer["usage"]["completion_tokens"])


def last_auth(simulator_url: str, provider: str) -> str:
    return str(simulator_stats(simulator_url)["auth_sha256"][provider][-1])


def test_the_users_key_is_used_first_and_only_the_fee_is_charged(
    gateway_url, make_account, simulator_url
):
    alice = make_account()
    store_key(alice.user_id, OTHER)
    # provider.order asks for the cheapest provider: the user's key still goes first.
    response = chat(gateway_url, alice.api_key, provider={"order": [CHEAPEST]})
    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == OTHER
    answer = response.json()
    assert answer["usage"]["is_byok"] is True
    assert last_auth(simulator_url, OTHER) == sha256(SECRET)
    fee = fee_nanos(charge_at(OTHER, usage_of(answer)), BYOK_FEE_BPS)
    assert fee > 0
    generation = Generation.objects.get(id=answer["id"])
    assert (generation.is_byok, generation.cost_nanos) == (True, fee)
    assert generation.provider_cost_nanos == 0
    assert Hold.objects.get(id=answer["id"]).charge_nanos == fee
    stats = httpx.get(
        f"{gateway_url}/api/v1/generation",
        params={"id": answer["id"]},
        headers={"authorization": f"Bearer {alice.api_key}"},
    )
    assert stats.json()["data"]["is_byok"] is True
    entries = LedgerEntry.objects.filter(idempotency_key=f"usage:{answer['id']}")
    assert [e.amount_nanos for e in entries] == [-fee]


def test_an_always_use_key_holds_only_the_fee(gateway_url, make_account):
    # The balance covers the BYOK fee's bound, not the token price's: only the key can serve.
    carol, dave = make_account("0.0002"), make_account("0.0002")
    store_key(carol.user_id, OTHER, always_use=True)
    assert chat(gateway_url, dave.api_key, max_tokens=2000).status_code == 402
    response = chat(gateway_url, carol.api_key, max_tokens=2000)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["is_byok"] is True


def test_a_failing_key_falls_back_to_the_shared_endpoints_at_their_price(
    gateway_url, make_account, sim_faults
):
    alice = make_account()
    store_key(alice.user_id, OTHER)
    sim_faults(OTHER, "http_500", count=1)
    response = chat(gateway_url, alice.api_key)
    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == CHEAPEST
    answer = response.json()
    assert answer["usage"]["is_byok"] is False
    generation = Generation.objects.get(id=answer["id"])
    assert generation.is_byok is False
    assert generation.cost_nanos == charge_at(CHEAPEST, usage_of(answer))


def test_always_use_my_key_never_falls_back(gateway_url, make_account, sim_faults):
    alice = make_account()
    store_key(alice.user_id, OTHER, always_use=True)
    sim_faults(OTHER, "http_500", count=1)
    response = chat(gateway_url, alice.api_key)
    assert response.status_code == 502, response.text
    assert SECRET not in response.text
    assert not Generation.objects.filter(user_id=alice.user_id, cost_nanos__gt=0).exists()


def test_another_users_key_is_never_used(gateway_url, make_account, simulator_url):
    alice, bob = make_account(), make_account()
    store_key(alice.user_id, CHEAPEST)
    response = chat(gateway_url, bob.api_key)
    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == CHEAPEST
    assert response.json()["usage"]["is_byok"] is False
    assert last_auth(simulator_url, CHEAPEST) != sha256(SECRET)


def _text_rows(table: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (model table names)
        return list(cursor.fetchall())


def test_the_key_is_never_in_logs_errors_or_the_database(
    gateway_url, make_account, sim_faults, logs_dir: Path
):
    alice = make_account()
    store_key(alice.user_id, OTHER, always_use=True)
    ok = chat(gateway_url, alice.api_key)
    sim_faults(OTHER, "http_500", count=1)
    failed = chat(gateway_url, alice.api_key, stream=True)
    assert ok.status_code == 200
    assert SECRET not in ok.text
    assert SECRET not in failed.text
    stored = ProviderKey.objects.get(user_id=alice.user_id)
    assert stored.last4 == SECRET[-4:]
    tables = [ProviderKey, Generation, Hold, LedgerEntry]
    for model in tables:
        for row in _text_rows(model._meta.db_table):
            assert not any(SECRET in str(value) for value in row), model
    for log in logs_dir.iterdir():
        assert SECRET not in log.read_text(errors="replace"), log.name
