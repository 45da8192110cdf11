"""Rate limits: the counting of both stores, and what the limiter counts a request against.

Every store test runs on the memory store and on Redis (under a prefix of its own); a randomized
run of both side by side checks that the Lua script follows the Python rules. Time is a plain
float that the tests move by hand.
"""

import dataclasses
import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import redis
from prometheus_client import REGISTRY
from redis.asyncio.connection import Connection

from proxy.chat_request import ChatRequest, chat_request_parse
from proxy.errors import InvalidRequest, RateLimited, RateLimitUnavailable
from proxy.rate_limits import (
    FREE_PER_DAY,
    FREE_PER_MIN,
    MINUTE,
    REQUESTS_PER_MIN,
    TOKENS_PER_MIN,
    UTC_DAY,
    Limit,
    MemoryRateLimitStore,
    RateLimiter,
    RateLimitPolicy,
    RateLimitStore,
    RedisRateLimitStore,
    Refusal,
    StoreUnavailable,
    rate_limit_store_create,
)
from tests.live import free_port

T0 = 1_699_999_200.0  # on the minute (and the hour)
MIDNIGHT = datetime(2023, 11, 15, tzinfo=UTC).timestamp()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    made: RateLimitStore
    if request.param == "memory":
        made = MemoryRateLimitStore()
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        made = RedisRateLimitStore.from_url(url, prefix=prefix, timeout_s=2)
    try:
        yield made
    finally:
        await made.close()


def per_minute(limit: int, cost: int = 1, counter: str = "k") -> Limit:
    return Limit(REQUESTS_PER_MIN, counter, limit, cost, MINUTE)


def per_day(limit: int, counter: str = "d") -> Limit:
    return Limit(FREE_PER_DAY, counter, limit, 1, UTC_DAY)


async def admitted(store: RateLimitStore, limits: Sequence[Limit], now: float) -> bool:
    return await store.admit(limits, now) is None


# Counting


async def test_it_admits_up_to_the_limit_then_refuses_until_the_oldest_leaves(
    store: RateLimitStore,
) -> None:
    three = per_minute(3)
    for _ in range(3):
        assert await admitted(store, [three], T0)

    assert await store.admit([three], T0 + 0.5) == Refusal(three, used=3, reset_at=int(T0) + 61)
    # The window is the current second and the 60 before: the first second still counts.
    assert not await admitted(store, [three], T0 + 60.9)
    for _ in range(3):
        assert await admitted(store, [three], T0 + 61)
    assert not await admitted(store, [three], T0 + 61)


