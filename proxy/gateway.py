"""Per-process state of the gateway: shared connections, created once per event loop.

Also the drain before the process exits (see marketplace.serve): `draining` is set at once, so
readiness fails and new requests are refused; streams in flight run on until `drain_over()`
is done, then end with an error chunk and are settled.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from django.conf import settings

from billing.money import usd_to_nanos
from marketplace.asyncdb import AsyncDb, asyncdb_create
from proxy.auth import KeyUse, Principal, authenticate
from proxy.byok import ByokCache
from proxy.catalog_cache import CatalogCache
from proxy.generation_writer import GenerationWriter
from proxy.health import BreakerPolicy, MemoryHealthStore, health_store_create
from proxy.health_monitor import HealthMonitor
from proxy.key_cache import KeyCache, KeyCacheListener, key_cache_listener_create
from proxy.leases import LeaseBook, LeasePolicy
from proxy.probe import probe_due_endpoints
from proxy.rate_limits import (
    MemoryRateLimitStore,
    RateLimiter,
    RateLimitPolicy,
    rate_limit_store_create,
)
from proxy.response_cache.store import (
    MemoryResponseCacheStore,
    ResponseCache,
    response_cache_store_create,
)
from proxy.upstream import UpstreamClient, upstream_client_create

logger = logging.getLogger(__name__)


@dataclass
class Gateway:
    db: AsyncDb
    client: UpstreamClient
    catalog: CatalogCache
    # Serves only while `auth_listener` hears every change of keys, users and wallets.
    auth_cache: KeyCache = field(default_factory=KeyCache)
    auth_listener: KeyCacheListener | None = None
    health: HealthMonitor = field(
        default_factory=lambda: HealthMonitor(MemoryHealthStore(policy=BreakerPolicy()))
    )
    rate_limits: RateLimiter = field(default_factory=lambda: RateLimiter(MemoryRateLimitStore()))
    response_cache: ResponseCache = field(
        default_factory=lambda: ResponseCache(MemoryResponseCacheStore())
    )
    fee_bps: int = 0
    byok: ByokCache = field(default_factory=ByokCache)
    byok_fee_bps: int = 500
    body_limit: int = 10 * 1024 * 1024
    hold_ttl_s: int = 900
    deadline_s: int = 600
    max_attempts: int = 4
    first_token_timeout_s: float = 30.0
    keepalive_s: float = 3.0
    response_timeout_s: float = 300.0
    upstream_body_limit: int = 32 * 1024 * 1024
    leases: LeaseBook | None = None  # None: every request holds on its own
    probe_interval_s: float = 30.0
    probe_idle_s: float = 300.0
    # Set when the process starts to shut down: /readyz answers 503 (load balancers stop
    # sending it requests) and new requests get 503 while those in flight finish.
    draining: bool = False
    _prober: "asyncio.Task[None] | None" = None
    _drain_over: "asyncio.Future[None] | None" = None
    _drain_timer: asyncio.TimerHandle | None = None
    generations: GenerationWriter = field(init=False)  # leased requests' rows, batched

    def __post_init__(self) -> None:
        self.generations = GenerationWriter(self.db)

    def drain_begin(self, *, timeout_s: float) -> None:
        """Refuse new requests from now on; streams still open after `timeout_s` are ended."""
        if self.draining:
            return
        self.draining = True
        loop = asyncio.get_running_loop()
        self._drain_timer = loop.call_later(timeout_s, self._drain_end)

    def drain_over(self) -> "asyncio.Future[None]":
        """Done once the drain time is over. One future for every stream: a stream waits on it
        next to its own work, so an open stream costs no task or timer of its own."""
        if self._drain_over is None:
            self._drain_over = asyncio.get_running_loop().create_future()
        return self._drain_over

    def _drain_end(self) -> None:
        over = self.drain_over()
        if not over.done():
            over.set_result(None)

    def start_prober(self) -> None:
        """Probe this process's endpoints itself when health is not shared: without Redis,
        no Celery task can see (or update) what this process knows."""
        if isinstance(self.health.store, MemoryHealthStore):
            self._prober = asyncio.ensure_future(self._probe_forever())

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.probe_interval_s)
            try:
                await probe_due_endpoints(
                    self.health.store,
                    self.client,
                    await self.catalog.all_endpoints(),
                    idle_after_s=self.probe_idle_s,
                    timeout_s=self.first_token_timeout_s,
                )
            except Exception:
                logger.exception("probing endpoints failed")

    async def authenticate(
        self, authorization: str | None, *, use: KeyUse = KeyUse.INFERENCE
    ) -> Principal:
        """The key's principal (proxy.auth), looked up through this process's key cache."""
        return await authenticate(self.db, authorization, use=use, cache=self.auth_cache)

    def start_auth_listener(self) -> None:
        if self.auth_listener is not None:
            self.auth_listener.start()

    async def close(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        if self.auth_listener is not None:
            await self.auth_listener.close()
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        await self.generations.close()
        if self.leases is not None:  # before the database goes: their rest returns now
            await self.leases.close()
        await self.health.close()
        await self.rate_limits.close()
        await self.response_cache.close()
        await self.client.close()
        await self.db.close()


def breaker_policy() -> BreakerPolicy:
    return BreakerPolicy(
        failure_threshold=settings.HEALTH_FAILURE_THRESHOLD,
        base_cooldown_s=settings.HEALTH_BASE_COOLDOWN_S,
        max_cooldown_s=settings.HEALTH_MAX_COOLDOWN_S,
        trial_timeout_s=settings.HEALTH_TRIAL_TIMEOUT_S,
    )


def health_monitor_create() -> HealthMonitor:
    store = health_store_create(
        redis_url=settings.REDIS_URL, prefix=settings.HEALTH_REDIS_PREFIX, policy=breaker_policy()
    )
    return HealthMonitor(
        store,
        snapshot_ttl_s=settings.HEALTH_SNAPSHOT_TTL_S,
        success_batch_s=settings.HEALTH_SUCCESS_BATCH_S,
    )


def rate_limiter_create() -> RateLimiter:
    policy = RateLimitPolicy(
        rpm=settings.RATE_LIMIT_RPM,
        tpm=settings.RATE_LIMIT_TPM,
        free_rpm=settings.FREE_TIER_RPM,
        free_rpd=settings.FREE_TIER_RPD,
        free_rpd_funded=settings.FREE_TIER_RPD_FUNDED,
        funded_nanos=usd_to_nanos(settings.FREE_TIER_FUNDED_USD),
        cache_ttl_s=settings.RATE_LIMIT_CACHE_TTL_S,
    )
    store = rate_limit_store_create(
        redis_url=settings.REDIS_URL,
        prefix=settings.RATE_LIMIT_REDIS_PREFIX,
        timeout_s=settings.RATE_LIMIT_REDIS_TIMEOUT_S,
    )
    return RateLimiter(store, policy=policy)


def response_cache_create() -> ResponseCache:
    store = response_cache_store_create(
        redis_url=settings.REDIS_URL,
        prefix=settings.RESPONSE_CACHE_REDIS_PREFIX,
        timeout_s=settings.RESPONSE_CACHE_REDIS_TIMEOUT_S,
        max_entries=settings.RESPONSE_CACHE_MAX_ENTRIES,
    )
    return ResponseCache(
        store,
        default_ttl_s=settings.RESPONSE_CACHE_DEFAULT_TTL_S,
        max_ttl_s=settings.RESPONSE_CACHE_MAX_TTL_S,
        max_entry_bytes=settings.RESPONSE_CACHE_MAX_ENTRY_BYTES,
    )


def lease_book_create(db: AsyncDb) -> LeaseBook | None:
    if not settings.LEASES_ENABLED:
        return None
    policy = LeasePolicy(
        min_available_nanos=usd_to_nanos(settings.LEASE_MIN_AVAILABLE_USD),
        max_slice_nanos=usd_to_nanos(settings.LEASE_MAX_USD),
        idle_s=settings.LEASE_IDLE_S,
        max_age_s=settings.LEASE_MAX_AGE_S,
        hold_ttl_s=int(settings.LEASE_MAX_AGE_S) + settings.REQUEST_DEADLINE_S + 30,
    )
    return LeaseBook(db, policy)


def gateway_create() -> Gateway:
    db = asyncdb_create()
    auth_cache = KeyCache(ttl_s=settings.AUTH_CACHE_TTL_S)
    return Gateway(
        db=db,
        auth_cache=auth_cache,
        auth_listener=key_cache_listener_create(db, auth_cache),
        leases=lease_book_create(db),
        catalog=CatalogCache(db=db, ttl_s=settings.CATALOG_CACHE_TTL_S),
        client=upstream_client_create(),
        health=health_monitor_create(),
        rate_limits=rate_limiter_create(),
        response_cache=response_cache_create(),
        fee_bps=settings.INFERENCE_FEE_BPS,
        byok=ByokCache(ttl_s=settings.BYOK_CACHE_TTL_S),
        byok_fee_bps=settings.BYOK_FEE_BPS,
        body_limit=settings.API_MAX_BODY_BYTES,
        hold_ttl_s=settings.HOLD_TTL_S,
        deadline_s=settings.REQUEST_DEADLINE_S,
        max_attempts=settings.ROUTING_MAX_ATTEMPTS,
        first_token_timeout_s=settings.UPSTREAM_FIRST_TOKEN_TIMEOUT_S,
        keepalive_s=settings.STREAM_KEEPALIVE_S,
        response_timeout_s=settings.UPSTREAM_RESPONSE_TIMEOUT_S,
        upstream_body_limit=settings.UPSTREAM_MAX_RESPONSE_BYTES,
        probe_interval_s=settings.HEALTH_PROBE_INTERVAL_S,
        probe_idle_s=settings.HEALTH_PROBE_IDLE_S,
    )
