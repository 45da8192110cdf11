"""While a stream waits for its first answer (a slow provider, a failover), the client gets
SSE comments so it and any proxy in between know the request is alive; if every provider
then fails, the stream ends with an error event, and costs nothing."""

import httpx
import openai
import pytest

from billing.money import usd_to_nanos
from tests.conftest import FAILOVER_TEST_SETTINGS
from tests.live import simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "openai/gpt-4o-mini"
KEEPALIVE = ": SWITCHYARD PROCESSING"


@pytest.fixture
def gateway(start_gateway, live_catalog):
    return start_gateway(STREAM_KEEPALIVE_S="0.2", **FAILOVER_TEST_SETTINGS)


def stream(gateway_url: str, key: str, text: str) -> list[str]:
    with httpx.stream(
        "POST",
        f"{gateway_url}/api/v1/chat/completions",
        json={"model": MODEL, "stream": True, "messages": [{"role": "user", "content": text}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        return [line for line in response.iter_lines() if line]


def test_a_slow_first_token_is_preceded_by_keepalive_comments(gateway, make_account):
    alice = make_account("1")
    lines = stream(gateway.url, alice.api_key, "[sim:slow=900] take your time")
    first_data = next(i for i, line in enumerate(lines) if line.startswith("data: "))
    assert first_data >= 2
    assert all(line == KEEPALIVE for line in lines[:first_data])
    assert lines[-1] == "data: [DONE]"


def test_the_openai_sdk_reads_through_the_comments(gateway, make_account):
    alice = make_account("1")
    client = openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=alice.api_key)
    chunks = list(client.chat.completions.create(
        model=MODEL, stream=True,
        messages=[{"role": "user", "content": "[sim:slow=700] hello"}],
    ))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None


def test_when_every_provider_fails_after_comments_the_stream_ends_with_an_error(
    gateway, make_account, sim_faults, wallet_balance, simulator_url
):
    alice = make_account("1")
    sim_faults("nimbus", "hang")
    sim_faults("quanta", "hang")

    lines = stream(gateway.url, alice.api_key, "anyone there?")

    assert lines[0] == KEEPALIVE
    assert "data: [DONE]" not in lines
    assert '"finish_reason":"error"' in lines[-1]
    assert "quanta" in lines[-1].lower() or "Quanta" in lines[-1]
    assert wallet_balance(alice.user_id) == usd_to_nanos("1")
    assert simulator_stats(simulator_url)["by_provider"]["quanta"] >= 1