async def test_no_sixty_seconds_ever_hold_more_than_the_limit(store: RateLimitStore) -> None:
    traffic = random.Random(7)
    limit, now, times = per_minute(5), T0, []
    for _ in range(300):
        now += traffic.uniform(0, 4)
        if await admitted(store, [limit], now):
            times.append(now)
    for start in times:
        assert sum(start <= t <= start + 60 for t in times) <= 5
    assert len(times) >= 5 * int((now - T0) // 61)  # and it admits what fits


async def test_a_refusal_waits_for_the_oldest_requests_it_needs_gone(
    store: RateLimitStore,
) -> None:
    three = per_minute(3)
    assert await admitted(store, [three], T0)
    assert await admitted(store, [three], T0 + 20.5)
    assert await admitted(store, [three], T0 + 30)

    assert await store.admit([three], T0 + 40) == Refusal(three, used=3, reset_at=int(T0) + 61)
    assert await admitted(store, [three], T0 + 61)
    refusal = await store.admit([three], T0 + 62)
    assert refusal == Refusal(three, used=3, reset_at=int(T0) + 20 + 61)


async def test_tokens_count_their_cost_and_a_refusal_reports_what_remains(
    store: RateLimitStore,
) -> None:
    assert await admitted(store, [per_minute(100, cost=60)], T0)
    refusal = await store.admit([per_minute(100, cost=50)], T0 + 1)
    assert refusal is not None
    assert (refusal.used, refusal.remaining) == (60, 40)
    assert await admitted(store, [per_minute(100, cost=40)], T0 + 1)
    assert not await admitted(store, [per_minute(100, cost=1)], T0 + 2)


async def test_a_request_is_counted_in_all_its_limits_or_in_none(store: RateLimitStore) -> None:
    wide, narrow = per_minute(5, counter="wide"), per_minute(1, counter="narrow")
    assert await admitted(store, [wide, narrow], T0)

    refusal = await store.admit([wide, narrow], T0)
    assert refusal is not None
    assert refusal.limit == narrow
    for _ in range(4):  # the refused request took nothing from `wide`
        assert await admitted(store, [wide], T0)
    assert not await admitted(store, [wide], T0)


async def test_counters_are_separate(store: RateLimitStore) -> None:
    assert await admitted(store, [per_minute(1, counter="a")], T0)
    assert await admitted(store, [per_minute(1, counter="b")], T0)
    assert not await admitted(store, [per_minute(1, counter="a")], T0)


async def test_a_daily_limit_resets_at_midnight_utc(store: RateLimitStore) -> None:
    two = per_day(2)
    assert await admitted(store, [two], MIDNIGHT - 86_401)  # the day before yesterday
    assert await admitted(store, [two], MIDNIGHT - 3600)
    assert await admitted(store, [two], MIDNIGHT - 1)
    assert await store.admit([two], MIDNIGHT - 0.001) == Refusal(two, 2, int(MIDNIGHT))

    assert await admitted(store, [two], MIDNIGHT)
    assert await admitted(store, [two], MIDNIGHT + 86_399)
    assert not await admitted(store, [two], MIDNIGHT + 86_399.5)


@pytest.mark.parametrize("seed", range(4))
async def test_the_stores_agree_on_random_traffic(
    seed: int, redis_url: str, redis_prefix: str
) -> None:
    memory = MemoryRateLimitStore()
    shared = RedisRateLimitStore.from_url(redis_url, prefix=redis_prefix, timeout_s=2)
    traffic, now = random.Random(seed), T0
    try:
        for step in range(800):
            now += traffic.choice([0, 0, traffic.uniform(0, 3), traffic.uniform(0, 90), 86_400])
            limits = [
                per_minute(traffic.randint(1, 6), cost=traffic.randint(1, 3), counter="m"),
                per_minute(traffic.randint(3, 9), counter=traffic.choice(["a", "b"])),
                per_day(traffic.randint(10, 40)),
            ]
            chosen = traffic.sample(limits, traffic.randint(1, 3))
            assert await shared.admit(chosen, now) == await memory.admit(chosen, now), step
    finally:
        await shared.close()


async def test_redis_counts_expire_when_their_window_has_passed(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisRateLimitStore.from_url(redis_url, prefix=redis_prefix, timeout_s=2)
    try:
        await store.admit([per_minute(5, counter="m"), per_day(5, counter="d")], T0 + 0.5)
    finally:
        await store.close()
    with redis.Redis.from_url(redis_url) as client:
        assert client.ttl(f"{redis_prefix}:m") == 61  # when second T0 leaves the window
        assert client.ttl(f"{redis_prefix}:d") == 86_400 - int(T0) % 86_400  # at midnight


async def test_a_check_is_one_round_trip(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisRateLimitStore.from_url(redis_url, prefix=redis_prefix, timeout_s=2)
    limits = [per_minute(5, counter="m"), per_minute(50, cost=9, counter="t"), per_day(5)]
    sends = 0
    original = Connection.send_packed_command

    async def counting(self: Connection, *args: Any, **kwargs: Any) -> None:
        nonlocal sends
        sends += 1
        await original(self, *args, **kwargs)

    try:
        await store.admit(limits, T0)  # loads the script (once per Redis)
        monkeypatch.setattr(Connection, "send_packed_command", counting)
        assert await store.admit(limits, T0) is None
    finally:
        await store.close()
    assert sends == 1


async def test_memory_forgets_callers_gone_quiet() -> None:
    store = MemoryRateLimitStore()
    await store.admit([per_minute(5, counter="quiet")], T0)
    await store.admit([per_minute(5, counter="busy")], T0 + 200)
    assert set(store._counts) == {"busy"}


async def test_an_unreachable_redis_is_reported_at_once() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    store = rate_limit_store_create(redis_url=url, prefix="p", timeout_s=0.5)
    try:
        with pytest.raises(StoreUnavailable, match="ConnectionError"):
            await store.admit([per_minute(5)], T0)
    finally:
        await store.close()


def test_without_redis_url_the_store_is_this_process() -> None:
    made = rate_limit_store_create(redis_url="", prefix="p", timeout_s=1)
    assert isinstance(made, MemoryRateLimitStore)


# The limiter: which limits a request counts against


class FakeDb:
    """Answers the limiter's two queries: a key's override, a wallet's purchases."""

    vendor = "postgresql"

    def __init__(self) -> None:
        self.overrides: dict[int, tuple[int | None, int | None]] = {}
        self.purchased: dict[int, int] = {}
        self.queries = 0

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        row = await self.fetchone(sql, params)
        return [] if row is None else [row]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.queries += 1
        if "keyratelimit" in sql:
            return self.overrides.get(params[0])
        assert "creditpurchase" in sql
        assert params[1] == "succeeded"
        return (self.purchased.get(params[0], 0),)

    async def transaction(self, statements: Any) -> list[Any]:
        raise AssertionError("the limiter never writes")

    async def close(self) -> None:
        pass


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Unreachable(MemoryRateLimitStore):
    async def admit(self, limits: Sequence[Limit], now: float) -> Refusal | None:
        raise StoreUnavailable("ConnectionError: refused")


class NeverAsked(MemoryRateLimitStore):
    async def admit(self, limits: Sequence[Limit], now: float) -> Refusal | None:
        raise AssertionError("no limit applies: the store must not be asked")


KEY, USER, WALLET = 11, 22, 33


@dataclasses.dataclass(frozen=True)
class Caller:
    api_key_id: int
    user_id: int
    wallet_id: int | None


ALICE = Caller(api_key_id=KEY, user_id=USER, wallet_id=WALLET)
TEN_USD = 10 * 10**9


def chat(model: str = "openai/gpt-4o-mini", **fields: Any) -> ChatRequest:
    body = {"model": model, "messages": [{"role": "user", "content": "x" * 40}], **fields}
    return chat_request_parse(orjson.dumps(body))


FREE = "meta-llama/llama-3.1-8b-instruct:free"


def limiter(
    store: RateLimitStore | None = None, clock: Clock | None = None, **policy: Any
) -> RateLimiter:
    return RateLimiter(
        store or MemoryRateLimitStore(), policy=RateLimitPolicy(**policy), clock=clock or Clock()
    )


async def refusal_of(limiter: RateLimiter, db: FakeDb, request: ChatRequest) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(db, ALICE, request)
    return refused.value


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


async def test_free_models_are_limited_per_minute_per_account() -> None:
    db, limits = FakeDb(), limiter(rpm=0, free_rpm=2, free_rpd=50)
    other_key = dataclasses.replace(ALICE, api_key_id=KEY + 1)
    await limits.admit(db, ALICE, chat(FREE))
    await limits.admit(db, other_key, chat(FREE))
    refused = await refusal_of(limits, db, chat(FREE))
    assert refused.message.startswith(f"Rate limit exceeded: {FREE_PER_MIN}.")
    await limits.admit(db, ALICE, chat())  # paid models are not counted


async def test_a_request_naming_a_free_model_among_others_counts_as_free() -> None:
    db, limits = FakeDb(), limiter(free_rpm=1)
    await limits.admit(db, ALICE, chat(models=[FREE]))
    await refusal_of(limits, db, chat(FREE))


async def test_free_models_take_fifty_requests_a_day_until_ten_dollars_are_bought() -> None:
    db, clock = FakeDb(), Clock(MIDNIGHT)
    limits = limiter(clock=clock, free_rpm=0, cache_ttl_s=5)
    for _ in range(50):
        await limits.admit(db, ALICE, chat(FREE))
    refused = await refusal_of(limits, db, chat(FREE))
    assert refused.message == (
        "Rate limit exceeded: free-models-per-day. "
        "Add 10 credits to unlock 1000 free model requests per day"
    )
    assert dict(refused.headers)[b"x-ratelimit-reset"] == str(int(MIDNIGHT) + 86_400).encode()

    db.purchased[WALLET] = TEN_USD - 1
    clock.now += 5
    await refusal_of(limits, db, chat(FREE))
    db.purchased[WALLET] = TEN_USD
    clock.now += 5
    for _ in range(950):
        await limits.admit(db, ALICE, chat(FREE))
    refused = await refusal_of(limits, db, chat(FREE))
    assert refused.message == (
        "Rate limit exceeded: free-models-per-day. "
        "Free models take 1000 requests per UTC day per account"
    )

    clock.now = MIDNIGHT + 86_400  # a new UTC day
    await limits.admit(db, ALICE, chat(FREE))


async def test_purchases_are_read_once_per_ttl_and_only_for_free_requests() -> None:
    db, clock = FakeDb(), Clock()
    db.overrides[KEY] = (None, None)
    limits = limiter(clock=clock, cache_ttl_s=5)
    await limits.admit(db, ALICE, chat())
    assert db.queries == 1  # the key's override only
    await limits.admit(db, ALICE, chat(FREE))
    await limits.admit(db, ALICE, chat(FREE))
    assert db.queries == 2


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
