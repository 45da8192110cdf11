"""Provider health on live gateways: ejection after repeated failures, the cooldown and the
trial that brings an endpoint back, a 429's Retry-After, health shared by two replicas through
Redis, probes of recovering endpoints, and what `/models/.../endpoints` shows of it all."""

import time
from typing import Any

import httpx
import pytest
from django.test import override_settings

from catalog.models import Endpoint
from tests.live import eventually, simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"  # served by nimbus (cheapest), then quanta
CHEAPEST, NEXT = "nimbus", "quanta"
# Two failures eject; the first cooldown is short enough to wait for; no probes by default.
QUICK_HEALTH = {
    "HEALTH_FAILURE_THRESHOLD": "2",
    "HEALTH_BASE_COOLDOWN_S": "1",
    "HEALTH_SNAPSHOT_TTL_S": "0",
    "HEALTH_PROBE_INTERVAL_S": "3600",
}


def ask(gateway_url: str, key: str, text: str = "hello", **extra: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": text}], **extra},
        headers={"authorization": f"Bearer {key}", "x-switchyard-metadata": "true"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def tried(answer: dict[str, Any]) -> list[str]:
    return [attempt["provider"] for attempt in answer["switchyard_metadata"]["attempts"]]


def health_label(answer: dict[str, Any], provider: str) -> str:
    candidates = answer["switchyard_metadata"]["candidates"]
    return str(next(c["health"] for c in candidates if c["provider"] == provider))


def endpoints_of(gateway_url: str, model: str = MODEL) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{gateway_url}/api/v1/models/{model}/endpoints", timeout=10)
    assert response.status_code == 200, response.text
    return {e["tag"]: e for e in response.json()["data"]["endpoints"]}


def eject_cheapest(gateway_url: str, key: str, sim_faults) -> None:
    sim_faults(CHEAPEST, "http_500")
    for _ in range(2):
        assert tried(ask(gateway_url, key)) == [CHEAPEST, NEXT]
    # Health is written after the response: wait until this gateway routes around nimbus.
    eventually(lambda: tried(ask(gateway_url, key)) == [NEXT], what="nimbus ejected")


def test_an_ejected_endpoint_rests_then_one_trial_brings_it_back(
    start_gateway, live_catalog, sim_faults, make_account, simulator_url
):
    gateway = start_gateway(**QUICK_HEALTH)
    alice = make_account("1")
    eject_cheapest(gateway.url, alice.api_key, sim_faults)
    assert endpoints_of(gateway.url)[CHEAPEST]["status"] == -3  # ejected
    answer = ask(gateway.url, alice.api_key)
    assert tried(answer) == [NEXT]
    assert health_label(answer, CHEAPEST) == "unhealthy"

    time.sleep(1.1)  # the first cooldown is over: the next request is nimbus's trial (it fails)
    failed_trial = ask(gateway.url, alice.api_key)
    assert tried(failed_trial) == [CHEAPEST, NEXT]
    # A failed trial ejects it again, for twice as long.
    eventually(lambda: tried(ask(gateway.url, alice.api_key)) == [NEXT], what="re-ejected")

    httpx.delete(f"{simulator_url}/_control/providers/{CHEAPEST}").raise_for_status()
    time.sleep(2.1)
    trial = ask(gateway.url, alice.api_key)
    assert tried(trial) == [CHEAPEST]
    assert health_label(trial, CHEAPEST) == "recovering"
    back = eventually(lambda: endpoints_of(gateway.url)[CHEAPEST]["status"] == 0 or None)
    assert back
    assert tried(ask(gateway.url, alice.api_key)) == [CHEAPEST]


def test_a_rate_limited_endpoint_rests_for_its_retry_after(
    start_gateway, live_catalog, sim_faults, make_account
):
    gateway = start_gateway(**{**QUICK_HEALTH, "HEALTH_FAILURE_THRESHOLD": "1000"})
    alice = make_account("1")
    sim_faults(CHEAPEST, "http_429", retry_after=2, count=1)

    assert tried(ask(gateway.url, alice.api_key)) == [CHEAPEST, NEXT]

    def rested_answer() -> dict[str, Any] | None:
        answer = ask(gateway.url, alice.api_key)
        return answer if tried(answer) == [NEXT] else None

    rested = eventually(rested_answer, what="nimbus resting")
    assert health_label(rested, CHEAPEST) == "unhealthy"
    assert endpoints_of(gateway.url)[CHEAPEST]["status"] == -2  # resting, not ejected
    time.sleep(2.1)
    assert tried(ask(gateway.url, alice.api_key)) == [CHEAPEST]


def test_errors_caused_by_the_request_do_not_count_against_the_provider(
    start_gateway, live_catalog, make_account
):
    gateway = start_gateway(**{**QUICK_HEALTH, "HEALTH_FAILURE_THRESHOLD": "1"})
    alice = make_account("1")
    for status in (400, 413, 422):
        response = httpx.post(
            f"{gateway.url}/api/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": f"[sim:status={status}]"}],
            },
            headers={"authorization": f"Bearer {alice.api_key}"},
        )
        assert response.status_code == status
    time.sleep(0.3)  # let any (wrong) health write land
    assert endpoints_of(gateway.url)[CHEAPEST]["status"] == 0
    assert tried(ask(gateway.url, alice.api_key)) == [CHEAPEST]


