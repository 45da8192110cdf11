"""Streaming is a transport detail: the same prompt costs exactly the same either way."""

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from billing.models import Generation
from billing.money import usd_to_nanos

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Which rivers flow through Paris, and where do they meet?"},
]


def exact_json(text: str) -> dict[str, Any]:
    """JSON with numbers as Decimal: `usage.cost` compared digit for digit, not as a float."""
    payload: dict[str, Any] = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    return payload


def completion_usage(gateway_url: str, api_key: str, model: str) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json={"model": model, "messages": MESSAGES},
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    usage: dict[str, Any] = exact_json(response.text)["usage"]
    return usage


def streamed_usage(gateway_url: str, api_key: str, model: str) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json={"model": model, "messages": MESSAGES, "stream": True},
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    finals = [exact_json(event) for event in events[:-1] if '"usage"' in event]
    assert len(finals) == 1
    usage: dict[str, Any] = finals[0]["usage"]
    return usage


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"])
def test_streamed_and_whole_answers_cost_the_same(gateway_url, make_account, wallet_balance, model):
    alice = make_account("1")
    start = wallet_balance(alice.user_id)

    whole = completion_usage(gateway_url, alice.api_key, model)
    after_whole = wallet_balance(alice.user_id)
    streamed = streamed_usage(gateway_url, alice.api_key, model)
    after_stream = wallet_balance(alice.user_id)

    tokens = ("prompt_tokens", "completion_tokens", "total_tokens")
    assert [whole[t] for t in tokens] == [streamed[t] for t in tokens]
    assert whole["completion_tokens"] > 0
    assert isinstance(whole["cost"], Decimal)
    assert whole["cost"] == streamed["cost"] > 0
    charged = usd_to_nanos(whole["cost"])
    assert start - after_whole == charged
    assert after_whole - after_stream == charged
    generations = Generation.objects.filter(user_id=alice.user_id, model_slug=model)
    assert sorted(generations.values_list("streamed", "cost_nanos", "usage_estimated")) == [
        (False, charged, False),
        (True, charged, False),
    ]
