import itertools
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis
from django.test import override_settings
from pytest_django import DjangoDbBlocker

from tests.database_housekeeping import (
    flush_sqlite_wallets_first,
    remove_stale_sqlite_test_files,
    retry_postgresql_flush_on_deadlock,
)
from tests.live import (
    TEST_WEBHOOK_SECRET,
    ServerProcess,
    child_env,
    database_url,
    free_port,
    python_args,
)


def pytest_configure(config: pytest.Config) -> None:
    remove_stale_sqlite_test_files()
    flush_sqlite_wallets_first()
    retry_postgresql_flush_on_deadlock()
    # CI points the suite at real PostgreSQL and Redis; never fall back silently.
    if os.environ.get("SWITCHYARD_REQUIRE_SERVICES"):
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            raise pytest.UsageError(f"CI needs DATABASE_URL on PostgreSQL, got {url!r}")
        redis.Redis.from_url(os.environ["REDIS_URL"]).ping()


def pytest_unconfigure(config: pytest.Config) -> None:
    remove_stale_sqlite_test_files()
    _remove_test_health_keys()


LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
# Every key of provider health written by this test session (gateways, stores) starts with
# this, so the session removes its own keys and never another session's.
TEST_HEALTH_PREFIX = f"test-health:{uuid.uuid4().hex[:12]}"


def _reachable_redis_url() -> str | None:
    url = os.environ.get("REDIS_URL") or LOCAL_REDIS_URL
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1) as client:
            client.ping()
    except redis.ConnectionError:
        return None
    return url


