"""A wallet that cannot cover a request's hold gets OpenRouter's 402, with the largest
max_tokens it could afford when there is one, and the refusal leaves nothing behind."""

from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from django.conf import settings

from billing.models import Generation, Hold, LedgerEntry, Wallet
from billing.money import (
    Prices,
    Usage,
    affordable_completion_tokens,
    hold_bound_nanos,
    usage_charge,
    usd_to_nanos,
)
from catalog.models import Endpoint
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responder import plan_completion, prompt_tokens
from tests.live import cheapest_endpoint

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o"
MESSAGES = [{"role": "user", "content": "Write me a very long story about a lighthouse."}]
HUGE = 16_384  # the model's whole output window: far more than $0.001 buys


def request_body(max_tokens: int | None = None, *, stream: bool = False) -> bytes:
    """The exact bytes sent. max_tokens is padded to a fixed width (JSON allows the spaces),
    so the body, and with it the hold's prompt bound, has the same length for every value."""
    payload: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "stream": stream}
    head = orjson.dumps(payload)
    if max_tokens is None:
        return head
    return head[:-1] + b',"max_tokens":' + f"{max_tokens:>5}".encode() + b"}"


def chat(gateway_url: str, key: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The error of a 402 in OpenRouter's shape."""
    assert response.status_code == 402, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert list(payload) == ["error"]
    error: dict[str, Any] = payload["error"]
    assert error["code"] == 402
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def prices_of(endpoint: Endpoint) -> Prices:
    return Prices(
        endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok, endpoint.request_usd
    )


def fee_bps_of(endpoint: Endpoint) -> int:
    own = endpoint.provider.inference_fee_bps
    return settings.INFERENCE_FEE_BPS if own is None else own


def affordable(endpoint: Endpoint, body: bytes, *, available_nanos: int, limit: int) -> int:
    return affordable_completion_tokens(
        available_nanos=available_nanos,
        prompt_tokens_bound=len(body),
        limit=limit,
        prices=prices_of(endpoint),
        fee_bps=fee_bps_of(endpoint),
    )


def assert_nothing_left_behind(user_id: int, balance_nanos: int) -> None:
    wallet = Wallet.objects.get(user_id=user_id)
    assert (wallet.balance_nanos, wallet.reserved_nanos) == (balance_nanos, 0)
    assert not Hold.objects.filter(wallet__user_id=user_id).exists()
    assert not Generation.objects.filter(user_id=user_id).exists()
    assert not LedgerEntry.objects.filter(wallet__user_id=user_id, kind="usage").exists()


def assert_afford_hint(error: dict[str, Any], can_afford: int) -> None:
    hint = f"You requested up to {HUGE} tokens, but can only afford {can_afford}."
    assert hint in error["message"]
    assert error["metadata"] == {"limit_source": "credits", "affordable_max_tokens": can_afford}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_small_wallet_is_told_the_max_tokens_it_can_afford(gateway_url, make_account, stream):
    credit = usd_to_nanos("0.001")
    alice = make_account("0.001")
    endpoint = cheapest_endpoint(MODEL)
    body = request_body(HUGE, stream=stream)
    can_afford = affordable(endpoint, body, available_nanos=credit, limit=HUGE)
    # The setup must fall between "nothing" and "everything" for the hint to mean anything.
    assert 0 < can_afford < HUGE

    error = refusal(chat(gateway_url, alice.api_key, body))

    assert_afford_hint(error, can_afford)
    assert_nothing_left_behind(alice.user_id, credit)


def test_the_affordable_max_tokens_is_exactly_the_edge(gateway_url, make_account, wallet_balance):
    credit = usd_to_nanos("0.001")
    alice = make_account("0.001")
    endpoint = cheapest_endpoint(MODEL)
    prices, fee_bps = prices_of(endpoint), fee_bps_of(endpoint)
    can_afford = affordable(endpoint, request_body(HUGE), available_nanos=credit, limit=HUGE)
    assert refusal(chat(gateway_url, alice.api_key, request_body(HUGE)))["metadata"] == {
        "limit_source": "credits",
        "affordable_max_tokens": can_afford,
    }
    # Every body below has the same length, so the edge is the same for all of them.
    assert len({len(request_body(n)) for n in (HUGE, can_afford, can_afford + 1)}) == 1
    bound = len(request_body(HUGE))

    def hold(tokens: int) -> int:
        return hold_bound_nanos(
            prompt_tokens_bound=bound, completion_tokens_bound=tokens, prices=prices,
            fee_bps=fee_bps,
        )  # fmt: skip

    assert hold(can_afford) <= credit < hold(can_afford + 1)

    # One token more than the hint is still refused, and the hint does not move.
    error = refusal(chat(gateway_url, alice.api_key, request_body(can_afford + 1)))
    assert f"up to {can_afford + 1} tokens, but can only afford {can_afford}." in error["message"]
    assert error["metadata"]["affordable_max_tokens"] == can_afford
    assert_nothing_left_behind(alice.user_id, credit)

    # The hint itself is accepted, and charged what was generated, not what was held.
    response = chat(gateway_url, alice.api_key, request_body(can_afford))

    assert response.status_code == 200, response.text
    completion = response.json()
    simulated = provider_by_slug(endpoint.provider.slug)
    assert simulated is not None
    planned = plan_completion(MESSAGES, simulated, can_afford)
    usage = completion["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (
        prompt_tokens(MESSAGES),
        planned.completion_tokens,
    )
    expected = usage_charge(
        Usage(prompt_tokens(MESSAGES), planned.completion_tokens), prices, fee_bps=fee_bps
    ).total_nanos
    assert usd_to_nanos(Decimal(repr(usage["cost"]))) == expected
    assert wallet_balance(alice.user_id) == credit - expected
    assert Hold.objects.get(id=completion["id"]).status == "settled"
    assert Wallet.objects.get(user_id=alice.user_id).reserved_nanos == 0


def test_without_max_tokens_the_whole_output_window_is_held(gateway_url, make_account):
    credit = usd_to_nanos("0.001")
    alice = make_account("0.001")
    endpoint = cheapest_endpoint(MODEL)
    body = request_body()
    can_afford = affordable(
        endpoint, body, available_nanos=credit, limit=endpoint.max_output_tokens
    )
    assert 0 < can_afford < endpoint.max_output_tokens

    error = refusal(chat(gateway_url, alice.api_key, body))

    assert (
        f"You requested up to {endpoint.max_output_tokens} tokens, "
        f"but can only afford {can_afford}."
    ) in error["message"]
    assert error["metadata"] == {"limit_source": "credits", "affordable_max_tokens": can_afford}
    assert_nothing_left_behind(alice.user_id, credit)


@pytest.mark.parametrize("usd", ["0", "0.000001"], ids=["empty", "less-than-the-prompt"])
def test_a_wallet_that_cannot_pay_even_the_prompt_gets_no_afford_hint(
    gateway_url, make_account, usd
):
    alice = make_account(usd)
    endpoint = cheapest_endpoint(MODEL)
    body = request_body(HUGE)
    # Not even zero completion tokens fit: there is no smaller max_tokens to suggest.
    assert affordable(endpoint, body, available_nanos=usd_to_nanos(usd), limit=HUGE) == 0

    error = refusal(chat(gateway_url, alice.api_key, body))

    assert "afford" not in error["message"]
    assert "credits" in error["message"]
    assert error["metadata"] == {"limit_source": "credits", "affordable_max_tokens": 0}
    assert_nothing_left_behind(alice.user_id, usd_to_nanos(usd))


@pytest.mark.parametrize(
    ("small", "large"),
    [("max_tokens", "max_completion_tokens"), ("max_completion_tokens", "max_tokens")],
)
def test_the_hold_covers_the_larger_of_two_output_bounds(
    gateway_url, make_account, wallet_balance, small, large
):
    """Providers differ on which bound wins when both are sent (OpenAI and the simulator:
    max_completion_tokens), so only the larger one bounds what the request can cost."""
    credit = usd_to_nanos("0.001")
    alice = make_account("0.001")
    endpoint = cheapest_endpoint(MODEL)
    body = orjson.dumps({"model": MODEL, "messages": MESSAGES, small: 1, large: HUGE})
    can_afford = affordable(endpoint, body, available_nanos=credit, limit=HUGE)
    assert 0 < can_afford < HUGE

    error = refusal(chat(gateway_url, alice.api_key, body))

    assert_afford_hint(error, can_afford)
    assert_nothing_left_behind(alice.user_id, credit)
