"""This process's wallet leases (see billing/leases.py): requests of a well-funded key are held
in memory against a slice reserved in the database, not each with a hold of its own.

Who gets a lease: a key without a credit limit of a wallet with at least `min_available`
available. A slice is at most `max_slice`, and a sixteenth of what is available: thin wallets
and many replicas never lock up a wallet's money (a wallet below the minimum, a request larger
than a slice, and a refused slice all fall back to a hold per request, which is exact).

A lease takes new requests for `max_age_s`, then closes once its last request has settled; one
that sees no request for `idle_s` closes too, so its unspent rest goes back to the wallet and
its charges reach the ledger soon after traffic stops. Everything here runs on the event loop
of one process: no lock is needed for the in-memory accounting.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from billing.leases import LEASE_PREFIX, lease_close
from billing.usage import HoldRefused, HoldRequest, hold_open
from marketplace.asyncdb import AsyncDb
from proxy.auth import Principal

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Lease:
    id: str
    api_key_id: int
    amount_nanos: int
    opened_at: float
    last_used_at: float
    committed_nanos: int = 0  # bounds of the requests in flight, plus what finished ones cost
    in_flight: int = 0
    retired: bool = False  # takes no new request; closes once the last one has settled

    def room(self) -> int:
        return self.amount_nanos - self.committed_nanos


@dataclass(frozen=True)
class LeasePolicy:
    min_available_nanos: int
    max_slice_nanos: int
    idle_s: float = 2.0
    max_age_s: float = 60.0
    # The database sweeps a lease past this (its process died): longer than any request on it.
    hold_ttl_s: int = 690

    def slice_for(self, available_nanos: int) -> int:
        if available_nanos < self.min_available_nanos:
            return 0
        return min(self.max_slice_nanos, available_nanos // 16)


class LeaseBook:
    def __init__(self, db: AsyncDb, policy: LeasePolicy) -> None:
        self._db = db
        self._policy = policy
        self._leases: dict[int, Lease] = {}  # api key id -> the lease taking its requests
        self._opening: dict[int, asyncio.Future[Lease | None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def take(self, principal: Principal, amount_nanos: int) -> Lease | None:
        """Hold `amount_nanos` of a lease of this key; None: hold this request on its own."""
        if principal.limit_nanos is not None or principal.wallet_id is None:
            return None  # a key's limit is checked per request, exactly
        now = time.monotonic()
        lease = self._usable(principal.api_key_id, now)
        if lease is None or lease.room() < amount_nanos:
            if lease is not None:
                self._retire(lease)
            lease = await self._open(principal, amount_nanos)
            if lease is None or lease.room() < amount_nanos:
                return None
        lease.committed_nanos += amount_nanos
        lease.in_flight += 1
        lease.last_used_at = now
        return lease

    def give_back(self, lease: Lease, *, held_nanos: int, charged_nanos: int) -> None:
        """A request held `held_nanos` of the lease and was recorded costing `charged_nanos`."""
        lease.committed_nanos += charged_nanos - held_nanos
        lease.in_flight -= 1
        lease.last_used_at = time.monotonic()
        if lease.retired and lease.in_flight == 0:
            self._close_soon(lease)

    def _usable(self, api_key_id: int, now: float) -> Lease | None:
        lease = self._leases.get(api_key_id)
        if lease is not None and now - lease.opened_at >= self._policy.max_age_s:
            self._retire(lease)
            return None
        return lease

    async def _open(self, principal: Principal, amount_nanos: int) -> Lease | None:
        key_id = principal.api_key_id
        opening = self._opening.get(key_id)
        if opening is not None:  # another request is opening this key's lease: share it
            return await asyncio.shield(opening)
        size = self._policy.slice_for(principal.available_nanos)
        if size < amount_nanos:
            return None
        future: asyncio.Future[Lease | None] = asyncio.get_running_loop().create_future()
        self._opening[key_id] = future
        try:
            lease = await self._reserve(principal, size)
            if lease is not None:
                self._leases[key_id] = lease
            future.set_result(lease)
            return lease
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: the waiters (if any) raise it themselves
            raise
        finally:
            del self._opening[key_id]

    async def _reserve(self, principal: Principal, size: int) -> Lease | None:
        assert principal.wallet_id is not None
        now = datetime.now(UTC)
        request = HoldRequest(
            hold_id=f"{LEASE_PREFIX}{uuid.uuid4().hex}",
            wallet_id=principal.wallet_id,
            api_key_id=principal.api_key_id,
            amount_nanos=size,
            key_period_start=datetime(1970, 1, 1, tzinfo=UTC),  # leased keys have no limit
            created_at=now,
            expires_at=now + timedelta(seconds=self._policy.hold_ttl_s),
        )
        try:
            await hold_open(self._db, request)
        except HoldRefused:
            return None  # spent or reserved elsewhere meanwhile: per request, exactly
        started = time.monotonic()
        return Lease(request.hold_id, principal.api_key_id, size, started, started)

    def _retire(self, lease: Lease) -> None:
        if lease.retired:
            return
        lease.retired = True
        if self._leases.get(lease.api_key_id) is lease:
            del self._leases[lease.api_key_id]
        if lease.in_flight == 0:
            self._close_soon(lease)

    def _close_soon(self, lease: Lease) -> None:
        task = asyncio.ensure_future(self._close(lease))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, lease: Lease) -> None:
        try:
            await lease_close(self._db, lease.id, closed_at=datetime.now(UTC))
        except Exception:  # the sweep settles it once it expires: nothing is lost
            logger.exception("closing lease %s failed; it is settled when it expires", lease.id)

    def retire_idle(self) -> None:
        """Retire the leases that had no request for `idle_s` (or are past their age)."""
        now = time.monotonic()
        for lease in list(self._leases.values()):
            idle = now - lease.last_used_at >= self._policy.idle_s
            if idle or now - lease.opened_at >= self._policy.max_age_s:
                self._retire(lease)

    def start(self, interval_s: float = 0.5) -> None:
        self._sweeper = asyncio.ensure_future(self._retire_idle_forever(interval_s))

    async def _retire_idle_forever(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.retire_idle()

    async def close(self) -> None:
        """Retire every lease and wait for those without requests in flight to close."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for lease in list(self._leases.values()):
            self._retire(lease)
        while pending := [task for task in self._closing if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
