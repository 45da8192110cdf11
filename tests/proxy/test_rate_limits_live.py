"""Rate limits across replicas (reliability plan D8, peer failure F10): three gateway processes
share one Redis, requests alternate between them, and the limits hold in total, not per
process. Redis out of reach refuses paid requests before anything is held."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from billing.models import Hold
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create
from proxy.models import KeyRateLimit
from tests.live import free_port, simulator_stats

pytestmark = pytest.mark.django_db(transaction=True)

PAID = "openai/gpt-4o-mini"
FREE = "meta-llama/llama-3.1-8b-instruct:free"


def three_gateways(start_gateway, redis_url: str, redis_prefix: str, **env: str) -> list[str]:
    shared = {"REDIS_URL": redis_url, "RATE_LIMIT_REDIS_PREFIX": redis_prefix,
              "RATE_LIMIT_CACHE_TTL_S": "0", **env}  # fmt: skip
    return [start_gateway(**shared).url for _ in range(3)]


def body(model: str = PAID, max_tokens: int = 20) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": max_tokens}  # fmt: skip


async def round_robin(
    urls: list[str], keys: list[str], n: int, **fields: object
) -> list[httpx.Response]:
    """`n` requests at once, alternating between the gateways (and between the keys)."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(i: int) -> httpx.Response:
            return await client.post(
                f"{urls[i % len(urls)]}/api/v1/chat/completions",
                json=body(**fields),  # type: ignore[arg-type]
                headers={"authorization": f"Bearer {keys[i % len(keys)]}"},
            )

        return await asyncio.gather(*(one(i) for i in range(n)))


def statuses(answers: list[httpx.Response]) -> list[int]:
    return sorted(answer.status_code for answer in answers)


def assert_rate_limited(answer: httpx.Response, *, limit: int, name: str) -> None:
    assert answer.status_code == 429, answer.text
    error = answer.json()["error"]
    assert error["code"] == 429
    assert error["message"].startswith(f"Rate limit exceeded: {name}.")
    headers = answer.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-ratelimit-limit"] == str(limit)
    assert int(headers["x-ratelimit-remaining"]) >= 0
    reset_in = int(headers["x-ratelimit-reset"]) - time.time()
    # The answer was made a moment before this check (seconds, in a loaded run).
    assert 0 < int(headers["retry-after"]) <= reset_in + 10
    assert error["metadata"]["headers"]["X-RateLimit-Reset"] == headers["x-ratelimit-reset"]


def test_a_key_limited_to_ten_requests_a_minute_gets_ten_across_three_gateways(
    start_gateway, live_catalog, redis_url, redis_prefix, make_account
):
    urls = three_gateways(start_gateway, redis_url, redis_prefix)
    alice = make_account("5")
    KeyRateLimit.objects.create(api_key=ApiKey.objects.get(user_id=alice.user_id), rpm=10)

    answers = asyncio.run(round_robin(urls, [alice.api_key], 30))

    assert statuses(answers) == [200] * 10 + [429] * 20, {a.text for a in answers}
    for answer in answers:
        if answer.status_code == 429:
            assert_rate_limited(answer, limit=10, name="requests-per-min")
            assert answer.headers["x-ratelimit-remaining"] == "0"
            assert 55 <= int(answer.headers["retry-after"]) <= 61
    # A key without an override has the default (600 a minute).
    with_default = make_account("5")
    assert asyncio.run(round_robin(urls, [with_default.api_key], 1))[0].status_code == 200


def test_tokens_per_minute_hold_across_three_gateways(
    start_gateway, live_catalog, redis_url, redis_prefix, make_account
):
    urls = three_gateways(start_gateway, redis_url, redis_prefix)
    alice = make_account("5")
    KeyRateLimit.objects.create(api_key=ApiKey.objects.get(user_id=alice.user_id), tpm=1000)

    # Each counts 201 tokens ("Hi" is one, plus max_tokens): four fit in 1000.
    answers = asyncio.run(round_robin(urls, [alice.api_key], 12, max_tokens=200))

    assert statuses(answers) == [200] * 4 + [429] * 8, {a.text for a in answers}
    for answer in answers:
        if answer.status_code == 429:
            assert_rate_limited(answer, limit=1000, name="tokens-per-min")
            assert answer.headers["x-ratelimit-remaining"] == str(1000 - 4 * 201)


def test_the_free_daily_cap_holds_per_account_across_three_gateways(
    start_gateway, live_catalog, redis_url, redis_prefix, make_account, committed
):
    urls = three_gateways(start_gateway, redis_url, redis_prefix,
                          FREE_TIER_RPD="5", FREE_TIER_RPM="100")  # fmt: skip
    alice = make_account("1")
    with committed():
        _, second_key = api_key_create(user=ApiKey.objects.get(user_id=alice.user_id).user,
                                       name="second")  # fmt: skip

    answers = asyncio.run(round_robin(urls, [alice.api_key, second_key], 12, model=FREE))

    assert statuses(answers) == [200] * 5 + [429] * 7, {a.text for a in answers}
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = int((midnight + timedelta(days=1)).timestamp())
    for answer in answers:
        if answer.status_code == 429:
            assert_rate_limited(answer, limit=5, name="free-models-per-day")
            assert "Add 10 credits to unlock 1000 free model requests per day" in answer.text
            assert answer.headers["x-ratelimit-reset"] == str(tomorrow)
    # Paid models are not capped by the free tier.
    assert asyncio.run(round_robin(urls, [alice.api_key], 1))[0].status_code == 200


def test_with_redis_out_of_reach_a_paid_request_is_refused_and_nothing_is_held(
    start_gateway, live_catalog, make_account, wallet_balance, simulator_url
):
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    limited = start_gateway(REDIS_URL=down, RATE_LIMIT_RPM="600")
    alice = make_account("5")
    balance, forwarded = wallet_balance(alice.user_id), simulator_stats(simulator_url)

    started = time.monotonic()
    answer = asyncio.run(round_robin([limited.url], [alice.api_key], 1))[0]

    assert answer.status_code == 503, answer.text
    assert time.monotonic() - started < 5
    assert answer.json()["error"]["message"] == "Rate limiting is unavailable; retry shortly"
    assert answer.headers["retry-after"] == "1"
    assert wallet_balance(alice.user_id) == balance
    assert not Hold.objects.filter(wallet__user_id=alice.user_id).exists()
    assert simulator_stats(simulator_url)["chat_requests"] == forwarded["chat_requests"]
    # With no limit on for the key, the request needs no Redis and goes through.
    unlimited = start_gateway(REDIS_URL=down, RATE_LIMIT_RPM="0")
    assert asyncio.run(round_robin([unlimited.url], [alice.api_key], 1))[0].status_code == 200
