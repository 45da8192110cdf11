"""A user's default provider preferences (the settings page), as the gateway applies them.

Read with one indexed query and kept per process for ROUTING_DEFAULTS_CACHE_TTL_S seconds, so a
busy key costs no query per request; a change on the settings page reaches every gateway
within that time. The request's own preferences win: see `preferences_with_defaults`.
"""

import dataclasses
import functools
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from django.conf import settings

from marketplace.accounts.models import RoutingDefaults
from marketplace.asyncdb import AsyncDb
from proxy.routing.preferences import ProviderPreferences, Sort

# Users remembered per process; past this, expired entries are dropped (all, if none are).
MAX_CACHED_USERS = 10_000


@dataclass(frozen=True, slots=True)
class AccountDefaults:
    ignore: frozenset[str] = frozenset()  # provider slugs
    sort: Sort | None = None


NO_DEFAULTS = AccountDefaults()

_Entry = tuple[float, AccountDefaults]  # (expires at, value)
# One cache per database seam, i.e. per gateway: tests run several in one process.
_caches: "weakref.WeakKeyDictionary[AsyncDb, dict[int, _Entry]]" = weakref.WeakKeyDictionary()


@functools.cache
def _lookup_sql() -> str:
    table = RoutingDefaults._meta.db_table
    return f'SELECT "ignore", "sort" FROM {table} WHERE user_id = %s'  # noqa: S608


def _parse(ignore: object, sort: object) -> AccountDefaults:
    """The row as stored (PostgreSQL decodes JSON, SQLite returns text); anything malformed is
    dropped rather than failing the user's requests."""
    if isinstance(ignore, str | bytes):
        try:
            ignore = orjson.loads(ignore)
        except orjson.JSONDecodeError:
            ignore = []
    slugs = (
        frozenset(s.lower() for s in ignore if isinstance(s, str))
        if isinstance(ignore, list)
        else frozenset()
    )
    try:
        chosen = Sort(sort) if isinstance(sort, str) and sort else None
    except ValueError:
        chosen = None
    return AccountDefaults(ignore=slugs, sort=chosen)


async def routing_defaults(db: AsyncDb, user_id: int) -> AccountDefaults:
    """The user's defaults, at most ROUTING_DEFAULTS_CACHE_TTL_S seconds old."""
    cache = _caches.setdefault(db, {})
    now = time.monotonic()
    entry = cache.get(user_id)
    if entry is not None and entry[0] > now:
        return entry[1]
    row = await db.fetchone(_lookup_sql(), (user_id,))
    found = NO_DEFAULTS if row is None else _parse(row[0], row[1])
    if len(cache) >= MAX_CACHED_USERS:
        for stale in [u for u, (expires_at, _) in cache.items() if expires_at <= now]:
            del cache[stale]
        if len(cache) >= MAX_CACHED_USERS:
            cache.clear()
    cache[user_id] = (now + settings.ROUTING_DEFAULTS_CACHE_TTL_S, found)
    return found


def preferences_with_defaults(
    preferences: ProviderPreferences,
    defaults: AccountDefaults,
    *,
    provider_slugs: Mapping[str, str],
    variant_sort: bool,
) -> ProviderPreferences:
    """The request's preferences with the account's defaults merged in.

    `ignore` is the union, minus providers the request names itself in `only` or `order` (an
    explicit choice wins) and slugs no longer in the catalog (`provider_slugs`: lower-cased
    names and slugs -> slug). The account's sort applies only when the request has no sort and
    no `:nitro`/`:floor` variant (`variant_sort`), which is a sort of its own.
    """
    if defaults == NO_DEFAULTS:
        return preferences
    named = {provider_slugs.get(n, n) for n in (*preferences.order, *(preferences.only or ()))}
    extra = {s for s in defaults.ignore if s in provider_slugs and provider_slugs[s] not in named}
    sort = preferences.sort
    if sort is None and not variant_sort:
        sort = defaults.sort
    return dataclasses.replace(preferences, ignore=preferences.ignore | extra, sort=sort)
