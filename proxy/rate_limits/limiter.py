"""Which limits a request counts against, and its answer when one refuses it."""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from billing.models import CreditPurchase
from billing.money import format_usd
from marketplace.asyncdb import AsyncDb
from proxy.chat_request import ChatRequest
from proxy.errors import InvalidRequest, RateLimited, RateLimitUnavailable
from proxy.metrics import RATE_LIMIT_REJECTIONS
from proxy.models import KeyRateLimit
from proxy.rate_limits.memory import MemoryRateLimitStore
from proxy.rate_limits.redis_store import RedisRateLimitStore
from proxy.rate_limits.store import (
    MINUTE,
    UTC_DAY,
    Limit,
    RateLimitStore,
    Refusal,
    StoreUnavailable,
)
from proxy.routing.preferences import Variant

logger = logging.getLogger(__name__)

REQUESTS_PER_MIN = "requests-per-min"
TOKENS_PER_MIN = "tokens-per-min"
FREE_PER_MIN = "free-models-per-min"
FREE_PER_DAY = "free-models-per-day"


def rate_limit_store_create(*, redis_url: str, prefix: str, timeout_s: float) -> RateLimitStore:
    """Redis, shared by every replica, when it is configured; else this process's memory."""
    if redis_url:
        return RedisRateLimitStore.from_url(redis_url, prefix=prefix, timeout_s=timeout_s)
    return MemoryRateLimitStore()


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """The operator's limits (0 = unlimited); see proxy.rate_limits."""

    rpm: int = 0
    tpm: int = 0
    free_rpm: int = 20
    free_rpd: int = 50
    free_rpd_funded: int = 1000
    funded_nanos: int = 10_000_000_000
    # How long a gateway trusts what it read of a key's override or an account's purchases.
    cache_ttl_s: float = 5.0


@dataclass(frozen=True, slots=True)
class KeyLimits:
    rpm: int
    tpm: int