def _remove_test_health_keys() -> None:
    url = _reachable_redis_url()
    if url is None:
        return
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{TEST_HEALTH_PREFIX}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis: REDIS_URL, else a local one. CI must test what needs Redis; a
    developer without Redis still runs everything else."""
    url = _reachable_redis_url()
    if url is None:
        if os.environ.get("SWITCHYARD_REQUIRE_SERVICES"):
            raise RuntimeError("CI needs Redis at REDIS_URL")
        pytest.skip("no Redis reachable")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, deleted afterwards."""
    prefix = f"{TEST_HEALTH_PREFIX}:{uuid.uuid4().hex}"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def simulator_url(logs_dir: Path) -> Iterator[str]:
    port = free_port()
    args = python_args("manage.py", "simulate_providers", "--port", str(port),
                       "--latency-scale", "0", "--fault-scale", "0")  # fmt: skip
    server = ServerProcess("simulator", args, child_env(), logs_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_until_ready(f"{url}/healthz")
        yield url
    finally:
        server.stop()


# Nothing listens here: where Stripe calls go until a test asks for localstripe (never to a
# developer's own localstripe on the default port).
_NO_STRIPE = "http://127.0.0.1:9"


@pytest.fixture(scope="session", autouse=True)
def _stripe_test_settings(django_test_environment: None) -> Iterator[None]:
    with override_settings(
        STRIPE_API_BASE=_NO_STRIPE,
        STRIPE_JS_URL=f"{_NO_STRIPE}/js.stripe.com/v3/",
        STRIPE_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET,
    ):
        yield


@pytest.fixture(scope="session")
def localstripe_url(_stripe_test_settings: None, logs_dir: Path) -> Iterator[str]:
    """A localstripe process (Stripe's API and its Stripe.js stand-in) for the session; the
    tests' own settings and every gateway they start use it."""
    port = free_port()
    args = python_args("-m", "billing.localstripe_server", "--port", str(port))
    server = ServerProcess("localstripe", args, child_env(), logs_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_until_ready(f"{url}/js.stripe.com/v3/")
        with override_settings(STRIPE_API_BASE=url, STRIPE_JS_URL=f"{url}/js.stripe.com/v3/"):
            yield url
    finally:
        server.stop()


@pytest.fixture
def localstripe(localstripe_url: str) -> str:
    """localstripe emptied for this test (the test database is too, between live tests)."""
    httpx.delete(f"{localstripe_url}/_config/data", timeout=5).raise_for_status()
    return localstripe_url


@pytest.fixture
def stripe_webhooks_to(localstripe_url: str) -> Iterator[Callable[[str], None]]:
    """`stripe_webhooks_to(gateway_url)`: localstripe sends its events to that gateway's
    webhook, signed with TEST_WEBHOOK_SECRET, until the test ends."""
    from billing.localstripe_server import webhook_register

    def register(gateway_url: str) -> None:
        webhook_register(localstripe_url, url=f"{gateway_url}/billing/webhooks/stripe",
                         secret=TEST_WEBHOOK_SECRET)  # fmt: skip

    try:
        yield register
    finally:
        # localstripe cannot forget a webhook, and sends each event a second after it: the
        # events of this test must not reach the next one's database.
        register(_NO_STRIPE)


Committed = Callable[[], AbstractContextManager[None]]


@pytest.fixture(scope="session")
def committed(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Committed:
    """Database access outside a test transaction: what is written is visible to servers.

    Only for tests marked `django_db(transaction=True)` (pytest-django creates the test
    database only when some test asks for it, and flushes it after such tests).
    """
    return django_db_blocker.unblock


@pytest.fixture
def live_catalog(transactional_db: None, simulator_url: str) -> str:
    """The demo catalog, committed. Transactional tests flush the tables after each test."""
    from catalog.services import demo_catalog_load

    demo_catalog_load(simulator_url=simulator_url)
    return simulator_url


@dataclass(frozen=True)
class LiveGateway:
    url: str
    server: ServerProcess


def _gateway_start(
    name: str, simulator_url: str, localstripe_url: str, logs_dir: Path, **env: str
) -> LiveGateway:
    """A gateway process on the test database (the caller stops it); `env` overrides settings."""
    return _gateway_start_at(free_port(), name, simulator_url, localstripe_url, logs_dir, **env)


def _gateway_start_at(
    port: int, name: str, simulator_url: str, localstripe_url: str, logs_dir: Path, **env: str
) -> LiveGateway:
    from django.db import connection

    defaults = {
        "DATABASE_URL": database_url(dict(connection.settings_dict), connection.vendor),
        "SIMULATOR_URL": simulator_url,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_JS_URL": f"{localstripe_url}/js.stripe.com/v3/",
        "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        # The catalog is reloaded for every test, so the gateway must not keep a stale copy.
        "CATALOG_CACHE_TTL_S": "0",
        # Each gateway its own health (tests that share it pass one prefix to several).
        "HEALTH_REDIS_PREFIX": f"{TEST_HEALTH_PREFIX}:{name}:{uuid.uuid4().hex}",
        # Rate-limit counts likewise (user ids repeat from one test database to the next).
        "RATE_LIMIT_REDIS_PREFIX": f"{TEST_HEALTH_PREFIX}:{name}:ratelimit:{uuid.uuid4().hex}",
        # Cached answers likewise (a hit needs the same user id, and ids repeat too).
        "RESPONSE_CACHE_REDIS_PREFIX": f"{TEST_HEALTH_PREFIX}:{name}:cache:{uuid.uuid4().hex}",
        # No probes behind the tests' backs (they count simulator requests): endpoints never
        # seen count as idle, so the in-process prober must not run at all unless asked.
        "HEALTH_PROBE_IDLE_S": "86400",
        "HEALTH_PROBE_INTERVAL_S": "3600",
        # Provider keys (BYOK) are stored by the tests just before the requests that use them.
        "BYOK_CACHE_TTL_S": "0",
        # Keys and balances too: a key changed through the ORM just before a request would race
        # the change's notification (test_key_cache_live turns the cache on, with a long TTL).
        "AUTH_CACHE_TTL_S": "0",
        # Stopping a gateway at the end of a test drains it: well within ServerProcess.stop's wait.
        "DRAIN_TIMEOUT_S": "3",
    }
    child = child_env(**{**defaults, **env})
    # The production server entry (graceful drain included); `env` may set DRAIN_TIMEOUT_S.
    args = python_args("-m", "marketplace.serve", "--port", str(port))
    server = ServerProcess(name, args, child, logs_dir)
    gateway = LiveGateway(url=f"http://127.0.0.1:{port}", server=server)
    try:
        server.wait_until_ready(f"{gateway.url}/api/v1/models")
    except BaseException:
        server.stop()
        raise
    return gateway


@pytest.fixture(scope="session")
def _gateway_process(
    committed: Committed, simulator_url: str, localstripe_url: str, logs_dir: Path
) -> Iterator[str]:
    # Many tests make providers fail on purpose; ejecting them here would change where later
    # tests are routed. Health is tested on gateways of its own.
    gateway = _gateway_start(
        "gateway", simulator_url, localstripe_url, logs_dir, HEALTH_FAILURE_THRESHOLD=str(10**9)
    )
    try:
        yield gateway.url
    finally:
        gateway.server.stop()


# Short enough for tests to see a silent provider replaced, long enough for a loaded machine.
FAILOVER_TEST_SETTINGS = {
    "UPSTREAM_FIRST_TOKEN_TIMEOUT_S": "1.5",
    "UPSTREAM_RESPONSE_TIMEOUT_S": "3",
    "UPSTREAM_MAX_RESPONSE_BYTES": str(1024 * 1024),
}


@pytest.fixture(scope="session")
def _failover_gateway_process(
    committed: Committed, simulator_url: str, localstripe_url: str, logs_dir: Path
) -> Iterator[str]:
    gateway = _gateway_start(
        "gateway-failover", simulator_url, localstripe_url, logs_dir,
        HEALTH_FAILURE_THRESHOLD=str(10**9),
        **FAILOVER_TEST_SETTINGS,
    )  # fmt: skip
    try:
        yield gateway.url
    finally:
        gateway.server.stop()


@pytest.fixture
def failover_gateway_url(_failover_gateway_process: str, live_catalog: str) -> str:
    """A gateway that gives up on a silent provider quickly, and never ejects one (so faults
    set by one test do not change where the next is routed)."""
    return _failover_gateway_process


@pytest.fixture
def sim_faults(simulator_url: str) -> Iterator[Callable[..., None]]:
    """`sim_faults("nimbus", "http_500", count=1)` sets a fault on a simulated provider
    through the simulator's control API; every fault is cleared after the test."""

    def set_fault(provider: str, fault: str, **options: int) -> None:
        response = httpx.put(
            f"{simulator_url}/_control/providers/{provider}", json={"fault": fault, **options}
        )
        assert response.status_code == 200, response.text

    try:
        yield set_fault
    finally:
        httpx.delete(f"{simulator_url}/_control/providers").raise_for_status()


GatewayFactory = Callable[..., LiveGateway]
_extra_gateways = itertools.count(1)


@pytest.fixture
def start_gateway(
    committed: Committed, simulator_url: str, localstripe_url: str, logs_dir: Path
) -> Iterator[GatewayFactory]:
    """Start more gateway processes on the test database, e.g. `start_gateway(HOLD_TTL_S="2")`
    (on a given `port=`, to restart one in place); each is stopped after the test (a test may
    also kill one itself)."""
    started: list[LiveGateway] = []

    def start(*, port: int | None = None, **env: str) -> LiveGateway:
        name = f"gateway-extra-{next(_extra_gateways)}"
        started.append(
            _gateway_start_at(
                port or free_port(), name, simulator_url, localstripe_url, logs_dir, **env
            )
        )
        return started[-1]

    try:
        yield start
    finally:
        for gateway in started:
            gateway.server.stop()


@pytest.fixture
def gateway_url(_gateway_process: str, live_catalog: str) -> str:
    """A live gateway process on the test database, with the demo catalog loaded."""
    return _gateway_process


@dataclass(frozen=True)
class Account:
    user_id: int
    email: str
    api_key: str


AccountFactory = Callable[..., Account]


@pytest.fixture(scope="session")
def make_account(committed: Committed) -> AccountFactory:
    """A committed user with a wallet holding `usd` dollars and one API key."""
    counter = iter(range(1_000_000))

    def make(usd: str = "5", *, email: str | None = None) -> Account:
        from billing.money import usd_to_nanos
        from billing.services import credits_grant, wallet_get_or_create
        from marketplace.accounts.services import user_get_or_create
        from marketplace.keys.services import api_key_create

        with committed():
            user, _ = user_get_or_create(email=email or f"user{next(counter)}@example.com")
            wallet_get_or_create(user=user)
            if Decimal(usd) > 0:
                credits_grant(user=user, amount_nanos=usd_to_nanos(usd))
            _, key = api_key_create(user=user, name="test")
        return Account(user_id=user.pk, email=user.email, api_key=key)

    return make


@pytest.fixture(scope="session")
def wallet_balance(committed: Committed) -> Callable[[int], int]:
    def balance(user_id: int) -> int:
        from django.db import connection

        from billing.models import Wallet

        try:
            with committed():
                return Wallet.objects.get(user_id=user_id).balance_nanos
        finally:
            # Called through sync_to_async, this runs on a worker thread whose connection
            # would otherwise stay open and keep the test database from being dropped.
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    return balance
