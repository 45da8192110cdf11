"""The Lua scripts of the Redis store: each update is one atomic step, and stats one read.

The record scripts repeat the rules of `policy.py` (the tests run both stores side by side
to keep them in step). Python computes every key, bucket number included, so the scripts
never round time. A circuit hash holds: consecutive_failures, ejections, open_until,
trial_until, last_request_at; the record scripts return those five fields, as written.
"""

CIRCUIT_FIELDS = (
    "consecutive_failures",
    "ejections",
    "open_until",
    "trial_until",
    "last_request_at",
)

_PRELUDE = """
local function number(value) return tonumber(value) or 0 end
-- Lua would print a float with 14 digits; 17 read back as the very same double.
local function exact(value) return string.format('%.17g', value) end

local function circuit_read(key)
  local f = redis.call('HMGET', key, 'consecutive_failures', 'ejections', 'open_until',
                       'trial_until', 'last_request_at')
  return {failures = number(f[1]), ejections = number(f[2]), open_until = number(f[3]),
          trial_until = number(f[4]), last_request_at = number(f[5])}
end

local function circuit_write(key, c)
  local f = {string.format('%d', c.failures), string.format('%d', c.ejections),
             exact(c.open_until), exact(c.trial_until), exact(c.last_request_at)}
  redis.call('HSET', key, 'consecutive_failures', f[1], 'ejections', f[2],
             'open_until', f[3], 'trial_until', f[4], 'last_request_at', f[5])
  return f
end

-- Count outcomes (one, unless `by` says more) in the minute (KEYS[2]) and hour (KEYS[3])
-- buckets, which expire.
local function count(outcome, minute_ttl, hour_ttl, by)
  redis.call('HINCRBY', KEYS[2], outcome, by or 1)
  redis.call('EXPIRE', KEYS[2], minute_ttl)
  redis.call('HINCRBY', KEYS[3], outcome, by or 1)
  redis.call('EXPIRE', KEYS[3], hour_ttl)
end
"""

RECORD_FAILURE = (
    _PRELUDE
    + """
-- KEYS: circuit, minute counts, hour counts, then the circuits of the model's other endpoints.
-- ARGV: now, failure_threshold, base_cooldown_s, max_cooldown_s, minute_ttl, hour_ttl.
local now = tonumber(ARGV[1])

local function siblings_all_open()
  for i = 4, #KEYS do
    if now >= number(redis.call('HGET', KEYS[i], 'open_until')) then return false end
  end
  return true
end

local c = circuit_read(KEYS[1])
local failures = c.failures + 1
local resting = now < c.open_until
local half_open = not resting and c.ejections > 0
local closed = not resting and c.ejections == 0
if half_open or (closed and failures >= tonumber(ARGV[2]) and not siblings_all_open()) then
  c.ejections = c.ejections + 1
  local cooldown = tonumber(ARGV[3]) * 2 ^ math.min(c.ejections - 1, 64)
  c.open_until = now + math.min(cooldown, tonumber(ARGV[4]))
  c.failures = 0
else
  c.failures = failures
end
c.trial_until = 0
c.last_request_at = now
count('error', ARGV[5], ARGV[6])
return circuit_write(KEYS[1], c)
"""
)

RECORD_SUCCESS = (
    _PRELUDE
    + """
-- KEYS: circuit, minute counts, hour counts, latency samples, throughput samples.
-- ARGV: now, successes, samples kept, minute_ttl, hour_ttl, number of latency samples L,
--       then L latency samples, then the throughput samples (oldest first).
local now = tonumber(ARGV[1])
local latencies = tonumber(ARGV[6])

-- The newest samples of the minute come first; older ones past the cap are dropped.
local function sample(key, first, last)
  if first > last then return end
  redis.call('LPUSH', key, unpack(ARGV, first, last))
  redis.call('LTRIM', key, 0, tonumber(ARGV[3]) - 1)
  redis.call('EXPIRE', key, ARGV[4])
end

local c = circuit_read(KEYS[1])
if now >= c.open_until and c.ejections > 0 then
  -- A half-open endpoint answered: the trial passed and it is closed again.
  c.ejections = 0
  c.open_until = 0
end
c.failures = 0
c.trial_until = 0
c.last_request_at = now
count('ok', ARGV[4], ARGV[5], tonumber(ARGV[2]))
sample(KEYS[4], 7, 6 + latencies)
sample(KEYS[5], 7 + latencies, #ARGV)
return circuit_write(KEYS[1], c)
"""
)

RECORD_RATE_LIMITED = (
    _PRELUDE
    + """
-- KEYS: circuit, minute counts, hour counts. ARGV: now, retry_after_s, minute_ttl, hour_ttl.
-- The endpoint rests as asked; failures and ejections are left as they are.
local now = tonumber(ARGV[1])
local c = circuit_read(KEYS[1])
c.open_until = math.max(c.open_until, now + tonumber(ARGV[2]))
c.trial_until = 0
c.last_request_at = now
count('rate_limited', ARGV[3], ARGV[4])
return circuit_write(KEYS[1], c)
"""
)

TRIAL_ACQUIRE = (
    _PRELUDE
    + """
-- KEYS: circuit. ARGV: now, trial_timeout_s. Returns 1 to the one caller that takes the lease.
local now = tonumber(ARGV[1])
local c = circuit_read(KEYS[1])
local half_open = now >= c.open_until and c.ejections > 0
if not half_open or c.trial_until > now then return 0 end
redis.call('HSET', KEYS[1], 'trial_until', exact(now + tonumber(ARGV[2])))
return 1
"""
)

READ_BUCKETS = """
-- One command instead of a pipeline of ~114 per endpoint, and one string per endpoint instead
-- of a reply per sample: the client's parsing of thousands of replies was the slow part.
-- KEYS: per endpoint, its minute counts, hour counts, latency and throughput keys, in order.
-- ARGV: minute buckets, hour buckets. Returns per endpoint one string of its keys' values,
-- separated by ';': 'ok,error,rate_limited' for counts, 'sample,sample,...' for samples.
local minutes, hours = tonumber(ARGV[1]), tonumber(ARGV[2])
local per_endpoint = 3 * minutes + hours
local endpoints, values = {}, {}
for i, key in ipairs(KEYS) do
  local position = (i - 1) % per_endpoint
  if position < minutes + hours then
    local c = redis.call('HMGET', key, 'ok', 'error', 'rate_limited')
    values[position + 1] = (c[1] or '0') .. ',' .. (c[2] or '0') .. ',' .. (c[3] or '0')
  else
    values[position + 1] = table.concat(redis.call('LRANGE', key, 0, -1), ',')
  end
  if position + 1 == per_endpoint then
    table.insert(endpoints, table.concat(values, ';'))
  end
end
return endpoints
"""
