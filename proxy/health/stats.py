"""Rolling statistics of one endpoint: uptime and percentiles from time buckets.

Outcomes are counted per minute (read for the 5- and 30-minute windows) and per hour (read
for the day); latency and throughput samples are kept per minute, at most
`SAMPLES_PER_MINUTE` of the newest, so storage stays bounded however busy an endpoint is.
A window of N buckets ends with the current, partial one. These figures are shown to people
and steer routing; they are floats because they are not money.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

SHORT_WINDOW_MINUTES = 5
LONG_WINDOW_MINUTES = 30
DAY_WINDOW_HOURS = 24
SAMPLES_PER_MINUTE = 200
# Kept one bucket longer than read, so a bucket never expires while a window still needs it.
MINUTE_BUCKET_TTL_S = (LONG_WINDOW_MINUTES + 1) * 60
HOUR_BUCKET_TTL_S = (DAY_WINDOW_HOURS + 1) * 3600


class Outcome(StrEnum):
    OK = "ok"
    ERROR = "error"
    RATE_LIMITED = "rate_limited"  # a 429: the provider is up, so not an error for uptime


@dataclass(frozen=True, slots=True)
class Counts:
    ok: int = 0
    error: int = 0
    rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class Buckets:
    """The raw figures of one endpoint's windows, newest bucket first: `LONG_WINDOW_MINUTES`
    minutes (counts and the samples of each) and `DAY_WINDOW_HOURS` hours (counts)."""

    minutes: Sequence[Counts]
    hours: Sequence[Counts]
    latency_ms: Sequence[Sequence[float]]
    throughput_tps: Sequence[Sequence[float]]


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float
    p75: float
    p90: float
    p99: float


@dataclass(frozen=True, slots=True)
class EndpointStats:
    endpoint_id: int
    uptime_last_5m: float | None  # percent of ok among ok + error; None without either
    uptime_last_30m: float | None
    uptime_last_1d: float | None
    requests_last_30m: int  # every recorded outcome, rate limited ones included
    latency_last_5m: Percentiles | None  # time to first token, ms; None without samples
    latency_last_30m: Percentiles | None
    throughput_last_5m: Percentiles | None  # tokens per second
    throughput_last_30m: Percentiles | None


def minute_of(now: float) -> int:
    return int(now // 60)


def hour_of(now: float) -> int:
    return int(now // 3600)


def window_minutes(now: float) -> list[int]:
    """The minute buckets of the long window, newest first."""
    current = minute_of(now)
    return [current - age for age in range(LONG_WINDOW_MINUTES)]


def window_hours(now: float) -> list[int]:
    """The hour buckets of the day window, newest first."""
    current = hour_of(now)
    return [current - age for age in range(DAY_WINDOW_HOURS)]


def stats_from_buckets(endpoint_id: int, buckets: Buckets) -> EndpointStats:
    short = slice(0, SHORT_WINDOW_MINUTES)
    return EndpointStats(
        endpoint_id=endpoint_id,
        uptime_last_5m=uptime_percent(buckets.minutes[short]),
        uptime_last_30m=uptime_percent(buckets.minutes),
        uptime_last_1d=uptime_percent(buckets.hours),
        requests_last_30m=sum(c.ok + c.error + c.rate_limited for c in buckets.minutes),
        latency_last_5m=percentiles(_flatten(buckets.latency_ms[short])),
        latency_last_30m=percentiles(_flatten(buckets.latency_ms)),
        throughput_last_5m=percentiles(_flatten(buckets.throughput_tps[short])),
        throughput_last_30m=percentiles(_flatten(buckets.throughput_tps)),
    )


def uptime_percent(counts: Sequence[Counts]) -> float | None:
    ok = sum(c.ok for c in counts)
    answered = ok + sum(c.error for c in counts)
    if answered == 0:
        return None
    return ok / answered * 100


def percentiles(samples: Sequence[float]) -> Percentiles | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return Percentiles(
        p50=nearest_rank(ordered, 50),
        p75=nearest_rank(ordered, 75),
        p90=nearest_rank(ordered, 90),
        p99=nearest_rank(ordered, 99),
    )


def nearest_rank(ordered: Sequence[float], percent: int) -> float:
    """The smallest sample that at least `percent`% of the samples do not exceed."""
    rank = -(-percent * len(ordered) // 100)  # ceil, in integers so 0.29 * 100 cannot bite
    return ordered[max(rank, 1) - 1]


def _flatten(per_minute: Sequence[Sequence[float]]) -> list[float]:
    return [sample for minute in per_minute for sample in minute]
