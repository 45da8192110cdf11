"""The limiter: which per-key limits a request counts against, and how it refuses."""

import pytest
from prometheus_client import REGISTRY

from proxy.errors import InvalidRequest, RateLimitUnavailable
from proxy.rate_limits import REQUESTS_PER_MIN, TOKENS_PER_MIN, RateLimitPolicy
from tests.proxy.rate_limits.support import (
    ALICE,
    KEY,
    T0,
    TEN_USD,
    Clock,
    FakeDb,
    NeverAsked,
    Unreachable,
    chat,
    limiter,
    refusal_of,
)


async def test_a_key_gets_the_default_requests_per_minute() -> None:
    db, limits = FakeDb(), limiter(rpm=2)
    await limits.admit(db, ALICE, chat())
    await limits.admit(db, ALICE, chat())
    refused = await refusal_of(limits, db, chat())
    assert refused.status == 429
    assert refused.message.startswith("Rate limit exceeded: requests-per-min.")


async def test_a_refusal_is_counted_in_the_metrics_by_limit_name() -> None:
    def refusals() -> float:
        labels = {"limit": REQUESTS_PER_MIN}
        return REGISTRY.get_sample_value("switchyard_rate_limit_rejections_total", labels) or 0

    db, limits = FakeDb(), limiter(rpm=1)
    before = refusals()
    await limits.admit(db, ALICE, chat())
    assert refusals() == before
    await refusal_of(limits, db, chat())
    assert refusals() == before + 1


async def test_a_request_without_limits_makes_no_round_trip() -> None:
    db = FakeDb()
    await limiter(NeverAsked(), rpm=0, tpm=0).admit(db, ALICE, chat())
    db.overrides[KEY] = (0, None)  # unlimited, whatever the default
    await limiter(NeverAsked(), rpm=600).admit(db, ALICE, chat())


async def test_a_keys_override_replaces_the_default_and_is_cached() -> None:
    db, clock = FakeDb(), Clock()
    db.overrides[KEY] = (1, None)
    limits = limiter(clock=clock, rpm=600, cache_ttl_s=5)
    await limits.admit(db, ALICE, chat())
    await refusal_of(limits, db, chat())
    assert db.queries == 1

    db.overrides[KEY] = (3, None)
    clock.now += 4.9
    await refusal_of(limits, db, chat())  # still the cached override
    clock.now += 0.1
    await limits.admit(db, ALICE, chat())
    assert db.queries == 2


async def test_tokens_per_minute_count_the_prompt_estimate_plus_max_tokens() -> None:
    db, limits = FakeDb(), limiter(tpm=250)
    request = chat(max_tokens=100)
    assert request.prompt_tokens_estimate == 10  # 40 bytes
    await limits.admit(db, ALICE, request)
    await limits.admit(db, ALICE, request)
    refused = await refusal_of(limits, db, request)
    assert refused.message.startswith(f"Rate limit exceeded: {TOKENS_PER_MIN}.")
    assert dict(refused.headers)[b"x-ratelimit-remaining"] == b"30"
    await limits.admit(db, ALICE, chat())  # no max_tokens: the prompt alone


async def test_a_request_larger_than_the_token_limit_is_a_400() -> None:
    with pytest.raises(InvalidRequest, match="counts 1010 tokens"):
        await limiter(tpm=1000).admit(FakeDb(), ALICE, chat(max_tokens=1000))


async def test_a_refusal_carries_the_rate_limit_headers() -> None:
    clock = Clock(T0 + 12.3)
    limits = limiter(clock=clock, rpm=1)
    await limits.admit(FakeDb(), ALICE, chat())
    clock.now += 10
    refused = await refusal_of(limits, FakeDb(), chat())
    assert refused.headers == (
        (b"retry-after", b"51"),  # second T0 + 12 leaves the window at T0 + 73
        (b"x-ratelimit-limit", b"1"),
        (b"x-ratelimit-remaining", b"0"),
        (b"x-ratelimit-reset", str(int(T0) + 73).encode()),
    )
    assert refused.payload()["error"]["metadata"]["headers"] == {
        "X-RateLimit-Limit": "1",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(T0) + 73),
    }


async def test_an_unreachable_store_refuses_with_a_503() -> None:
    with pytest.raises(RateLimitUnavailable) as refused:
        await limiter(Unreachable(), rpm=10).admit(FakeDb(), ALICE, chat())
    assert refused.value.status == 503
    assert refused.value.headers == ((b"retry-after", b"1"),)


def test_the_default_policy_is_the_documented_one() -> None:
    assert RateLimitPolicy() == RateLimitPolicy(
        rpm=0,
        tpm=0,
        free_rpm=20,
        free_rpd=50,
        free_rpd_funded=1000,
        funded_nanos=TEN_USD,
        cache_ttl_s=5.0,
    )
