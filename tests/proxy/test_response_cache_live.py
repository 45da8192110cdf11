"""The opt-in response cache, end to end: a repeated request is answered without reaching a
provider, at no cost, as a generation of its own; entries are per account and per request, expire,
and only finished answers are kept. The same on the in-process store and on Redis."""

import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from billing.models import Generation
from billing.money import usd_to_nanos
from tests.live import paid_endpoints, simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
CACHE = {"x-switchyard-cache": "true"}


@pytest.fixture(params=["memory", "redis"])
def cache_gateway_url(request: pytest.FixtureRequest, live_catalog: str) -> str:
    if request.param == "memory":
        url: str = request.getfixturevalue("gateway_url")
        return url
    redis_url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    start = request.getfixturevalue("start_gateway")
    gateway = start(REDIS_URL=redis_url, RESPONSE_CACHE_REDIS_PREFIX=prefix,
                    HEALTH_FAILURE_THRESHOLD=str(10**9))  # fmt: skip
    return str(gateway.url)


def messages() -> list[dict[str, str]]:
    # Each test its own prompt: user ids repeat from one test database to the next.
    return [{"role": "user", "content": f"Cache me {uuid.uuid4().hex}"}]


def chat(
    url: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/chat/completions",
        content=orjson.dumps({"model": MODEL, **body}),
        headers={"authorization": f"Bearer {key}", **(CACHE if headers is None else headers)},
        timeout=30,
    )


def upstream_calls(simulator_url: str) -> int:
    return int(simulator_stats(simulator_url)["chat_requests"])


def stream_events(response: httpx.Response) -> list[Any]:
    events: list[Any] = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            events.append("[DONE]" if data == "[DONE]" else orjson.loads(data))
    return events


def streamed_text(events: list[Any]) -> str:
    chunks = [e for e in events if e != "[DONE]" and e["choices"]]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def test_a_repeated_request_is_answered_from_the_cache_at_no_cost(
    cache_gateway_url, make_account, simulator_url, wallet_balance
):
    alice = make_account("1")
    body = {"messages": messages()}
    first = chat(cache_gateway_url, alice.api_key, body)
    assert first.status_code == 200, first.text
    assert first.headers["x-switchyard-cache-status"] == "MISS"
    charged = usd_to_nanos("1") - wallet_balance(alice.user_id)
    assert charged > 0
    calls = upstream_calls(simulator_url)

    second = chat(cache_gateway_url, alice.api_key, body)

    assert second.status_code == 200, second.text
    assert second.headers["x-switchyard-cache-status"] == "HIT"
    assert upstream_calls(simulator_url) == calls  # never reached a provider
    miss, hit = first.json(), second.json()
    assert hit["choices"][0]["message"] == miss["choices"][0]["message"]
    assert hit["id"] != miss["id"]
    assert hit["id"] == second.headers["x-generation-id"]
    assert (hit["model"], hit["provider"]) == (miss["model"], miss["provider"])
    assert hit["usage"]["cost"] == 0
    assert hit["usage"]["completion_tokens"] == miss["usage"]["completion_tokens"]
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - charged  # charged once
    generation = Generation.objects.get(id=hit["id"])
    assert generation.cost_nanos == 0
    assert Generation.objects.get(id=miss["id"]).cost_nanos == charged


def test_a_streamed_hit_replays_the_answer_as_a_stream(
    cache_gateway_url, make_account, simulator_url, wallet_balance
):
    alice = make_account("1")
    body = {"messages": messages()}
    whole = chat(cache_gateway_url, alice.api_key, body)  # streams share the whole answer's entry
    assert whole.headers["x-switchyard-cache-status"] == "MISS"
    balance, calls = wallet_balance(alice.user_id), upstream_calls(simulator_url)

    response = chat(cache_gateway_url, alice.api_key, {**body, "stream": True})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-switchyard-cache-status"] == "HIT"
    assert upstream_calls(simulator_url) == calls
    events = stream_events(response)
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["cost"] == 0
    assert usage_chunk["usage"]["completion_tokens"] > 0
    assert streamed_text(events) == whole.json()["choices"][0]["message"]["content"]
    assert events[0]["choices"][0]["finish_reason"] == "stop"
    assert {e["id"] for e in events[:-1]} == {response.headers["x-generation-id"]}
    assert wallet_balance(alice.user_id) == balance
    assert Generation.objects.get(id=usage_chunk["id"]).streamed


def test_a_streamed_answer_is_kept_for_a_whole_request(
    cache_gateway_url, make_account, simulator_url
):
    alice = make_account("1")
    body = {"messages": messages()}
    streamed = chat(cache_gateway_url, alice.api_key, {**body, "stream": True})
    assert streamed.headers["x-switchyard-cache-status"] == "MISS"
    calls = upstream_calls(simulator_url)

    whole = chat(cache_gateway_url, alice.api_key, body)

    assert whole.headers["x-switchyard-cache-status"] == "HIT"
    assert upstream_calls(simulator_url) == calls
    answer = whole.json()
    assert answer["choices"][0]["message"]["content"] == streamed_text(stream_events(streamed))
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["cost"] == 0


def test_an_entry_expires_after_its_ttl(cache_gateway_url, make_account, simulator_url):
    alice = make_account("1")
    body = {"messages": messages()}
    ttl = {**CACHE, "x-switchyard-cache-ttl": "1"}
    assert (
        chat(cache_gateway_url, alice.api_key, body, ttl).headers["x-switchyard-cache-status"]
        == "MISS"
    )
    assert (
        chat(cache_gateway_url, alice.api_key, body, ttl).headers["x-switchyard-cache-status"]
        == "HIT"
    )
    time.sleep(1.5)
    calls = upstream_calls(simulator_url)

    again = chat(cache_gateway_url, alice.api_key, body, ttl)

    assert again.headers["x-switchyard-cache-status"] == "MISS"
    assert upstream_calls(simulator_url) == calls + 1


