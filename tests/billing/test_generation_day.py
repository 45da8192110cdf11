"""The daily roll-up of generations equals the sum of the rows, whatever happens to them
(the triggers of migration 0007, on SQLite and PostgreSQL alike)."""

import importlib
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce, TruncDate

from billing.models import Generation, GenerationDay
from marketplace.accounts.models import User
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create

pytestmark = pytest.mark.django_db

rollup_migration = importlib.import_module("billing.migrations.0007_generation_day")
NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def alice() -> User:
    return User.objects.create_user(email="alice@example.com")


@pytest.fixture
def key(alice: User) -> ApiKey:
    return api_key_create(user=alice, name="prod")[0]


def _generation(key: ApiKey | None, user: User, n: int, **fields: object) -> Generation:
    values: dict[str, object] = {
        "model_slug": "openai/gpt-4o-mini", "provider_slug": "nimbus", "prompt_tokens": 10 + n,
        "completion_tokens": 20 + n, "cost_nanos": 1_000 + n, "created_at": NOON,
    }  # fmt: skip
    return Generation(id=f"gen-{n}", user=user, api_key=key, **{**values, **fields})


def rollup() -> set[tuple[object, ...]]:
    return set(
        GenerationDay.objects.values_list(
            "user_id", "day", "key_id", "model_slug", "requests", "prompt_tokens",
            "completion_tokens", "cost_nanos",
        )
    )  # fmt: skip


def summed_rows() -> set[tuple[object, ...]]:
    """What the roll-up must hold: the rows grouped by user, UTC day, key and model."""
    grouped = (
        Generation.objects.order_by()
        .values_list(
            "user_id", TruncDate("created_at", tzinfo=UTC), Coalesce("api_key_id", 0),
            "model_slug",
        )
        .annotate(Count("id"), Sum("prompt_tokens"), Sum("completion_tokens"), Sum("cost_nanos"))
    )  # fmt: skip
    return set(grouped)


def test_inserts_add_up_per_user_utc_day_key_and_model(alice, key) -> None:
    bob = User.objects.create_user(email="bob@example.com")
    bobs_key = api_key_create(user=bob, name="b")[0]
    last_instant = datetime(2026, 3, 10, 23, 59, 59, 999_999, tzinfo=UTC)
    Generation.objects.bulk_create([
        _generation(key, alice, 1),
        _generation(key, alice, 2, created_at=last_instant),
        _generation(key, alice, 3, created_at=last_instant + timedelta(microseconds=1)),
        _generation(key, alice, 4, model_slug="meta-llama/llama-3.1-8b-instruct"),
        _generation(None, alice, 5),
        _generation(bobs_key, bob, 6),
    ])  # fmt: skip

    assert rollup() == summed_rows()
    day = GenerationDay.objects.get(
        user=alice, day=date(2026, 3, 10), key_id=key.pk, model_slug="openai/gpt-4o-mini"
    )
    assert (day.requests, day.cost_nanos) == (2, 1_001 + 1_002)
    assert GenerationDay.objects.filter(user=alice, day=date(2026, 3, 11)).count() == 1
    assert GenerationDay.objects.filter(user=alice, key_id=0).count() == 1


def test_updates_move_the_sums(alice, key) -> None:
    Generation.objects.bulk_create([_generation(key, alice, n) for n in range(3)])
    Generation.objects.filter(id="gen-0").update(cost_nanos=5, prompt_tokens=1)
    Generation.objects.filter(id="gen-1").update(model_slug="other/model")
    Generation.objects.filter(id="gen-2").update(created_at=NOON - timedelta(days=2))

    assert rollup() == summed_rows()
    assert GenerationDay.objects.count() == 3


def test_deletes_take_back_and_remove_emptied_rows(alice, key) -> None:
    Generation.objects.bulk_create([_generation(key, alice, n) for n in range(3)])
    Generation.objects.filter(id="gen-0").delete()
    assert rollup() == summed_rows()

    Generation.objects.all().delete()
    assert not GenerationDay.objects.exists()


def test_a_deleted_key_moves_its_sums_to_no_key(alice, key) -> None:
    Generation.objects.bulk_create([_generation(key, alice, n) for n in range(2)])
    key.delete()  # the generations' key becomes NULL

    assert rollup() == summed_rows()
    assert set(GenerationDay.objects.values_list("key_id", "requests")) == {(0, 2)}


def test_the_migration_fills_the_roll_up_from_existing_rows(alice, key) -> None:
    Generation.objects.bulk_create([_generation(key, alice, n) for n in range(4)])
    Generation.objects.bulk_create(
        [_generation(None, alice, 9, created_at=NOON - timedelta(days=40))]
    )
    GenerationDay.objects.all().delete()

    with connection.cursor() as cursor:
        cursor.execute(rollup_migration.BACKFILL[connection.vendor])

    assert rollup() == summed_rows()
    assert GenerationDay.objects.count() == 2
