"""Rate limits, checked once per request before anything is held, shared by every replica.

The limits (0 turns one off):
  requests-per-min     per API key: RATE_LIMIT_RPM, or the key's `KeyRateLimit.rpm`
  tokens-per-min       per API key: RATE_LIMIT_TPM, or `KeyRateLimit.tpm`; a request counts its
                       prompt's estimated tokens plus its max_tokens (if given), at admission
  free-models-per-min  per account, on requests naming a `:free` model: FREE_TIER_RPM
  free-models-per-day  per account and UTC day on `:free` models: FREE_TIER_RPD, or
                       FREE_TIER_RPD_FUNDED once the account bought FREE_TIER_FUNDED_USD of credits

Counting: each limit keeps counts in time buckets. A minute limit is a sliding window of
one-second buckets; a request is admitted when it fits with what the current second and the 60
before it hold, so no stretch of 60 s ever admits more than the limit (at the price of a second
of extra caution). A token bucket or GCRA would admit a full burst and then the steady rate on
top: up to twice the limit within one minute. A daily limit is one bucket per UTC day, reset at
midnight.

One check covers all of a request's limits, all or nothing: it is counted in every one or in
none, and a refusal names the limit and when the request would fit (the 429's Retry-After and
X-RateLimit-* headers). In Redis that is one Lua script, one round trip, so replicas share exact
counts (their clocks must agree, as NTP keeps them); without REDIS_URL, this process's memory
(exact too: it is the only process). A request with no limit on makes no round trip. When Redis
cannot be reached the request is refused with a 503: limits fail closed, and as nothing has been
held yet, nothing is lost.
"""

from proxy.rate_limits.limiter import (
    FREE_PER_DAY,
    FREE_PER_MIN,
    REQUESTS_PER_MIN,
    TOKENS_PER_MIN,
    Caller,
    RateLimiter,
    RateLimitPolicy,
    rate_limit_store_create,
)
from proxy.rate_limits.memory import MemoryRateLimitStore
from proxy.rate_limits.redis_store import RedisRateLimitStore
from proxy.rate_limits.store import (
    MINUTE,
    UTC_DAY,
    Limit,
    RateLimitStore,
    Refusal,
    StoreUnavailable,
    Window,
)

__all__ = [
    "FREE_PER_DAY",
    "FREE_PER_MIN",
    "MINUTE",
    "REQUESTS_PER_MIN",
    "TOKENS_PER_MIN",
    "UTC_DAY",
    "Caller",
    "Limit",
    "MemoryRateLimitStore",
    "RateLimitPolicy",
    "RateLimitStore",
    "RateLimiter",
    "RedisRateLimitStore",
    "Refusal",
    "StoreUnavailable",
    "Window",
    "rate_limit_store_create",
]
