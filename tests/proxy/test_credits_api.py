"""`GET /api/v1/credits` stays in step with the wallet through grants and requests of every
kind: total_credits - total_usage is the balance. (Its 401 and one request's totals are
covered in test_chat_errors.py.)"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from billing.money import usd_to_nanos
from billing.services import credits_grant
from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"


def nanos(value: Any) -> int:
    """A JSON number of USD (parsed as a float; its shortest repr is the decimal sent)."""
    assert isinstance(value, int | float)
    assert not isinstance(value, bool)
    return usd_to_nanos(Decimal(repr(value)))


def chat(gateway_url: str, key: str, text: str, **extra: object) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        content=orjson.dumps(body),
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def cost_of(response: httpx.Response) -> int:
    """What a successful response (JSON or stream) reports it cost."""
    assert response.status_code == 200, response.text
    if not response.headers["content-type"].startswith("text/event-stream"):
        return nanos(response.json()["usage"]["cost"])
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return nanos(orjson.loads(lines[-2])["usage"]["cost"])


def credits(gateway_url: str, key: str) -> tuple[int, int]:
    response = httpx.get(
        f"{gateway_url}/api/v1/credits", headers={"authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"total_credits", "total_usage"}
    return nanos(data["total_credits"]), nanos(data["total_usage"])


def test_credits_minus_usage_is_the_balance_after_grants_and_requests(
    gateway_url, make_account, wallet_balance
):
    alice, bob = make_account("2"), make_account("1")
    user = User.objects.get(pk=alice.user_id)
    granted, used = usd_to_nanos("2"), 0

    def grant(usd: str) -> int:
        credits_grant(user=user, amount_nanos=usd_to_nanos(usd))
        return usd_to_nanos(usd)

    def failed_request() -> int:
        response = chat(gateway_url, alice.api_key, "[sim:status=500]")
        assert response.status_code == 502, response.text
        return 0  # a failed request costs nothing

    def other_user_request() -> int:
        assert cost_of(chat(gateway_url, bob.api_key, "not alice")) > 0
        return 0

    steps: list[tuple[str, Callable[[], tuple[int, int]]]] = [
        ("request", lambda: (0, cost_of(chat(gateway_url, alice.api_key, "hi")))),
        ("grant", lambda: (grant("0.5"), 0)),
        ("stream", lambda: (0, cost_of(chat(gateway_url, alice.api_key, "go on", stream=True)))),
        ("odd grant", lambda: (grant("0.000000123"), 0)),
        ("truncated", lambda: (0, cost_of(chat(gateway_url, alice.api_key, "more", max_tokens=2)))),
        ("failed", lambda: (0, failed_request())),
        ("someone else", lambda: (0, other_user_request())),
        ("request", lambda: (0, cost_of(chat(gateway_url, alice.api_key, "last one")))),
    ]

    for name, step in steps:
        credit, cost = step()
        granted, used = granted + credit, used + cost
        total_credits, total_usage = credits(gateway_url, alice.api_key)
        assert (total_credits, total_usage) == (granted, used), name
        assert total_credits - total_usage == wallet_balance(alice.user_id), name

    assert used > 0
    assert granted == usd_to_nanos("2.500000123")
    bob_credits, bob_usage = credits(gateway_url, bob.api_key)
    assert bob_credits == usd_to_nanos("1")
    assert bob_credits - bob_usage == wallet_balance(bob.user_id) < usd_to_nanos("1")


def test_a_wallet_never_credited_reports_zeros(gateway_url, make_account, wallet_balance):
    carol = make_account("0")
    assert credits(gateway_url, carol.api_key) == (0, 0) == (wallet_balance(carol.user_id), 0)
