"""A key's own credit limit: it stops that key (not the wallet's other keys) with a 402, is
reported by `GET /api/v1/key`, and starts afresh with each period of its reset."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from django.conf import settings
from django.db.models import Sum

from billing.models import Generation, Hold, LedgerEntry
from billing.money import Prices, Usage, usage_charge, usd_to_nanos
from billing.services import wallet_credit
from marketplace.accounts.models import User
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import period_start
from marketplace.keys.services import api_key_create
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responder import plan_completion, prompt_tokens
from tests.live import cheapest_endpoint, request_hold_nanos

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Count to three."}]
MAX_TOKENS = 50  # more than the simulated reply, so every answer is whole and costs the same
BODY = orjson.dumps({"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS})


def nanos(value: Any) -> int:
    """A JSON number of USD (parsed as a float; its shortest repr is the decimal sent)."""
    assert isinstance(value, int | float)
    assert not isinstance(value, bool)
    return usd_to_nanos(Decimal(repr(value)))


def chat(gateway_url: str, key: str, body: bytes = BODY) -> httpx.Response:
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def key_info(gateway_url: str, key: str) -> dict[str, Any]:
    response = httpx.get(
        f"{gateway_url}/api/v1/key", headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def key_limit_refusal(response: httpx.Response) -> str:
    assert response.status_code == 402, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == 402
    assert error["metadata"] == {"limit_source": "key_limit"}
    assert isinstance(error["message"], str)
    return str(error["message"])


def add_key(user_id: int, *, limit_nanos: int | None, limit_reset: str = "") -> tuple[ApiKey, str]:
    return api_key_create(
        user=User.objects.get(pk=user_id),
        name="limited",
        limit_nanos=limit_nanos,
        limit_reset=limit_reset,
    )


def pricing() -> tuple[Prices, int]:
    """The prices and fee (basis points) of the endpoint MODEL is routed to."""
    endpoint = cheapest_endpoint(MODEL)
    prices = Prices(
        endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok, endpoint.request_usd
    )
    own_fee = endpoint.provider.inference_fee_bps
    return prices, settings.INFERENCE_FEE_BPS if own_fee is None else own_fee


def hold_of(body: bytes) -> int:
    return request_hold_nanos(MODEL, body=body, max_tokens=MAX_TOKENS)


def hold_and_charge() -> tuple[int, int]:
    """What one request of BODY holds, and what it is charged (the simulator is deterministic)."""
    endpoint = cheapest_endpoint(MODEL)
    prices, fee_bps = pricing()
    hold = hold_of(BODY)
    simulated = provider_by_slug(endpoint.provider.slug)
    assert simulated is not None
    planned = plan_completion(MESSAGES, simulated, MAX_TOKENS)
    assert planned.finish_reason == "stop"
    usage = Usage(prompt_tokens(MESSAGES), planned.completion_tokens)
    charge = usage_charge(usage, prices, fee_bps=fee_bps).total_nanos
    assert 0 < charge < hold
    return hold, charge


def charged_to(key: ApiKey) -> int:
    total = Generation.objects.filter(api_key=key).aggregate(total=Sum("cost_nanos"))["total"]
    return int(total or 0)


def test_a_key_limit_stops_that_key_but_not_the_wallets_other_keys(
    gateway_url, make_account, wallet_balance
):
    alice = make_account("1")
    hold, charge = hold_and_charge()
    # Room for three requests: before the fourth, what is left is less than its hold.
    limit = hold + 2 * charge + charge // 2
    limited, limited_key = add_key(alice.user_id, limit_nanos=limit)

    statuses = []
    costs = []
    for _ in range(6):
        response = chat(gateway_url, limited_key)
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
        costs.append(nanos(response.json()["usage"]["cost"]))

    assert statuses == [200, 200, 200, 402]
    assert costs == [charge] * 3
    message = key_limit_refusal(chat(gateway_url, limited_key))
    assert "credit limit" in message
    # The wallet had plenty: the key's own limit refused, and the wallet's other key still works.
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - 3 * charge
    assert chat(gateway_url, alice.api_key).status_code == 200
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - 4 * charge
    limited.refresh_from_db()
    assert (limited.usage_nanos, limited.period_usage_nanos, limited.reserved_nanos) == (
        3 * charge,
        3 * charge,
        0,
    )


def test_key_info_reports_a_limited_keys_limit_and_usage(gateway_url, make_account):
    alice = make_account("1")
    hold, charge = hold_and_charge()
    limit = hold + 2 * charge + charge // 2
    limited, limited_key = add_key(alice.user_id, limit_nanos=limit)
    fresh = key_info(gateway_url, limited_key)
    assert nanos(fresh["limit"]) == limit
    assert nanos(fresh["limit_remaining"]) == limit
    assert nanos(fresh["usage"]) == 0

    statuses = [chat(gateway_url, limited_key).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 402]
    assert chat(gateway_url, alice.api_key).status_code == 200  # not this key's usage

    data = key_info(gateway_url, limited_key)

    spent = charged_to(limited)
    assert spent == 3 * charge
    assert data["label"] == f"{limited.prefix}…"
    assert limited_key.startswith(limited.prefix)
    assert nanos(data["limit"]) == limit
    assert data["limit_reset"] is None
    assert nanos(data["limit_remaining"]) == limit - spent
    assert nanos(data["usage"]) == spent
    assert [nanos(data[f"usage_{period}"]) for period in ("daily", "weekly", "monthly")] == [
        spent
    ] * 3
    assert data["is_free_tier"] is True
    assert data["is_management_key"] is False


def test_key_info_of_an_unlimited_key_has_no_limit(gateway_url, make_account):
    alice = make_account("1")
    first = chat(gateway_url, alice.api_key)
    second = chat(gateway_url, alice.api_key)
    assert (first.status_code, second.status_code) == (200, 200)
    key = ApiKey.objects.get(user_id=alice.user_id)

    data = key_info(gateway_url, alice.api_key)

    spent = nanos(first.json()["usage"]["cost"]) + nanos(second.json()["usage"]["cost"])
    assert spent == charged_to(key) > 0
    assert data["limit"] is None
    assert data["limit_remaining"] is None
    assert data["limit_reset"] is None
    assert data["label"] == f"{key.prefix}…"
    assert nanos(data["usage"]) == spent
    assert [nanos(data[f"usage_{period}"]) for period in ("daily", "weekly", "monthly")] == [
        spent
    ] * 3
    assert data["is_free_tier"] is True

    # Buying credit (a top-up, not a grant) ends the free tier.
    wallet_credit(
        user=User.objects.get(pk=alice.user_id),
        amount_nanos=usd_to_nanos("10"),
        kind=LedgerEntry.Kind.TOPUP,
        idempotency_key=f"topup:test-{alice.user_id}",
    )
    assert key_info(gateway_url, alice.api_key)["is_free_tier"] is False


def test_a_daily_limit_spent_yesterday_can_be_spent_again_today(gateway_url, make_account):
    alice = make_account("1")
    hold, charge = hold_and_charge()
    limit = hold + charge // 2  # one request a day
    limited, limited_key = add_key(alice.user_id, limit_nanos=limit, limit_reset="daily")
    today = period_start("daily", datetime.now(UTC))
    yesterday = today - timedelta(days=1)

    # The whole limit spent today: refused until tomorrow.
    ApiKey.objects.filter(pk=limited.pk).update(
        period_start=today, period_usage_nanos=limit, usage_nanos=limit
    )
    assert "resets daily" in key_limit_refusal(chat(gateway_url, limited_key))
    assert nanos(key_info(gateway_url, limited_key)["limit_remaining"]) == 0

    # The same spending, but yesterday: today's period starts from nothing.
    ApiKey.objects.filter(pk=limited.pk).update(
        period_start=yesterday, period_usage_nanos=limit, usage_nanos=limit
    )
    before = key_info(gateway_url, limited_key)
    assert before["limit_reset"] == "daily"
    assert nanos(before["limit_remaining"]) == limit

    response = chat(gateway_url, limited_key)

    assert response.status_code == 200, response.text
    assert nanos(response.json()["usage"]["cost"]) == charge
    limited.refresh_from_db()
    assert limited.period_start == today
    assert (limited.period_usage_nanos, limited.usage_nanos, limited.reserved_nanos) == (
        charge,
        limit + charge,
        0,
    )
    after = key_info(gateway_url, limited_key)
    assert nanos(after["limit_remaining"]) == limit - charge
    assert nanos(after["usage"]) == limit + charge
    assert nanos(after["usage_daily"]) == charge
    # What is left of today's limit is less than a request's hold.
    key_limit_refusal(chat(gateway_url, limited_key))


def test_money_held_for_a_request_in_flight_counts_against_the_limit(gateway_url, make_account):
    alice = make_account("1")
    hold, charge = hold_and_charge()
    slow_messages = [{"role": "user", "content": "Count to three. [sim:slow=3000]"}]
    slow_body = orjson.dumps({"model": MODEL, "messages": slow_messages, "max_tokens": MAX_TOKENS})
    slow_hold = hold_of(slow_body)
    # Both requests fit one after the other (the first is charged far less than it holds),
    # but not both at once.
    limit = slow_hold + hold - 1
    limited, limited_key = add_key(alice.user_id, limit_nanos=limit, limit_reset="monthly")

    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(chat, gateway_url, limited_key, slow_body)
        deadline = time.monotonic() + 10
        while not Hold.objects.filter(api_key=limited, status="open").exists():
            assert time.monotonic() < deadline, "the slow request never took its hold"
            time.sleep(0.01)

        in_flight = key_info(gateway_url, limited_key)
        refused = chat(gateway_url, limited_key)
        slow_response = slow.result(timeout=30)

    assert in_flight["limit_reset"] == "monthly"
    assert nanos(in_flight["limit_remaining"]) == limit - slow_hold
    assert nanos(in_flight["usage"]) == 0
    key_limit_refusal(refused)
    assert slow_response.status_code == 200, slow_response.text
    slow_cost = nanos(slow_response.json()["usage"]["cost"])
    assert 0 < slow_cost < slow_hold
    settled = key_info(gateway_url, limited_key)
    assert nanos(settled["limit_remaining"]) == limit - slow_cost
    assert chat(gateway_url, limited_key).status_code == 200
    assert nanos(key_info(gateway_url, limited_key)["usage"]) == slow_cost + charge
