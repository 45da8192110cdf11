"""Every write to the catalog raises its version (the triggers of migration 0005, on SQLite and
PostgreSQL alike), whichever way it is made, and the version never goes back."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from catalog.models import Endpoint, Model, Provider
from catalog.selectors import catalog_version

pytestmark = pytest.mark.django_db

CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _provider(slug: str) -> Provider:
    return Provider.objects.create(slug=slug, name=slug.title(), base_url="http://x.test/v1")


def _model(slug: str) -> Model:
    return Model.objects.create(slug=slug, name=slug, context_length=8_000, created_at=CREATED_AT)


def _endpoint(model: Model, provider: Provider) -> Endpoint:
    return Endpoint.objects.create(
        model=model, provider=provider, upstream_model_id="m", prompt_usd_per_mtok=Decimal(1),
        completion_usd_per_mtok=Decimal(2), context_length=8_000, max_output_tokens=1_000,
    )  # fmt: skip


def _two_providers() -> None:
    Provider.objects.bulk_create(
        [Provider(slug=slug, name=slug, base_url="http://x.test/v1") for slug in ("a", "b")]
    )


def _three_models() -> None:
    Model.objects.bulk_create(
        [Model(slug=f"acme/bulk-{i}", name="b", context_length=1, created_at=CREATED_AT)
         for i in range(3)]
    )  # fmt: skip


@pytest.fixture
def endpoint() -> Endpoint:
    return _endpoint(_model("acme/one"), _provider("nimbus"))


Write = Callable[[Endpoint], object]

WRITES: dict[str, Write] = {
    "provider insert": lambda e: _provider("stratus"),
    "provider save": lambda e: Provider.objects.get(pk=e.provider_id).save(),
    "provider update()": lambda e: Provider.objects.update(is_active=False),
    "provider delete": lambda e: Provider.objects.get(pk=e.provider_id).delete(),
    "provider bulk_create": lambda e: _two_providers(),
    "model insert": lambda e: _model("acme/two"),
    "model save": lambda e: Model.objects.get(pk=e.model_id).save(),
    "model update()": lambda e: Model.objects.update(name="renamed"),
    "model delete": lambda e: Model.objects.get(pk=e.model_id).delete(),
    "model bulk_create": lambda e: _three_models(),
    "endpoint insert": lambda e: _endpoint(_model("acme/two"), Provider.objects.get()),
    "endpoint save": lambda e: Endpoint.objects.get(pk=e.pk).save(),
    "endpoint price update()": lambda e: Endpoint.objects.update(prompt_usd_per_mtok=3),
    "endpoint delete": lambda e: Endpoint.objects.get(pk=e.pk).delete(),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_every_kind_of_write_to_the_catalog_raises_the_version(endpoint: Endpoint, write: Write):
    before = catalog_version()

    write(endpoint)

    assert catalog_version() > before


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE catalog_model SET id = id",
        "UPDATE catalog_provider SET id = id",
        "UPDATE catalog_endpoint SET id = id",
    ],
)
def test_raw_sql_raises_the_version_too(endpoint: Endpoint, sql: str):
    before = catalog_version()

    with connection.cursor() as cursor:
        cursor.execute(sql)

    assert catalog_version() > before


def test_reading_the_catalog_leaves_the_version_alone(endpoint: Endpoint):
    before = catalog_version()

    list(Endpoint.objects.select_related("model", "provider"))

    assert catalog_version() == before


def test_a_lost_version_row_reads_as_zero_and_the_next_write_brings_it_back(endpoint: Endpoint):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_catalogversion")
    assert catalog_version() == 0

    _model("acme/two")

    assert catalog_version() == 1


@pytest.mark.django_db(transaction=True)
def test_a_flush_of_the_test_database_never_takes_the_version_back():
    """A gateway holding version N must not see N again for another catalog: the flush between
    transactional tests empties the tables (TRUNCATE on PostgreSQL) but keeps the version."""
    _endpoint(_model("acme/one"), _provider("nimbus"))
    before = catalog_version()

    call_command("flush", interactive=False, verbosity=0)

    assert catalog_version() > before
