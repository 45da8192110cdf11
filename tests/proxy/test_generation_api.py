"""`GET /api/v1/generation?id=`: every chat response names its generation, whose stats can be
read back (by its owner only) in OpenRouter's shape."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from billing.models import Generation
from billing.money import usd_to_nanos
from proxy.simulator.profiles import provider_by_slug
from proxy.simulator.responder import plan_completion, prompt_tokens
from tests.live import cheapest_endpoint

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Tell me about generation statistics."}]


def nanos(value: Any) -> int:
    """A JSON number of USD (parsed as a float; its shortest repr is the decimal sent)."""
    assert isinstance(value, int | float)
    assert not isinstance(value, bool)
    return usd_to_nanos(Decimal(repr(value)))


def auth(key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"} if key else {}


def chat(gateway_url: str, key: str, **extra: object) -> httpx.Response:
    body = {"model": MODEL, "messages": MESSAGES, **extra}
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        content=orjson.dumps(body),
        headers=auth(key),
        timeout=30,
    )


def get_generation(gateway_url: str, key: str | None, query: str) -> httpx.Response:
    return httpx.get(f"{gateway_url}/api/v1/generation{query}", headers=auth(key), timeout=30)


def assert_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert list(payload) == ["error"]
    error = payload["error"]
    assert error["code"] == status
    assert isinstance(error["message"], str)
    assert error["message"]
    return str(error["message"])


def stream_events(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [orjson.loads(line) for line in lines[:-1]]


@pytest.mark.parametrize(
    ("stream", "max_tokens"),
    [(False, None), (True, None), (False, 3), (True, 3)],
    ids=["json", "stream", "json-truncated", "stream-truncated"],
)
def test_a_generation_reports_what_its_response_said(gateway_url, make_account, stream, max_tokens):
    alice = make_account("1")
    endpoint = cheapest_endpoint(MODEL)
    simulated = provider_by_slug(endpoint.provider.slug)
    assert simulated is not None
    planned = plan_completion(MESSAGES, simulated, max_tokens)
    assert planned.finish_reason == ("length" if max_tokens else "stop")
    extra: dict[str, object] = {"stream": stream}
    if max_tokens:
        extra["max_tokens"] = max_tokens

    before = datetime.now(UTC)
    started = time.monotonic()
    response = chat(gateway_url, alice.api_key, **extra)
    elapsed_ms = (time.monotonic() - started) * 1000
    after = datetime.now(UTC)

    assert response.status_code == 200, response.text
    generation_id = response.headers["x-generation-id"]
    assert generation_id.startswith("gen-")
    if stream:
        events = stream_events(response)
        assert {event["id"] for event in events} == {generation_id}
        usage = events[-1]["usage"]
        assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == (
            planned.finish_reason
        )
    else:
        body = response.json()
        assert body["id"] == generation_id
        usage = body["usage"]
        assert body["choices"][0]["finish_reason"] == planned.finish_reason

    stats = get_generation(gateway_url, alice.api_key, f"?id={generation_id}")

    assert stats.status_code == 200, stats.text
    assert stats.headers["content-type"] == "application/json"
    data = stats.json()["data"]
    assert data["id"] == generation_id
    assert data["model"] == MODEL
    assert data["provider_name"] == endpoint.provider.name  # the display name, not the slug
    assert data["provider_name"] != endpoint.provider.slug
    assert (data["tokens_prompt"], data["tokens_completion"]) == (
        prompt_tokens(MESSAGES),
        planned.completion_tokens,
    )
    assert (data["tokens_prompt"], data["tokens_completion"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert nanos(data["total_cost"]) == nanos(usage["cost"]) > 0
    assert nanos(data["total_cost"]) == Generation.objects.get(id=generation_id).cost_nanos
    assert data["streamed"] is stream
    assert data["cancelled"] is False
    assert data["finish_reason"] == planned.finish_reason
    assert data["native_finish_reason"] == planned.finish_reason
    assert isinstance(data["upstream_id"], str)
    assert data["upstream_id"]
    assert data["upstream_id"] != generation_id
    for timing in ("latency", "generation_time"):
        assert isinstance(data[timing], int)
        assert data[timing] >= 0
    assert data["latency"] + data["generation_time"] <= elapsed_ms + 1
    created_at = datetime.fromisoformat(data["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= created_at <= after + timedelta(seconds=1)


def test_someone_elses_generation_is_not_found(gateway_url, make_account):
    alice, bob = make_account("1"), make_account("1")
    response = chat(gateway_url, alice.api_key)
    assert response.status_code == 200, response.text
    generation_id = response.headers["x-generation-id"]

    assert generation_id in assert_error(
        get_generation(gateway_url, bob.api_key, f"?id={generation_id}"), 404
    )
    # The same query by the owner finds it: the 404 is about ownership alone.
    assert get_generation(gateway_url, alice.api_key, f"?id={generation_id}").status_code == 200


@pytest.mark.parametrize("query", ["", "?id=", "?other=gen-1"], ids=["none", "empty", "other"])
def test_a_missing_id_is_400(gateway_url, make_account, query):
    alice = make_account("1")
    assert "'id'" in assert_error(get_generation(gateway_url, alice.api_key, query), 400)


def test_an_unknown_id_is_404(gateway_url, make_account):
    alice = make_account("1")
    assert chat(gateway_url, alice.api_key).status_code == 200  # she has one, just not this
    message = assert_error(get_generation(gateway_url, alice.api_key, "?id=gen-0-nope"), 404)
    assert "gen-0-nope" in message


@pytest.mark.parametrize("key", [None, "sk-sy-v1-" + "0" * 64], ids=["no-key", "unknown-key"])
def test_without_a_valid_key_it_is_401(gateway_url, make_account, key):
    alice = make_account("1")
    response = chat(gateway_url, alice.api_key)
    generation_id = response.headers["x-generation-id"]
    assert_error(get_generation(gateway_url, key, f"?id={generation_id}"), 401)


def test_only_get_is_allowed(gateway_url, make_account):
    alice = make_account("1")
    response = httpx.post(
        f"{gateway_url}/api/v1/generation?id=gen-1", headers=auth(alice.api_key), timeout=30
    )
    assert_error(response, 405)
