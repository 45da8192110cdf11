"""The account's default provider preferences: how they merge with a request's own, and the
gateway's short per-process cache of them (one query per user per TTL)."""

from collections.abc import Sequence
from typing import Any

import pytest

from marketplace.asyncdb import Row, Statement
from proxy.account_defaults import (
    NO_DEFAULTS,
    AccountDefaults,
    preferences_with_defaults,
    routing_defaults,
)
from proxy.routing.preferences import ProviderPreferences, Sort, preferences_parse

SLUGS_ALICE = frozenset({"nimbus", "quanta"})
SLUGS = {"nimbus": "nimbus", "nimbus cloud": "nimbus", "quanta": "quanta", "ember": "ember"}


def merged(request: dict[str, Any] | None, defaults: AccountDefaults, *, variant: bool = False):
    return preferences_with_defaults(
        preferences_parse(request), defaults, provider_slugs=SLUGS, variant_sort=variant
    )


def test_without_defaults_the_request_is_unchanged():
    request = preferences_parse({"ignore": ["ember"], "sort": "latency"})
    assert merged({"ignore": ["ember"], "sort": "latency"}, NO_DEFAULTS) == request


def test_ignore_lists_are_joined():
    result = merged({"ignore": ["ember"]}, AccountDefaults(ignore=frozenset({"nimbus"})))
    assert result.ignore == {"ember", "nimbus"}


def test_a_provider_the_request_names_is_not_ignored():
    defaults = AccountDefaults(ignore=frozenset({"nimbus", "quanta"}))
    assert merged({"only": ["Nimbus Cloud"]}, defaults).ignore == {"quanta"}
    assert merged({"order": ["quanta"]}, defaults).ignore == {"nimbus"}


def test_providers_gone_from_the_catalog_are_skipped():
    result = merged(None, AccountDefaults(ignore=frozenset({"nimbus", "defunct"})))
    assert result.ignore == {"nimbus"}  # not a 400 for a name the user cannot fix


def test_the_account_sort_applies_only_when_the_request_has_none():
    defaults = AccountDefaults(sort=Sort.LATENCY)
    assert merged(None, defaults).sort is Sort.LATENCY
    assert merged({"sort": "price"}, defaults).sort is Sort.PRICE
    assert merged(None, defaults, variant=True).sort is None  # :nitro and :floor sort themselves


def test_other_preferences_are_kept():
    result = merged(
        {"allow_fallbacks": False, "max_price": {"prompt": 1}},
        AccountDefaults(ignore=frozenset({"ember"}), sort=Sort.THROUGHPUT),
    )
    assert result.allow_fallbacks is False
    assert result.max_price.prompt == 1
    assert isinstance(result, ProviderPreferences)


class CountingDb:
    """A database seam that answers the defaults lookup and counts the queries."""

    vendor = "sqlite"

    def __init__(self, row: Row | None) -> None:
        self.row = row
        self.queries: list[Sequence[Any]] = []

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        row = await self.fetchone(sql, params)
        return [] if row is None else [row]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        assert "WHERE user_id = %s" in sql
        self.queries.append(params)
        return self.row

    async def transaction(self, statements: Sequence[Statement]) -> list[Row | None]:
        raise AssertionError("no writes")

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (None, NO_DEFAULTS),
        # SQLite returns the JSON as text, PostgreSQL decoded.
        (('["nimbus", "Quanta"]', "latency"), AccountDefaults(SLUGS_ALICE, Sort.LATENCY)),
        ((["nimbus"], ""), AccountDefaults(frozenset({"nimbus"}), None)),
        (("not json", "vibes"), NO_DEFAULTS),
        (('{"a": 1}', None), NO_DEFAULTS),
    ],
)  # fmt: skip
async def test_the_stored_row_is_read_leniently(settings, row, expected):
    settings.ROUTING_DEFAULTS_CACHE_TTL_S = 5
    assert await routing_defaults(CountingDb(row), 7) == expected


async def test_a_user_costs_one_query_per_ttl(settings):
    settings.ROUTING_DEFAULTS_CACHE_TTL_S = 60
    db = CountingDb(('["nimbus"]', ""))

    for _ in range(3):
        assert (await routing_defaults(db, 7)).ignore == {"nimbus"}
    await routing_defaults(db, 8)

    assert db.queries == [(7,), (8,)]
    assert await routing_defaults(CountingDb(None), 7) == NO_DEFAULTS  # each gateway its own


async def test_a_stale_entry_is_read_again(settings):
    settings.ROUTING_DEFAULTS_CACHE_TTL_S = 0
    db = CountingDb(None)

    await routing_defaults(db, 7)
    db.row = ('["nimbus"]', "")

    assert (await routing_defaults(db, 7)).ignore == {"nimbus"}
    assert len(db.queries) == 2
