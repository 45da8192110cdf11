"""Leased requests' generation rows, written in batches that form on their own
(proxy/generation_writer.py): on the real database, through the gateway's own seam."""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import cast

import pytest
from asgiref.sync import async_to_sync

from billing.models import Generation
from billing.money import Charge, Usage
from billing.usage import UsageRecord
from marketplace.accounts.models import User
from marketplace.asyncdb import AsyncDb, DatabaseRefusal, asyncdb_create
from marketplace.keys.services import api_key_create
from proxy.generation_writer import GenerationWriter

# Committed: a PostgreSQL pool's connections must see the user, and the writer commits.
pytestmark = pytest.mark.django_db(transaction=True)


def _record(user: User, generation_id: str, *, cost: int = 100) -> UsageRecord:
    key, _ = api_key_create(user=user, name=generation_id)
    return UsageRecord(
        generation_id=generation_id, user_id=user.pk, api_key_id=key.pk, model_slug="acme/m",
        provider_slug="acme", upstream_id="up-1", streamed=False, cancelled=False,
        finish_reason="stop", native_finish_reason="stop", usage=Usage(10, 20),
        usage_estimated=False, charge=Charge(provider_cost_nanos=cost, fee_nanos=0),
        latency_ms=5, generation_time_ms=9, created_at=datetime.now(UTC), lease_id="lease-test",
    )  # fmt: skip


def _run[T](scenario: Callable[[GenerationWriter], Awaitable[T]]) -> tuple[T, int]:
    """The scenario's result and the number of statements the writer sent."""

    async def run() -> tuple[T, int]:
        db: AsyncDb = asyncdb_create()
        writer = GenerationWriter(db)
        try:
            return await scenario(writer), writer.statements
        finally:
            await writer.close()
            if db.vendor == "postgresql":  # on SQLite it is this test's own connection
                await db.close()

    # From this sync test, so that on SQLite the async code's work happens on its thread.
    return async_to_sync(run)()


@pytest.fixture
def user() -> User:
    return User.objects.create_user(email="writer@example.com")


def test_rows_that_settle_together_are_written_by_one_statement(user):
    records = [_record(user, f"gen-together-{i}", cost=i) for i in range(20)]

    async def together(writer: GenerationWriter) -> list[bool]:
        return await asyncio.gather(*(writer.record(r) for r in records))

    recorded, statements = _run(together)

    assert recorded == [True] * 20
    # The first request wrote its own row at once; the 19 that came during it, one statement.
    assert statements == 2
    rows = Generation.objects.filter(lease_id="lease-test")
    assert {(g.id, g.cost_nanos) for g in rows} == {
        (r.generation_id, i) for i, r in enumerate(records)
    }


def test_a_quiet_gateway_writes_each_row_at_once(user):
    records = [_record(user, f"gen-alone-{i}") for i in range(3)]

    async def one_by_one(writer: GenerationWriter) -> list[bool]:
        return [await writer.record(record) for record in records]

    recorded, statements = _run(one_by_one)

    assert recorded == [True, True, True]
    assert statements == 3
    assert Generation.objects.filter(lease_id="lease-test").count() == 3


def test_a_row_recorded_already_is_not_recorded_again(user):
    first, again, other = (
        _record(user, "gen-twice", cost=100),
        _record(user, "gen-twice", cost=999),
        _record(user, "gen-other"),
    )

    async def twice(writer: GenerationWriter) -> list[bool]:
        recorded = await writer.record(first)
        return [recorded, *await asyncio.gather(writer.record(again), writer.record(other))]

    recorded, _ = _run(twice)

    assert recorded == [True, False, True]
    assert Generation.objects.get(pk="gen-twice").cost_nanos == 100


def test_a_bad_row_fails_only_its_own_request(user):
    good = [_record(user, f"gen-good-{i}") for i in range(3)]
    bad = dataclasses.replace(_record(user, "gen-bad"), model_slug=cast(str, None))  # NOT NULL

    async def mixed(writer: GenerationWriter) -> list[bool | BaseException]:
        return await asyncio.gather(
            *(writer.record(r) for r in (good[0], bad, *good[1:])), return_exceptions=True
        )

    results, statements = _run(mixed)

    assert [results[0], *results[2:]] == [True, True, True]
    assert isinstance(results[1], DatabaseRefusal)
    # The first row alone; the 3 after it as a batch, which fails; then each on its own.
    assert statements == 1 + 1 + 3
    assert set(Generation.objects.values_list("id", flat=True)) == {r.generation_id for r in good}
