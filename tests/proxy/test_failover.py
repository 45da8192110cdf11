"""Failover against a live gateway and live simulated providers: each fault on the cheapest
provider, set through the simulator's control API. Before the first byte the next provider
answers and the failed attempt costs nothing; after it, the stream ends with an error chunk.
Every request is settled exactly once."""

from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest

from billing.models import Generation, Hold, LedgerEntry
from billing.money import Prices, Usage, usage_charge, usd_to_nanos
from proxy.simulator.profiles import SimulatedProvider, provider_by_slug
from proxy.simulator.responder import plan_completion, prompt_tokens, reply_text
from tests.live import endpoint_fee_bps, paid_endpoints, simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"  # served by nimbus (cheapest), then quanta
CHEAPEST, NEXT = "nimbus", "quanta"
MESSAGES = [{"role": "user", "content": "Tell me about failover"}]
CUT_MESSAGES = [{"role": "user", "content": "[sim:delay=30] Tell me about failover"}]
TRACE = {"x-switchyard-metadata": "true"}

# Each fault, with options that make it fail fast against the failover gateway's limits.
FAULTS_BEFORE_FIRST_BYTE = {
    "hang": {},
    "http_500": {},
    "http_503": {},
    "http_429": {"retry_after": 0},  # a Retry-After cooldown is tested with health
    "error_event": {},
    "cut_stream": {"after_chunks": 0},
    "malformed_json": {},
    "slow_drip": {"interval_ms": 200},
    "huge_body": {"size_bytes": 4 * 1024 * 1024},
}


def chat(gateway_url: str, key: str, *, stream: bool, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": MESSAGES, "stream": stream, **extra}  # extra may replace
    return httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        content=orjson.dumps(body),
        headers={"authorization": f"Bearer {key}", **TRACE},
        timeout=30,
    )


def simulated(slug: str) -> SimulatedProvider:
    provider = provider_by_slug(slug)
    assert provider is not None
    return provider


def stream_events(response: httpx.Response) -> list[dict[str, Any]]:
    """The stream's data events; `[DONE]` as the string "[DONE]"."""
    events: list[dict[str, Any]] = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            events.append({"done": True} if data == "[DONE]" else orjson.loads(data))
    return events


def charge_at(provider: str, usage: Usage) -> int:
    endpoint = next(e for e in paid_endpoints(MODEL) if e.provider.slug == provider)
    prices = Prices(endpoint.prompt_usd_per_mtok, endpoint.completion_usd_per_mtok)
    return usage_charge(usage, prices, fee_bps=endpoint_fee_bps(endpoint)).total_nanos


def assert_settled_once(generation_id: str, charged_nanos: int) -> Generation:
    generation = Generation.objects.get(id=generation_id)
    assert generation.cost_nanos == charged_nanos
    hold = Hold.objects.get(id=generation_id)
    assert (hold.status, hold.charge_nanos) == (Hold.Status.SETTLED, charged_nanos)
    entries = LedgerEntry.objects.filter(idempotency_key__startswith=f"usage:{generation_id}")
    assert [e.amount_nanos for e in entries] == ([-charged_nanos] if charged_nanos else [])
    return generation


def answered_by_next(answer: dict[str, Any], metadata: dict[str, Any]) -> None:
    attempts = metadata["attempts"]
    assert [a["provider"] for a in attempts] == [CHEAPEST, NEXT], attempts
    assert attempts[0]["error"]
    assert attempts[1]["status"] == 200
    assert answer["provider"] == simulated(NEXT).name


@pytest.mark.parametrize(("fault", "options"), FAULTS_BEFORE_FIRST_BYTE.items(), ids=str)
def test_a_failing_cheapest_provider_is_replaced_by_the_next_non_streaming(
    failover_gateway_url, sim_faults, make_account, wallet_balance, fault, options
):
    alice = make_account("1")
    sim_faults(CHEAPEST, fault, **options)

    response = chat(failover_gateway_url, alice.api_key, stream=False)

    assert response.status_code == 200, response.text
    answer = response.json()
    answered_by_next(answer, answer["switchyard_metadata"])
    assert answer["choices"][0]["message"]["content"] == reply_text(MESSAGES, simulated(NEXT))
    usage = Usage(
        prompt_tokens(MESSAGES), plan_completion(MESSAGES, simulated(NEXT), None).completion_tokens
    )
    charged = charge_at(NEXT, usage)  # the failed attempt added nothing
    assert usd_to_nanos(Decimal(str(answer["usage"]["cost"]))) == charged
    generation = assert_settled_once(answer["id"], charged)
    assert generation.provider_slug == NEXT
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - charged


