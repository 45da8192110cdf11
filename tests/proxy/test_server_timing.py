"""The gateway's own time on every answer: `Server-Timing` split into its phases."""

import re

import httpx
import pytest

from proxy.timing import PhaseTimer

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}]}


def phases(header: str) -> dict[str, float]:
    found = dict(re.findall(r"(\w+);dur=([0-9.]+)", header))
    assert header.count(";dur=") == len(found), f"repeated or malformed phases: {header}"
    return {name: float(ms) for name, ms in found.items()}


def assert_gateway_is_the_sum_without_upstream(timing: dict[str, float]) -> None:
    own = sum(ms for name, ms in timing.items() if name not in ("upstream", "gateway"))
    assert timing["gateway"] == pytest.approx(own, abs=0.01)


def test_a_completion_reports_every_phase(gateway_url, make_account):
    account = make_account("1")
    response = httpx.post(
        f"{gateway_url}/api/v1/chat/completions",
        json=BODY,
        headers={"Authorization": f"Bearer {account.api_key}"},
        timeout=30,
    )

    assert response.status_code == 200
    timing = phases(response.headers["server-timing"])
    assert list(timing) == ["auth", "routing", "hold", "upstream", "settle", "gateway"]
    assert all(ms >= 0 for ms in timing.values())
    assert_gateway_is_the_sum_without_upstream(timing)


def test_a_stream_reports_the_phases_before_its_first_chunk(gateway_url, make_account):
    account = make_account("1")
    with httpx.stream(
        "POST",
        f"{gateway_url}/api/v1/chat/completions",
        json={**BODY, "stream": True},
        headers={"Authorization": f"Bearer {account.api_key}"},
        timeout=30,
    ) as response:
        timing = phases(response.headers["server-timing"])
        body = response.read()

    assert b"data: [DONE]" in body
    # Settling happens after the headers went out: it cannot be in them.
    assert list(timing) == ["auth", "routing", "hold", "upstream", "gateway"]
    assert_gateway_is_the_sum_without_upstream(timing)


def test_embeddings_report_their_phases(gateway_url, make_account):
    account = make_account("1")
    response = httpx.post(
        f"{gateway_url}/api/v1/embeddings",
        json={"model": "openai/text-embedding-3-small", "input": "hello"},
        headers={"Authorization": f"Bearer {account.api_key}"},
        timeout=30,
    )

    assert response.status_code == 200, response.text
    timing = phases(response.headers["server-timing"])
    assert list(timing) == ["auth", "routing", "hold", "upstream", "settle", "gateway"]


def test_a_phase_marked_twice_adds_up(monkeypatch):
    now = iter([1.5, 2.0, 4.0])
    monkeypatch.setattr("proxy.timing.time.monotonic", lambda: next(now))
    timer = PhaseTimer(started_at=1.0)

    timer.mark("auth")  # 0.5 s
    timer.mark("upstream")  # 0.5 s
    timer.mark("auth")  # 2 s more

    assert timer.durations == {"auth": 2.5, "upstream": 0.5}
    assert timer.gateway_s() == 2.5
    name, value = timer.header()
    assert name == b"server-timing"
    assert value == b"auth;dur=2500.000, upstream;dur=500.000, gateway;dur=2500.000"
