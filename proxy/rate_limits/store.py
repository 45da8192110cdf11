"""What a store counts (limits in time buckets), what it answers, and the one interface."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Window:
    """Buckets of `bucket_s` seconds counted from the epoch; a check counts the current bucket
    and the `span - 1` before it."""

    bucket_s: int
    span: int

    def bucket(self, now: float) -> int:
        return int(now // self.bucket_s)

    def leaves_at(self, bucket: int) -> int:
        """When a bucket stops being counted (unix seconds)."""
        return (bucket + self.span) * self.bucket_s


MINUTE = Window(bucket_s=1, span=61)
UTC_DAY = Window(bucket_s=86_400, span=1)  # epoch days start at midnight UTC


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    counter: str  # its counts' name in the store
    limit: int
    cost: int  # what this request counts
    window: Window


@dataclass(frozen=True, slots=True)
class Refusal:
    limit: Limit
    used: int  # what the window held
    reset_at: int  # when the request would fit (unix seconds)

    @property
    def remaining(self) -> int:
        return max(self.limit.limit - self.used, 0)


class StoreUnavailable(Exception):
    """The store could not be reached (or answered too late): nothing was counted."""


class RateLimitStore(Protocol):
    async def admit(self, limits: Sequence[Limit], now: float) -> Refusal | None:
        """Count the request in every limit, or in none and say which refused it. `now` is
        passed in (epoch seconds): a store never reads the clock."""
        ...

    async def close(self) -> None: ...