@pytest.mark.parametrize(("fault", "options"), FAULTS_BEFORE_FIRST_BYTE.items(), ids=str)
def test_a_failing_cheapest_provider_is_replaced_by_the_next_streaming(
    failover_gateway_url, sim_faults, make_account, wallet_balance, fault, options
):
    alice = make_account("1")
    sim_faults(CHEAPEST, fault, **options)

    response = chat(failover_gateway_url, alice.api_key, stream=True)

    assert response.status_code == 200, response.text
    assert response.headers["x-switchyard-provider"] == NEXT
    events = stream_events(response)
    assert events[-1] == {"done": True}
    *chunks, usage_chunk, _ = events
    answered_by_next(usage_chunk, usage_chunk["switchyard_metadata"])
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == reply_text(MESSAGES, simulated(NEXT))
    usage = Usage(
        prompt_tokens(MESSAGES), plan_completion(MESSAGES, simulated(NEXT), None).completion_tokens
    )
    charged = charge_at(NEXT, usage)
    assert usd_to_nanos(Decimal(str(usage_chunk["usage"]["cost"]))) == charged
    assert assert_settled_once(usage_chunk["id"], charged).provider_slug == NEXT
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - charged


def test_a_stream_cut_after_the_first_byte_ends_with_an_error_chunk_and_bills_once(
    failover_gateway_url, sim_faults, make_account, wallet_balance, simulator_url
):
    alice = make_account("1")
    sim_faults(CHEAPEST, "cut_stream", after_chunks=3)  # the role chunk, then two words
    before = simulator_stats(simulator_url)["by_provider"].get(NEXT, 0)

    # Tokens 30 ms apart, as a real stream's (see the assertion on the words below).
    response = chat(failover_gateway_url, alice.api_key, stream=True, messages=CUT_MESSAGES)

    assert response.status_code == 200
    events = stream_events(response)
    assert {"done": True} not in events  # never a clean end
    last = events[-1]
    assert last["error"]["message"]
    assert last["choices"][0]["finish_reason"] == "error"
    words = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    # What was relayed before the cut (the bytes that arrive together with the drop may be
    # lost in the client library: a prefix of the two words sent, never more).
    sent = "".join(plan_completion(CUT_MESSAGES, simulated(CHEAPEST), None).deltas[:2])
    assert words
    assert sent.startswith(words)
    # No retry once the client has bytes: the next provider was never asked.
    assert simulator_stats(simulator_url)["by_provider"].get(NEXT, 0) == before
    generation = Generation.objects.get(id=last["id"])
    assert generation.provider_slug == CHEAPEST
    assert generation.finish_reason == "error"
    assert generation.usage_estimated  # the provider's count never came
    charged = generation.cost_nanos
    assert charged > 0  # what was generated is paid for
    assert_settled_once(last["id"], charged)
    assert wallet_balance(alice.user_id) == usd_to_nanos("1") - charged


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_the_provider_rejects_is_returned_as_is_without_trying_another(
    failover_gateway_url, make_account, simulator_url, wallet_balance, stream
):
    alice = make_account("1")
    before = simulator_stats(simulator_url)["by_provider"]

    response = httpx.post(
        f"{failover_gateway_url}/api/v1/chat/completions",
        json={"model": MODEL, "stream": stream,
              "messages": [{"role": "user", "content": "[sim:status=400] bad"}]},
        headers={"authorization": f"Bearer {alice.api_key}"},
    )  # fmt: skip

    assert response.status_code == 400
    after = simulator_stats(simulator_url)["by_provider"]
    assert after.get(CHEAPEST, 0) == before.get(CHEAPEST, 0) + 1
    assert after.get(NEXT, 0) == before.get(NEXT, 0)
    assert wallet_balance(alice.user_id) == usd_to_nanos("1")


@pytest.mark.parametrize("stream", [False, True])
def test_when_every_provider_fails_the_client_gets_one_error_naming_each_attempt(
    failover_gateway_url, sim_faults, make_account, wallet_balance, stream
):
    alice = make_account("1")
    sim_faults(CHEAPEST, "http_503")
    sim_faults(NEXT, "http_500")

    response = chat(failover_gateway_url, alice.api_key, stream=stream)

    assert response.status_code == 502
    error = response.json()["error"]
    assert [a["provider"] for a in error["metadata"]["attempts"]] == [CHEAPEST, NEXT]
    assert [a["status"] for a in error["metadata"]["attempts"]] == [503, 500]
    assert wallet_balance(alice.user_id) == usd_to_nanos("1")
    generation = Generation.objects.get(user_id=alice.user_id)
    assert generation.cost_nanos == 0
    assert_settled_once(generation.id, 0)


def test_when_every_provider_is_rate_limited_the_client_gets_429(
    failover_gateway_url, sim_faults, make_account
):
    alice = make_account("1")
    sim_faults(CHEAPEST, "http_429", retry_after=0)
    sim_faults(NEXT, "http_429", retry_after=0)

    response = chat(failover_gateway_url, alice.api_key, stream=False)

    assert response.status_code == 429
    assert len(response.json()["error"]["metadata"]["attempts"]) == 2


def test_a_fault_for_the_next_request_only_is_failed_over_once(
    failover_gateway_url, sim_faults, make_account
):
    alice = make_account("1")
    sim_faults(CHEAPEST, "http_500", count=1)

    first = chat(failover_gateway_url, alice.api_key, stream=False).json()
    second = chat(failover_gateway_url, alice.api_key, stream=False).json()

    assert [a["provider"] for a in first["switchyard_metadata"]["attempts"]] == [CHEAPEST, NEXT]
    assert [a["provider"] for a in second["switchyard_metadata"]["attempts"]] == [CHEAPEST]
