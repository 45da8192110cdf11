"""Reads for the activity page: one user's generations, filtered, paged and summed.

Rows come from `generations_filtered`, which pins the user first, so the indexes on
(user, -created_at), (user, api_key, -created_at) and (user, model_slug, -created_at) serve
every filter. Pages are keyset pages on (created_at, id), newest first: a page costs the same
at the start and 100,000 rows deep, and rows arriving meanwhile do not shift it.

Sums come from `GenerationDay`, the daily roll-up that triggers keep equal to the rows: a
30-day range is at most 30 x keys x models small rows, however many generations it holds.
Days are UTC days, for the rows and the roll-up alike.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet, Sum

from billing.models import Generation, GenerationDay

PAGE_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ActivityFilter:
    """Whose generations, from which key (None: any) and model ("": any), over which days
    (both included, in the site's time zone)."""

    user_id: int
    key_id: int | None
    model_slug: str
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class Cursor:
    """A position in the newest-first order, written into page links as `<µs>.<id>`."""

    created_at: datetime
    generation_id: str

    @classmethod
    def of(cls, generation: Generation) -> "Cursor":
        return cls(generation.created_at, generation.id)

    @classmethod
    def parse(cls, text: str) -> "Cursor | None":
        micros, _, generation_id = text.partition(".")
        if not micros.isdigit() or not generation_id:
            return None
        return cls(_EPOCH + timedelta(microseconds=int(micros)), generation_id)

    def __str__(self) -> str:
        return f"{(self.created_at - _EPOCH) // timedelta(microseconds=1)}.{self.generation_id}"


@dataclass(frozen=True)
class GenerationPage:
    rows: list[Generation]
    newer: Cursor | None  # the first row, when newer rows exist
    older: Cursor | None  # the last row, when older rows exist


@dataclass(frozen=True)
class Totals:
    label: str  # the day (ISO) or the model's slug
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_nanos: int


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def generations_filtered(*, activity: ActivityFilter) -> QuerySet[Generation]:
    rows = Generation.objects.filter(
        user_id=activity.user_id,
        created_at__gte=_day_start(activity.start),
        created_at__lt=_day_start(activity.end + timedelta(days=1)),
    )
    if activity.key_id is not None:
        rows = rows.filter(api_key_id=activity.key_id)
    if activity.model_slug:
        rows = rows.filter(model_slug=activity.model_slug)
    return rows


def generation_page(
    *,
    activity: ActivityFilter,
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> GenerationPage:
    """Up to `size` rows older than `before`, or newer than `after`, or the newest."""
    rows = generations_filtered(activity=activity).select_related("api_key")
    if after is not None:
        # The `gte` bound gives the index a range; the OR only breaks ties within it.
        newer = rows.filter(created_at__gte=after.created_at).filter(
            Q(created_at__gt=after.created_at) | Q(id__gt=after.generation_id)
        )
        found = list(newer.order_by("created_at", "id")[: size + 1])
        if len(found) < size:  # fewer than a page remain above: show the newest page
            return generation_page(activity=activity, size=size)
        page = found[:size][::-1]
        return GenerationPage(
            page, Cursor.of(page[0]) if len(found) > size else None, Cursor.of(page[-1])
        )
    if before is not None:
        rows = rows.filter(created_at__lte=before.created_at).filter(
            Q(created_at__lt=before.created_at) | Q(id__lt=before.generation_id)
        )
    found = list(rows.order_by("-created_at", "-id")[: size + 1])
    page = found[:size]
    return GenerationPage(
        page,
        Cursor.of(page[0]) if before is not None and page else None,
        Cursor.of(page[-1]) if len(found) > size else None,
    )


def _totals(label: str, row: Mapping[str, Any]) -> Totals:
    return Totals(label, row["requests"], row["prompt"], row["completion"], row["cost"])


def generation_days_filtered(*, activity: ActivityFilter) -> QuerySet[GenerationDay]:
    """The daily roll-up rows behind `generations_filtered` (the same user, key, model, days)."""
    days = GenerationDay.objects.filter(
        user_id=activity.user_id, day__gte=activity.start, day__lte=activity.end
    )
    if activity.key_id is not None:
        days = days.filter(key_id=activity.key_id)
    if activity.model_slug:
        days = days.filter(model_slug=activity.model_slug)
    return days


def totals_by_day(*, activity: ActivityFilter) -> list[Totals]:
    """One entry per day of the range, days without generations included (as zeros)."""
    grouped = (
        generation_days_filtered(activity=activity)
        .values("day")
        .annotate(
            requests=Sum("requests"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum("cost_nanos"),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in grouped}
    empty = {"requests": 0, "prompt": 0, "completion": 0, "cost": 0}
    return [_totals(day.isoformat(), by_day.get(day, empty)) for day in activity.days]


def totals_by_model(*, activity: ActivityFilter) -> list[Totals]:
    """Per model, the most spent first."""
    grouped = (
        generation_days_filtered(activity=activity)
        .values("model_slug")
        .annotate(
            requests=Sum("requests"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum("cost_nanos"),
        )
        .order_by("-cost", "model_slug")
    )
    return [_totals(row["model_slug"], row) for row in grouped]


def totals_overall(parts: Iterable[Totals]) -> Totals:
    """The sum of per-model (or per-day) totals: a few rows already summed by the database."""
    parts = list(parts)
    return Totals(
        "all",
        sum(part.requests for part in parts),
        sum(part.prompt_tokens for part in parts),
        sum(part.completion_tokens for part in parts),
        sum(part.cost_nanos for part in parts),
    )


def generation_models_used(*, user_id: int) -> list[str]:
    """The models a user has ever called (from the roll-up: a row per day and model)."""
    slugs = GenerationDay.objects.filter(user_id=user_id).order_by("model_slug")
    return list(slugs.values_list("model_slug", flat=True).distinct())


EXPORT_FIELDS = (
    "id",
    "created_at",
    "model_slug",
    "provider_slug",
    "api_key__name",
    "prompt_tokens",
    "completion_tokens",
    "cost_nanos",
    "latency_ms",
    "finish_reason",
    "cancelled",
)


def generations_for_export(*, activity: ActivityFilter) -> QuerySet[Generation, tuple[Any, ...]]:
    """Plain tuples of `EXPORT_FIELDS`, newest first (no model instances for 100,000 rows)."""
    rows = generations_filtered(activity=activity).order_by("-created_at", "-id")
    return rows.values_list(*EXPORT_FIELDS)
