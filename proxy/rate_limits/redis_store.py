"""Counts in Redis, shared by every replica: each check is one Lua script, one round trip.

Keys, all under the store's prefix P: P:<counter>, a hash of bucket number -> count, plus
'total' (the sum of the counts) and 'oldest' (the oldest bucket that may hold one); it expires
when its newest bucket leaves the window.
"""

import math
from collections.abc import Sequence
from typing import Self

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from proxy.rate_limits.store import Limit, Refusal, StoreUnavailable

# The same rules as MemoryRateLimitStore.admit (the tests run both stores alike). Python
# computes every bucket number, so the script never rounds time. Each hash also keeps the sum
# of its counts and the oldest bucket that may hold one, so a check reads a couple of fields
# and not the whole window: each bucket is read once more when it leaves the window, and a
# refusal reads the oldest buckets only until it has found room for the request.
ADMIT_SCRIPT = """
-- KEYS: one hash per limit: 'total', 'oldest', and bucket number -> count.
-- ARGV: per limit, six values: limit, cost, current bucket, span, bucket seconds, and the
-- seconds until the current bucket leaves the window (the hash's time to live).
-- Returns {0} when admitted (and counted in every limit), else {limit index, used, reset_at}.
local function arg(i, field) return tonumber(ARGV[(i - 1) * 6 + field]) end
local function count_of(key, b) return tonumber(redis.call('HGET', key, string.format('%d', b))) end

-- The window's total, and the oldest bucket that may count, once older buckets are dropped.
local function window(key, bucket, span)
  local state = redis.call('HMGET', key, 'total', 'oldest')
  local horizon = bucket - span + 1
  local total, oldest = tonumber(state[1]) or 0, tonumber(state[2]) or horizon
  if oldest >= horizon then return total, oldest end
  if horizon - oldest >= span then  -- every bucket written has left the window
    redis.call('DEL', key)
    return 0, horizon
  end
  for b = oldest, horizon - 1 do
    local count = count_of(key, b)
    if count then
      total = total - count
      redis.call('HDEL', key, string.format('%d', b))
    end
  end
  return total, horizon
end

local totals, oldests = {}, {}
for i = 1, #KEYS do
  local limit, cost, bucket, span, bucket_s = arg(i, 1), arg(i, 2), arg(i, 3), arg(i, 4), arg(i, 5)
  local total, oldest = window(KEYS[i], bucket, span)
  if total + cost > limit then
    local excess, reset_at, first = total + cost - limit, (bucket + span) * bucket_s, nil
    for b = oldest, bucket do
      local count = count_of(KEYS[i], b)
      if count then
        first = first or b
        excess = excess - count
        if excess <= 0 then
          reset_at = (b + span) * bucket_s
          break
        end
      end
    end
    -- The buckets before `first` are empty: the next check need not read them again.
    redis.call('HSET', KEYS[i], 'total', total, 'oldest', first or oldest)
    return {i, total, reset_at}
  end
  totals[i], oldests[i] = total, oldest
end
for i = 1, #KEYS do
  local cost = arg(i, 2)
  redis.call('HINCRBY', KEYS[i], ARGV[(i - 1) * 6 + 3], cost)
  redis.call('HSET', KEYS[i], 'total', totals[i] + cost, 'oldest', oldests[i])
  redis.call('EXPIRE', KEYS[i], ARGV[(i - 1) * 6 + 6])
end
return {0}
"""


class RedisRateLimitStore:
    """Counts in Redis under `prefix`, shared by every replica; each check one EVALSHA."""

    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        """The store owns `client` and closes it in `close`."""
        self._client = client
        self._prefix = prefix
        self._admit = client.register_script(ADMIT_SCRIPT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str, timeout_s: float) -> Self:
        # Fail fast: a request waits at most about twice `timeout_s` before its 503, and a
        # connection broken since its last use is retried once, at once.
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), retries=1),
        )
        return cls(client, prefix=prefix)

    async def admit(self, limits: Sequence[Limit], now: float) -> Refusal | None:
        keys = [f"{self._prefix}:{limit.counter}" for limit in limits]
        args = []
        for limit in limits:
            window, bucket = limit.window, limit.window.bucket(now)
            ttl_s = math.ceil(window.leaves_at(bucket) - now)
            args += [limit.limit, limit.cost, bucket, window.span, window.bucket_s, ttl_s]
        try:
            index, *refusal = await self._admit(keys, args)
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not index:
            return None
        used, reset_at = refusal
        return Refusal(limits[index - 1], int(used), int(reset_at))

    async def close(self) -> None:
        await self._client.aclose()