def test_two_gateways_share_health_through_redis(
    start_gateway, live_catalog, redis_url, redis_prefix, sim_faults, make_account, simulator_url
):
    shared = {**QUICK_HEALTH, "HEALTH_BASE_COOLDOWN_S": "60", "REDIS_URL": redis_url,
              "HEALTH_REDIS_PREFIX": redis_prefix, "HEALTH_SNAPSHOT_TTL_S": "0.2"}  # fmt: skip
    first, second = start_gateway(**shared), start_gateway(**shared)
    alice = make_account("1")

    eject_cheapest(first.url, alice.api_key, sim_faults)

    # The second gateway never saw nimbus fail, yet stops sending it requests.
    eventually(lambda: tried(ask(second.url, alice.api_key)) == [NEXT], what="shared health")
    before = simulator_stats(simulator_url)["by_provider"][CHEAPEST]
    for _ in range(3):
        answer = ask(second.url, alice.api_key)
        assert tried(answer) == [NEXT]
        assert health_label(answer, CHEAPEST) == "unhealthy"
    assert simulator_stats(simulator_url)["by_provider"][CHEAPEST] == before
    assert endpoints_of(second.url)[CHEAPEST]["status"] == -3


def test_the_gateway_probes_an_ejected_endpoint_back_without_traffic(
    start_gateway, live_catalog, sim_faults, make_account, simulator_url
):
    # Health in this process's memory: the gateway runs the prober itself.
    gateway = start_gateway(**{**QUICK_HEALTH, "REDIS_URL": "", "HEALTH_PROBE_INTERVAL_S": "0.2"})
    alice = make_account("1")
    eject_cheapest(gateway.url, alice.api_key, sim_faults)
    httpx.delete(f"{simulator_url}/_control/providers/{CHEAPEST}").raise_for_status()
    before = simulator_stats(simulator_url)["by_provider"][CHEAPEST]

    eventually(lambda: endpoints_of(gateway.url)[CHEAPEST]["status"] == 0, timeout_s=10,
               what="probe brought nimbus back")  # fmt: skip

    assert simulator_stats(simulator_url)["by_provider"][CHEAPEST] > before  # the probe
    assert tried(ask(gateway.url, alice.api_key)) == [CHEAPEST]


def test_the_probe_task_brings_back_an_endpoint_ejected_in_redis(
    start_gateway, live_catalog, redis_url, redis_prefix, sim_faults, make_account, simulator_url
):
    from proxy.tasks import probe_endpoints_task

    gateway = start_gateway(**{**QUICK_HEALTH, "REDIS_URL": redis_url,
                               "HEALTH_REDIS_PREFIX": redis_prefix})  # fmt: skip
    alice = make_account("1")
    eject_cheapest(gateway.url, alice.api_key, sim_faults)
    httpx.delete(f"{simulator_url}/_control/providers/{CHEAPEST}").raise_for_status()
    time.sleep(1.1)  # cooldown over: the probe is the trial
    before = simulator_stats(simulator_url)["by_provider"][CHEAPEST]

    with override_settings(REDIS_URL=redis_url, HEALTH_REDIS_PREFIX=redis_prefix):
        probed = probe_endpoints_task()

    # Endpoints never seen count as idle and are probed too; quanta, busy serving, is not.
    assert probed == Endpoint.objects.count() - 1
    assert simulator_stats(simulator_url)["by_provider"][CHEAPEST] > before
    assert endpoints_of(gateway.url)[CHEAPEST]["status"] == 0
    assert tried(ask(gateway.url, alice.api_key)) == [CHEAPEST]


def test_endpoints_api_shows_prices_and_measured_health(gateway_url, make_account, live_catalog):
    alice = make_account("1")
    for _ in range(3):
        response = httpx.post(
            f"{gateway_url}/api/v1/chat/completions",
            # A few ms between tokens, so the stream's throughput can be measured.
            json={
                "model": MODEL,
                "stream": True,
                "messages": [{"role": "user", "content": "[sim:delay=3] hi there"}],
            },
            headers={"authorization": f"Bearer {alice.api_key}"},
        )
        assert response.status_code == 200

    body = httpx.get(f"{gateway_url}/api/v1/models/{MODEL}/endpoints").json()["data"]

    assert body["id"] == MODEL
    endpoints = {e["tag"]: e for e in body["endpoints"]}
    assert set(endpoints) == {CHEAPEST, NEXT}
    nimbus = endpoints[CHEAPEST]
    stored = Endpoint.objects.get(model__slug=MODEL, provider__slug=CHEAPEST)
    assert nimbus["pricing"]["prompt"] == "0.00000015"
    assert nimbus["context_length"] == stored.context_length
    assert nimbus["max_completion_tokens"] == stored.max_output_tokens
    assert nimbus["quantization"] == "unknown"
    assert nimbus["status"] == 0
    eventually(lambda: endpoints_of(gateway_url)[CHEAPEST]["uptime_last_5m"] == 100.0)
    measured = endpoints_of(gateway_url)[CHEAPEST]
    assert measured["uptime_last_30m"] == measured["uptime_last_1d"] == 100.0
    assert set(measured["latency_last_30m"]) == {"p50", "p75", "p90", "p99"}
    assert measured["throughput_last_30m"]["p50"] > 0
    assert endpoints[NEXT]["uptime_last_5m"] is None  # never asked: nothing measured


def test_endpoints_api_lists_a_free_variant_and_refuses_unknown_models(gateway_url):
    free = endpoints_of(gateway_url, "meta-llama/llama-3.1-8b-instruct:free")
    assert list(free) == ["atlas/free"]
    assert free["atlas/free"]["pricing"]["prompt"] == "0"
    assert free["atlas/free"]["quantization"] == "fp16"
    for unknown in ("nobody/nothing", "openai/gpt-4o-mini:free", "openai/gpt-4o-mini:nitro"):
        response = httpx.get(f"{gateway_url}/api/v1/models/{unknown}/endpoints")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == 404
