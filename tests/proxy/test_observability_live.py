"""Metrics and request logs of a live gateway process: what it counts and logs of real
requests through real providers (simulated) matches what was billed."""

import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from billing.models import Generation
from tests.live import eventually

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
CHAT = "/api/v1/chat/completions"


def chat(url: str, key: str, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], **extra}
    return httpx.post(f"{url}{CHAT}", json=body, headers={"authorization": f"Bearer {key}"},
                      timeout=30)  # fmt: skip


def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:  # fmt: skip
    return metrics.get((name, frozenset(labels.items())), 0.0)


def request_lines(log: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "switchyard.request"]


def test_requests_are_counted_and_logged_as_billed(live_catalog, start_gateway, make_account):
    gateway = start_gateway(LOG_FORMAT="json")
    alice = make_account()
    plain = chat(gateway.url, alice.api_key)
    assert plain.status_code == 200, plain.text
    streamed = chat(gateway.url, alice.api_key, stream=True)
    assert streamed.status_code == 200, streamed.text
    assert chat(gateway.url, "sk-sy-v1-" + "0" * 64).status_code == 401
    provider = plain.headers["x-switchyard-provider"]
    generations = list(Generation.objects.filter(user_id=alice.user_id))
    assert len(generations) == 2

    metrics = samples(gateway.url)
    route = {"route": CHAT, "model": MODEL, "provider": provider}
    assert value(metrics, "switchyard_requests_total", **route, status="200") == 2
    assert value(metrics, "switchyard_requests_total", route=CHAT, model="", provider="",
                 status="401") == 1  # fmt: skip
    by_endpoint = {"model": MODEL, "provider": provider}
    prompt = sum(g.prompt_tokens for g in generations)
    completion = sum(g.completion_tokens for g in generations)
    assert value(metrics, "switchyard_tokens_total", **by_endpoint, kind="prompt") == prompt
    assert value(metrics, "switchyard_tokens_total", **by_endpoint, kind="completion") == completion
    cost = sum(g.cost_nanos for g in generations)
    assert cost > 0
    assert value(metrics, "switchyard_cost_nanodollars_total", **by_endpoint) == cost
    assert value(metrics, "switchyard_upstream_seconds_count", **by_endpoint) == 2
    assert value(metrics, "switchyard_time_to_first_token_seconds_count", **by_endpoint) == 1
    assert value(metrics, "switchyard_gateway_overhead_seconds_count", route=CHAT) == 3
    assert value(metrics, "switchyard_open_holds") == 0
    assert value(metrics, "switchyard_scrape_source_up", source="database") == 1

    lines = eventually(lambda: request_lines(gateway.server.log()), what="request log lines")
    logged = {line["generation_id"]: line for line in lines if line["generation_id"]}
    assert set(logged) == {g.id for g in generations}
    line = logged[plain.json()["id"]]
    generation = next(g for g in generations if g.id == line["generation_id"])
    assert line["key_prefix"] == alice.api_key[:15]
    assert (line["model"], line["provider"], line["status"]) == (MODEL, provider, 200)
    assert (line["prompt_tokens"], line["completion_tokens"]) == (
        generation.prompt_tokens, generation.completion_tokens)  # fmt: skip
    assert line["cost_nanos"] == generation.cost_nanos
    assert line["attempts"] == 1
    assert line["total_ms"] >= line["upstream_ms"] > 0
    # The gateway's own time, phase by phase, as in the Server-Timing header.
    assert list(line["phases_ms"]) == ["auth", "routing", "hold", "upstream", "settle"]
    assert alice.api_key not in gateway.server.log()


def test_a_failed_attempt_counts_toward_upstream_time_and_attempts(
    live_catalog, start_gateway, make_account, sim_faults
):
    gateway = start_gateway(LOG_FORMAT="json", HEALTH_FAILURE_THRESHOLD="1000")
    alice = make_account()
    sim_faults("nimbus", "http_500", count=1)
    answer = chat(gateway.url, alice.api_key)
    assert answer.status_code == 200, answer.text
    line = next(
        line
        for line in eventually(lambda: request_lines(gateway.server.log()))
        if line["generation_id"] == answer.json()["id"]
    )
    assert line["attempts"] == 2
    assert line["provider"] == answer.headers["x-switchyard-provider"] != "nimbus"
