"""How fast the activity page and its CSV export are for one user with 100,000 generations.

Usage (from the repository root):
    .venv/bin/python bench/activity_page.py                 (a fresh SQLite file, removed after)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchyard_activity_bench \\
        .venv/bin/python bench/activity_page.py             (an existing database; rows removed)

The user's rows are spread over the last 30 days (the page's default range, so every one is
summed), across 3 keys and 8 models; another user has 20,000 rows of their own. Each case is
requested through Django's test client (the whole stack: session, middleware, template) and
timed; the database queries of the default page are listed with their own times.
"""

import functools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
_TEMP = None if os.environ.get("DATABASE_URL") else tempfile.TemporaryDirectory()
if _TEMP is not None:
    os.environ["DATABASE_URL"] = f"sqlite:///{_TEMP.name}/bench.sqlite3"
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402
from django.db.models.functions import TruncDate  # noqa: E402
from django.http import StreamingHttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing.models import Generation  # noqa: E402
from marketplace.accounts.models import User  # noqa: E402
from marketplace.dashboard.activity_selectors import (  # noqa: E402
    ActivityFilter,
    Cursor,
    generations_filtered,
)
from marketplace.keys.models import ApiKey  # noqa: E402
from marketplace.keys.services import api_key_create  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
OTHER_ROWS = 20_000
# BENCH_KEEP=1 keeps the rows (and reuses them on the next run): for trying query plans.
KEEP = os.environ.get("BENCH_KEEP") == "1"
DAYS = 30
REPEAT = 5
MODELS = [f"vendor-{n % 3}/model-{n}" for n in range(8)]
EMAIL = "activity-bench@switchyard.local"
OTHER_EMAIL = "activity-bench-other@switchyard.local"


def _remove_bench_users() -> None:
    users = User.objects.filter(email__in=[EMAIL, OTHER_EMAIL])
    Generation.objects.filter(user__in=users).delete()
    ApiKey.objects.filter(user__in=users).delete()
    users.delete()


