"""Grow the benchmark database to production size, so a run shows whether cost stays flat:
1,000 models in the catalog (each with an endpoint), 100,000 API keys and 1,000,000
generation rows. Idempotent: only what is missing is added. PostgreSQL only.

Usage: python bench/seed_scale.py [--models N] [--keys N] [--generations N]
(run from the repository root, after migrate)
"""

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from catalog.models import Endpoint, Model, Provider  # noqa: E402
from marketplace.keys.models import ApiKey  # noqa: E402

USERS = 1_000  # the keys and generations are spread over this many accounts
BATCH = 5_000


def seed_models(count: int, base_url: str) -> None:
    provider, _ = Provider.objects.get_or_create(
        slug="bench-scale", defaults={"name": "Bench Scale", "base_url": base_url}
    )
    have = Model.objects.filter(slug__startswith="bench-scale/").count()
    now = timezone.now()
    models = [
        Model(slug=f"bench-scale/model-{i:05d}", name=f"Scale {i}", context_length=128_000,
              created_at=now)
        for i in range(have, count)
    ]  # fmt: skip
    Model.objects.bulk_create(models, batch_size=BATCH)
    endpoints = [
        Endpoint(model=m, provider=provider, upstream_model_id="mock-model",
                 prompt_usd_per_mtok=Decimal("0.10"), completion_usd_per_mtok=Decimal("0.40"),
                 context_length=128_000, max_output_tokens=16_384)
        for m in Model.objects.filter(slug__startswith="bench-scale/", endpoints=None)
    ]  # fmt: skip
    Endpoint.objects.bulk_create(endpoints, batch_size=BATCH)
    print(f"models: {have} -> {max(have, count)}")


def scale_users() -> list[int]:
    user_model = get_user_model()
    have = user_model.objects.filter(email__startswith="scale-").count()
    user_model.objects.bulk_create(
        [user_model(email=f"scale-{i}@bench.local") for i in range(have, USERS)],
        batch_size=BATCH,
    )  # fmt: skip
    return list(user_model.objects.filter(email__startswith="scale-").values_list("id", flat=True))


def seed_keys(count: int, users: list[int]) -> None:
    have = ApiKey.objects.filter(name="scale").count()
    for start in range(have, count, BATCH):
        ApiKey.objects.bulk_create(
            ApiKey(user_id=users[i % len(users)], name="scale", prefix=f"sk-sy-v1-{i:06x}",
                   key_hash=f"{i:064x}")
            for i in range(start, min(count, start + BATCH))
        )  # fmt: skip
    print(f"keys: {have} -> {max(have, count)}")


def seed_generations(count: int, users: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_generation WHERE id LIKE 'gen-scale-%%'")
        have = cursor.fetchone()[0]
        missing = count - have
        if missing <= 0:
            print(f"generations: {have}")
            return
        started = time.monotonic()
        with transaction.atomic():
            # Rows like the gateway's, spread over the scale users and the last 30 days.
            cursor.execute(
                """
                INSERT INTO billing_generation (id, user_id, api_key_id, model_slug,
                  provider_slug, upstream_id, streamed, cancelled, finish_reason,
                  native_finish_reason, prompt_tokens, completion_tokens, usage_estimated,
                  cost_nanos, provider_cost_nanos, latency_ms, generation_time_ms,
                  created_at, is_byok)
                SELECT 'gen-scale-' || (%s + n), (%s::bigint[])[1 + n %% %s], NULL,
                  'bench-scale/model-' || lpad((n %% 1000)::text, 5, '0'), 'bench-scale', '',
                  n %% 2 = 0, false, 'stop', 'stop', 20, 30, false, 20000, 20000, 5, 10,
                  now() - (n %% 2592000) * interval '1 second', false
                FROM generate_series(0, %s - 1) AS n
                """,
                [have, users, len(users), missing],
            )
        print(f"generations: {have} -> {count} ({time.monotonic() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument("--base-url", default="http://127.0.0.1:9000/v1")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "the scale seed is for PostgreSQL"
    seed_models(args.models, args.base_url)
    users = scale_users()
    seed_keys(args.keys, users)
    seed_generations(args.generations, users)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


if __name__ == "__main__":
    main()
