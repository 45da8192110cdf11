"""What the rate-limit tests share: the hand-moved time, limits, and the limiter's fakes (a
database, a clock, stores that fail) and callers."""

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from proxy.chat_request import ChatRequest, chat_request_parse
from proxy.errors import RateLimited
from proxy.rate_limits import (
    FREE_PER_DAY,
    MINUTE,
    REQUESTS_PER_MIN,
    UTC_DAY,
    Limit,
    MemoryRateLimitStore,
    RateLimiter,
    RateLimitPolicy,
    RateLimitStore,
    Refusal,
    StoreUnavailable,
)

T0 = 1_699_999_200.0  # on the minute (and the hour)
MIDNIGHT = datetime(2023, 11, 15, tzinfo=UTC).timestamp()


def per_minute(limit: int, cost: int = 1, counter: str = "k") -> Limit:
    return Limit(REQUESTS_PER_MIN, counter, limit, cost, MINUTE)


def per_day(limit: int, counter: str = "d") -> Limit:
    return Limit(FREE_PER_DAY, counter, limit, 1, UTC_DAY)


async def admitted(store: RateLimitStore, limits: Sequence[Limit], now: float) -> bool:
    return await store.admit(limits, now) is None


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