def _fill(user: User, keys: list[ApiKey], rows: int, prefix: str) -> None:
    rng = random.Random(prefix)
    now = timezone.now()
    span_s = DAYS * 86_400 - 3_600
    batch: list[Generation] = []
    for n in range(rows):
        prompt, completion = rng.randint(10, 4000), rng.randint(1, 2000)
        batch.append(Generation(
            id=f"{prefix}-{n:07d}", user=user, api_key=keys[n % len(keys)],
            model_slug=MODELS[rng.randrange(len(MODELS))], provider_slug="nimbus",
            prompt_tokens=prompt, completion_tokens=completion,
            cost_nanos=prompt * 150 + completion * 600 + rng.randint(0, 999),
            latency_ms=rng.randint(80, 3000), generation_time_ms=rng.randint(100, 20_000),
            finish_reason=rng.choice(["stop"] * 8 + ["length", "error"]),
            cancelled=rng.random() < 0.02,
            created_at=now - timedelta(seconds=rng.randint(0, span_s)),
        ))  # fmt: skip
        if len(batch) == 5_000:
            Generation.objects.bulk_create(batch)
            batch = []
    Generation.objects.bulk_create(batch)


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    """Median and best of REPEAT runs, in milliseconds (after one warm-up run)."""
    run()
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    call_command("migrate", verbosity=0)
    user = User.objects.filter(email=EMAIL).first()
    if not (KEEP and user and Generation.objects.filter(user=user).count() == ROWS):
        _remove_bench_users()
        user = User.objects.create_user(email=EMAIL)
        keys = [api_key_create(user=user, name=f"key-{n}")[0] for n in range(3)]
        other = User.objects.create_user(email=OTHER_EMAIL)
        started = time.perf_counter()
        _fill(user, keys, ROWS, "gen-bench")
        _fill(other, [api_key_create(user=other, name="other")[0]], OTHER_ROWS, "gen-other")
        print(f"{connection.vendor}: inserted {ROWS + OTHER_ROWS:,} generations "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        if connection.vendor == "postgresql":
            # What autovacuum does soon after such an insert; without statistics the planner
            # takes the new table for empty.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    try:
        _measure(user, list(ApiKey.objects.filter(user=user).order_by("name")))
    finally:
        if not KEEP:
            _remove_bench_users()


def _measure(user: User, keys: list[ApiKey]) -> None:
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    page, csv = reverse("activity"), reverse("activity-csv")
    deep = Generation.objects.filter(user=user).order_by("created_at", "id")[50]
    today = timezone.now().date()  # the page's days are UTC days
    cases: list[tuple[str, str, dict[str, str | int]]] = [
        ("page, default (30 days, all rows)", page, {}),
        ("page, one key (1/3 of rows)", page, {"key": keys[0].pk}),
        ("page, one model (1/8 of rows)", page, {"model": MODELS[2]}),
        ("page, key + model", page, {"key": keys[1].pk, "model": MODELS[5]}),
        ("page, last day only", page, {"start": str(today), "end": str(today)}),
        ("page, 365 days", page, {"start": str(today - timedelta(days=364))}),
        ("page, 2,000th page (oldest rows)", page, {"before": str(Cursor.of(deep))}),
    ]
    print(f"\n{'case':42} {'median ms':>10} {'best ms':>9}")
    for name, url, params in cases:
        response = client.get(url, params)
        assert response.status_code == 200, (name, response.status_code)
        median, best = _timed(functools.partial(client.get, url, params))
        print(f"{name:42} {median:10.1f} {best:9.1f}")

    def export(*, whole: bool = True) -> int:
        response = client.get(csv)
        assert isinstance(response, StreamingHttpResponse)
        chunks = iter(response.streaming_content)
        try:
            if not whole:
                return len(next(chunks)) + len(next(chunks))  # the header and the first rows
            return sum(len(chunk) for chunk in chunks)
        finally:
            response.close()

    size = export()
    median, best = _timed(functools.partial(export, whole=False))
    print(f"{'CSV export, first 2,000 rows':42} {median:10.1f} {best:9.1f}")
    median, best = _timed(export)
    print(f"{f'CSV export, all {ROWS:,} rows ({size / 1e6:.1f} MB)':42} {median:10.1f} {best:9.1f}")

    _measure_row_sums(user)
    timings: list[tuple[float, str]] = []

    def timed_query(execute: Any, sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, *args)
        finally:
            timings.append(((time.perf_counter() - started) * 1000, sql))

    with connection.execute_wrapper(timed_query):
        client.get(page)
    print("\nqueries of the default page (ms, SQL):")
    for elapsed, sql in timings:
        print(f"  {elapsed:7.2f}  {sql[:100]}")


def _measure_row_sums(user: User) -> None:
    """The page's two sums computed from the rows (TruncDate + Sum) instead of the roll-up:
    what the roll-up saves."""
    today = timezone.now().date()
    activity = ActivityFilter(
        user_id=user.pk, key_id=None, model_slug="", start=today - timedelta(days=DAYS - 1),
        end=today,
    )  # fmt: skip
    rows = generations_filtered(activity=activity).order_by()
    sums = {"n": Count("id"), "p": Sum("prompt_tokens"), "c": Sum("completion_tokens"),
            "cost": Sum("cost_nanos")}  # fmt: skip
    by_day = rows.annotate(day=TruncDate("created_at", tzinfo=UTC)).values("day")
    median, best = _timed(lambda: (list(by_day.annotate(**sums)),
                                   list(rows.values("model_slug").annotate(**sums))))  # fmt: skip
    print(f"{'(sums from the rows, without the roll-up)':42} {median:10.1f} {best:9.1f}")


if __name__ == "__main__":
    try:
        main()
    finally:
        if _TEMP is not None:
            _TEMP.cleanup()