class Caller(Protocol):
    """What the limiter needs of an authenticated caller (proxy.auth.Principal)."""

    @property
    def api_key_id(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def wallet_id(self) -> int | None: ...


class _Recent[K, V]:
    """Values read in the last `ttl_s` seconds."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._values: dict[K, tuple[float, V]] = {}

    def get(self, key: K, now: float) -> V | None:
        entry = self._values.get(key)
        return entry[1] if entry is not None and now - entry[0] < self._ttl_s else None

    def put(self, key: K, value: V, now: float) -> None:
        if len(self._values) >= self.MAX_ENTRIES:
            self._values = {k: e for k, e in self._values.items() if now - e[0] < self._ttl_s}
        self._values[key] = (now, value)


def _override_sql() -> str:
    return f"SELECT rpm, tpm FROM {KeyRateLimit._meta.db_table} WHERE api_key_id = %s"  # noqa: S608


def _purchased_sql() -> str:
    return (
        f"SELECT COALESCE(SUM(amount_nanos), 0) FROM {CreditPurchase._meta.db_table} "  # noqa: S608
        "WHERE wallet_id = %s AND status = %s"
    )


class RateLimiter:
    """Decides which limits a request counts against and asks the store to admit it."""

    UNAVAILABLE_LOG_EVERY_S = 10.0

    def __init__(
        self,
        store: RateLimitStore,
        *,
        policy: RateLimitPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.policy = policy or RateLimitPolicy()
        self._clock = clock
        self._key_limits: _Recent[int, KeyLimits] = _Recent(self.policy.cache_ttl_s)
        self._funded: _Recent[int, bool] = _Recent(self.policy.cache_ttl_s)
        self._unavailable_logged_at = -math.inf

    async def admit(self, db: AsyncDb, principal: Caller, request: ChatRequest) -> None:
        """Count the request, or raise RateLimited (429), InvalidRequest (400: it can never
        fit) or RateLimitUnavailable (503)."""
        limits = await self.limits(db, principal, request)
        if not limits:
            return
        now = self._clock()
        try:
            refusal = await self.store.admit(limits, now)
        except StoreUnavailable as exc:
            self._log_unavailable(exc, now)
            raise RateLimitUnavailable("Rate limiting is unavailable; retry shortly") from None
        if refusal is not None:
            RATE_LIMIT_REJECTIONS.labels(refusal.limit.name).inc()
            raise self._refused(refusal, now)

    async def limits(self, db: AsyncDb, principal: Caller, request: ChatRequest) -> list[Limit]:
        own = await self._limits_of_key(db, principal.api_key_id)
        # Every counter of a request shares one hash tag, so a Redis Cluster can run the script.
        key = f"{{u{principal.user_id}}}:key:{principal.api_key_id}"
        limits = []
        if own.rpm:
            limits.append(Limit(REQUESTS_PER_MIN, f"{key}:requests", own.rpm, 1, MINUTE))
        if own.tpm:
            tokens = request.prompt_tokens_estimate + (request.max_tokens or 0)
            if tokens > own.tpm:
                raise InvalidRequest(
                    f"This request counts {tokens} tokens (its prompt's estimate plus max_tokens) "
                    f"but this API key may use {own.tpm} tokens per minute: lower max_tokens"
                )
            limits.append(Limit(TOKENS_PER_MIN, f"{key}:tokens", own.tpm, tokens, MINUTE))
        if any(model.variant is Variant.FREE for model in request.models):
            limits += await self._free_limits(db, principal)
        return limits

    async def _limits_of_key(self, db: AsyncDb, api_key_id: int) -> KeyLimits:
        now = self._clock()
        cached = self._key_limits.get(api_key_id, now)
        if cached is not None:
            return cached
        row = await db.fetchone(_override_sql(), (api_key_id,))
        rpm, tpm = row if row is not None else (None, None)
        own = KeyLimits(
            rpm=self.policy.rpm if rpm is None else rpm,
            tpm=self.policy.tpm if tpm is None else tpm,
        )
        self._key_limits.put(api_key_id, own, now)
        return own

    async def _free_limits(self, db: AsyncDb, principal: Caller) -> list[Limit]:
        policy = self.policy
        user = f"{{u{principal.user_id}}}:free"
        limits = []
        if policy.free_rpm:
            limits.append(Limit(FREE_PER_MIN, f"{user}:minute", policy.free_rpm, 1, MINUTE))
        daily = policy.free_rpd
        if policy.free_rpd_funded != policy.free_rpd and await self._is_funded(db, principal):
            daily = policy.free_rpd_funded
        if daily:
            limits.append(Limit(FREE_PER_DAY, f"{user}:day", daily, 1, UTC_DAY))
        return limits

    async def _is_funded(self, db: AsyncDb, principal: Caller) -> bool:
        """Whether the account has bought at least `funded_nanos` of credits (refunds aside)."""
        if principal.wallet_id is None:
            return False
        now = self._clock()
        cached = self._funded.get(principal.user_id, now)
        if cached is not None:
            return cached
        params = (principal.wallet_id, CreditPurchase.Status.SUCCEEDED.value)
        row = await db.fetchone(_purchased_sql(), params)
        funded = row is not None and int(row[0]) >= self.policy.funded_nanos
        self._funded.put(principal.user_id, funded, now)
        return funded

    def _refused(self, refusal: Refusal, now: float) -> RateLimited:
        return RateLimited(
            self._message(refusal.limit),
            limit=refusal.limit.limit,
            remaining=refusal.remaining,
            reset_at=refusal.reset_at,
            retry_after_s=max(math.ceil(refusal.reset_at - now), 1),
        )

    def _message(self, limit: Limit) -> str:
        policy, n = self.policy, limit.limit
        explanation = {
            REQUESTS_PER_MIN: f"This API key may send {n} requests per minute",
            TOKENS_PER_MIN: f"This API key may use {n} tokens per minute (a request counts its "
            f"prompt's estimated tokens plus max_tokens; this one {limit.cost})",
            FREE_PER_MIN: f"Free models take {n} requests per minute per account",
            FREE_PER_DAY: f"Free models take {n} requests per UTC day per account",
        }[limit.name]
        if limit.name == FREE_PER_DAY and n < policy.free_rpd_funded:
            explanation = (
                f"Add {format_usd(policy.funded_nanos)} credits to unlock "
                f"{policy.free_rpd_funded} free model requests per day"
            )
        return f"Rate limit exceeded: {limit.name}. {explanation}"

    def _log_unavailable(self, exc: StoreUnavailable, now: float) -> None:
        # Once in a while, not once per refused request.
        if now - self._unavailable_logged_at >= self.UNAVAILABLE_LOG_EVERY_S:
            self._unavailable_logged_at = now
            logger.error("rate limits unavailable, refusing requests: %s", exc)

    async def close(self) -> None:
        await self.store.close()