def test_another_account_never_gets_an_entry_it_did_not_make(
    cache_gateway_url, make_account, simulator_url, wallet_balance
):
    alice, bob = make_account("1"), make_account("1")
    body = {"messages": messages()}
    chat(cache_gateway_url, alice.api_key, body)
    calls = upstream_calls(simulator_url)

    response = chat(cache_gateway_url, bob.api_key, body)

    assert response.headers["x-switchyard-cache-status"] == "MISS"
    assert upstream_calls(simulator_url) == calls + 1
    assert response.json()["usage"]["cost"] > 0
    assert wallet_balance(bob.user_id) < usd_to_nanos("1")


@pytest.mark.parametrize(
    "change",
    [{"temperature": 0.5}, {"model": "mistralai/mistral-small"},
     {"provider": {"order": ["quanta"]}}, {"models": ["anthropic/claude-3.5-haiku"]}],
)  # fmt: skip
def test_a_different_request_misses(cache_gateway_url, make_account, simulator_url, change):
    alice = make_account("1")
    body = {"messages": messages()}
    chat(cache_gateway_url, alice.api_key, body)
    calls = upstream_calls(simulator_url)

    response = chat(cache_gateway_url, alice.api_key, {**body, **change})

    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-cache-status"] == "MISS"
    assert upstream_calls(simulator_url) == calls + 1


def test_nothing_is_kept_or_served_without_the_header(gateway_url, make_account, simulator_url):
    alice = make_account("1")
    body = {"messages": messages()}
    plain = chat(gateway_url, alice.api_key, body, headers={})
    assert plain.status_code == 200
    assert "x-switchyard-cache-status" not in plain.headers
    calls = upstream_calls(simulator_url)

    again = chat(gateway_url, alice.api_key, body, headers={})
    cached = chat(gateway_url, alice.api_key, body)

    assert "x-switchyard-cache-status" not in again.headers
    assert cached.headers["x-switchyard-cache-status"] == "MISS"
    assert upstream_calls(simulator_url) == calls + 2
    assert again.json()["usage"]["cost"] > 0


def test_a_failed_answer_is_not_kept(gateway_url, make_account, simulator_url, sim_faults):
    alice = make_account("1")
    body = {"messages": messages()}
    for endpoint in paid_endpoints(MODEL):
        sim_faults(endpoint.provider.slug, "http_500")
    assert chat(gateway_url, alice.api_key, body).status_code >= 500
    httpx.delete(f"{simulator_url}/_control/providers").raise_for_status()
    calls = upstream_calls(simulator_url)

    response = chat(gateway_url, alice.api_key, body)

    assert response.status_code == 200
    assert response.headers["x-switchyard-cache-status"] == "MISS"
    assert upstream_calls(simulator_url) == calls + 1


def test_a_cut_stream_is_not_kept(gateway_url, make_account, simulator_url, sim_faults):
    alice = make_account("1")
    body = {"messages": messages(), "stream": True}
    sim_faults("nimbus", "cut_stream", after_chunks=3, count=1)
    cut = chat(gateway_url, alice.api_key, body)
    assert "[DONE]" not in stream_events(cut)
    calls = upstream_calls(simulator_url)

    response = chat(gateway_url, alice.api_key, body)

    assert response.headers["x-switchyard-cache-status"] == "MISS"
    assert stream_events(response)[-1] == "[DONE]"
    assert upstream_calls(simulator_url) == calls + 1


def test_a_ttl_that_is_not_a_number_of_seconds_is_refused(gateway_url, make_account):
    alice = make_account("1")
    headers = {**CACHE, "x-switchyard-cache-ttl": "soon"}
    response = chat(gateway_url, alice.api_key, {"messages": messages()}, headers)
    assert response.status_code == 400
    assert "X-Switchyard-Cache-TTL" in response.json()["error"]["message"]


def test_a_hit_needs_no_credit_beyond_a_zero_hold(gateway_url, make_account, wallet_balance):
    alice = make_account("1")
    body = {"messages": messages(), "max_tokens": 20}
    chat(gateway_url, alice.api_key, body)
    hit = chat(gateway_url, alice.api_key, body)
    assert hit.headers["x-switchyard-cache-status"] == "HIT"
    assert Decimal(str(hit.json()["usage"]["cost"])) == 0


@pytest.mark.parametrize("stream", [False, True])
def test_the_messages_route_answers_a_hit_in_its_own_format(
    gateway_url, make_account, simulator_url, stream
):
    alice = make_account("1")
    body = {"model": MODEL, "max_tokens": 50, "messages": messages(), "stream": stream}

    def ask() -> httpx.Response:
        return httpx.post(
            f"{gateway_url}/api/v1/messages",
            content=orjson.dumps(body),
            headers={"authorization": f"Bearer {alice.api_key}", **CACHE},
            timeout=30,
        )

    first = ask()
    calls = upstream_calls(simulator_url)
    second = ask()

    assert second.status_code == 200, second.text
    assert (
        first.headers["x-switchyard-cache-status"],
        second.headers["x-switchyard-cache-status"],
    ) == ("MISS", "HIT")
    assert upstream_calls(simulator_url) == calls
    if stream:
        assert "message_stop" in second.text
        assert "content_block_delta" in second.text
    else:
        assert second.json()["content"] == first.json()["content"]
