"""Bring your own key on the gateway: which providers the user has a key for, and the plan
that tries those keys first.

Keys are read from the database encrypted and decrypted here, in memory only, with a short
per-process cache keyed by user. A BYOK attempt is the catalog endpoint itself (the upstream is
never the user's choice) marked `byok`; it goes before every shared endpoint, even ahead of
`provider.order`. When a key the plan uses is marked "always use", the shared endpoints are
dropped: its failure ends the request instead of falling back to paid routing.
"""

import dataclasses
import time
from dataclasses import dataclass, field

from catalog.models import Provider
from marketplace.asyncdb import AsyncDb
from marketplace.keys.models import ProviderKey
from marketplace.keys.provider_keys import provider_key_decrypt
from proxy.routing.plan import RoutePlan


@dataclass(frozen=True, slots=True)
class ByokKey:
    api_key: str = field(repr=False)
    always_use: bool


ByokKeys = dict[str, ByokKey]  # provider slug -> the user's key


def _keys_sql(vendor: str) -> str:
    aggregate = "string_agg" if vendor == "postgresql" else "group_concat"
    always = "CASE WHEN k.always_use THEN '1' ELSE '0' END"
    return (
        f"SELECT {aggregate}(p.slug || ':' || {always} || ':' || k.encrypted_key, ',') "
        f"FROM {ProviderKey._meta.db_table} k JOIN {Provider._meta.db_table} p "
        "ON p.id = k.provider_id WHERE k.user_id = %s"
    )


def _parse(aggregated: str | None) -> ByokKeys:
    keys: ByokKeys = {}
    for item in (aggregated or "").split(","):
        slug, _, rest = item.partition(":")
        always, _, token = rest.partition(":")
        api_key = provider_key_decrypt(token) if token else None
        if api_key:
            keys[slug] = ByokKey(api_key=api_key, always_use=always == "1")
    return keys


@dataclass
class ByokCache:
    ttl_s: float = 5.0
    _entries: dict[int, tuple[float, ByokKeys]] = field(default_factory=dict, repr=False)

    async def keys_of(self, db: AsyncDb, user_id: int) -> ByokKeys:
        now = time.monotonic()
        cached = self._entries.get(user_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        row = await db.fetchone(_keys_sql(db.vendor), (user_id,))
        keys = _parse(row[0] if row else None)
        if len(self._entries) > 10_000:  # bounded: forget everyone rather than grow forever
            self._entries.clear()
        self._entries[user_id] = (now, keys)
        return keys


def byok_plan(plan: RoutePlan, keys: ByokKeys, *, max_attempts: int) -> RoutePlan:
    """The plan with the user's keys tried first (in the plan's order), then the shared
    endpoints unless one of the keys used is "always use"."""
    if not keys:
        return plan
    shared = list(plan.attempts)
    if plan.considered:  # every eligible endpoint, even those cut by max_attempts
        eligible = {c.endpoint for c in plan.considered if c.excluded is None}
        shared += [c.endpoint for c in plan.considered if c.endpoint in eligible]
        shared = list(dict.fromkeys(shared))
    own = [dataclasses.replace(e, byok=True) for e in shared if e.provider_slug in keys]
    if not own:
        return plan
    if any(keys[e.provider_slug].always_use for e in own):
        attempts = own
    else:
        attempts = own + list(plan.attempts)
    return dataclasses.replace(plan, attempts=tuple(attempts[: max_attempts + len(own)]))
