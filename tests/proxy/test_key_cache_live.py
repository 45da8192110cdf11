"""The cache of key lookups on live gateway processes and PostgreSQL: a key in use is served
from the cache, yet a change made anywhere (Django, the keys API of another gateway) is
refused or seen by the very next request. The TTL here is five minutes, so only the
notification (or the cache turning itself off) can explain it."""

from collections.abc import Callable

import httpx
import pytest
from django.db import connection, transaction
from prometheus_client.parser import text_string_to_metric_families

from billing.leases import LEASE_PREFIX
from billing.models import Hold
from billing.money import usd_to_nanos
from billing.services import credits_grant
from marketplace.accounts.models import User
from marketplace.keys.hashing import api_key_hash
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create, api_key_revoke
from tests.conftest import LiveGateway
from tests.live import eventually

pytestmark = pytest.mark.django_db(transaction=True)
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the cache needs LISTEN/NOTIFY: PostgreSQL"
)

MODEL = "openai/gpt-4o-mini"
LONG_TTL = {"AUTH_CACHE_TTL_S": "300"}
# Longer than a notification takes on a loaded machine; far shorter than the TTL.
NOTIFIED_WITHIN_S = 2.0


def metric(url: str, name: str, **labels: str) -> float:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def lookups(url: str) -> tuple[float, float]:
    """How many authentications this gateway answered (from its cache, from the database)."""
    return (
        metric(url, "switchyard_auth_lookups_total", source="cache"),
        metric(url, "switchyard_auth_lookups_total", source="database"),
    )


def invalidations(url: str) -> float:
    return metric(url, "switchyard_auth_cache_invalidations_total")


def is_listening(url: str) -> bool:
    return metric(url, "switchyard_auth_cache_listening") == 1


def credits(url: str, key: str) -> httpx.Response:
    """A cheap authenticated request (no model call): the account's credits."""
    return httpx.get(
        f"{url}/api/v1/credits", headers={"authorization": f"Bearer {key}"}, timeout=30
    )


def chat(url: str, key: str, **body: object) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], **body},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def lookups_of(url: str, request: Callable[[], httpx.Response], status: int) -> tuple[int, int]:
    """(from the cache, from the database) of one request answering `status`."""
    cached, queried = lookups(url)
    response = request()
    assert response.status_code == status, response.text
    after_cached, after_queried = lookups(url)
    return int(after_cached - cached), int(after_queried - queried)


def refused_soon(url: str, key: str) -> None:
    eventually(
        lambda: credits(url, key).status_code == 401,
        timeout_s=NOTIFIED_WITHIN_S,
        what="the key refused",
    )


def cached_gateway(start_gateway: Callable[..., LiveGateway], **env: str) -> LiveGateway:
    gateway = start_gateway(**LONG_TTL, **env)
    eventually(lambda: is_listening(gateway.url), what="the gateway listens for key changes")
    return gateway


@pytest.fixture
def gateway(start_gateway, live_catalog) -> LiveGateway:
    return cached_gateway(start_gateway)


def key_in_use(url: str, key: str) -> None:
    """Authenticate with `key` until it is served from the cache."""
    assert credits(url, key).status_code == 200
    assert lookups_of(url, lambda: credits(url, key), 200) == (1, 0)


def api_key_of(plaintext: str) -> ApiKey:
    return ApiKey.objects.get(key_hash=api_key_hash(plaintext))


@postgresql_only
def test_a_key_revoked_through_django_is_refused_by_the_next_request(gateway, make_account):
    alice = make_account("1")
    key_in_use(gateway.url, alice.api_key)

    api_key_revoke(api_key=api_key_of(alice.api_key))

    refused_soon(gateway.url, alice.api_key)
    assert chat(gateway.url, alice.api_key).status_code == 401


@postgresql_only
def test_a_key_disabled_on_another_gateway_is_refused_by_the_next_request(
    start_gateway, live_catalog, make_account
):
    serving, managing = cached_gateway(start_gateway), cached_gateway(start_gateway)
    alice = make_account("1")
    manager = api_key_create(user=User.objects.get(pk=alice.user_id), name="m", is_management=True)
    key_in_use(serving.url, alice.api_key)

    disabled = httpx.patch(
        f"{managing.url}/api/v1/keys/{api_key_hash(alice.api_key)}",
        json={"disabled": True},
        headers={"authorization": f"Bearer {manager[1]}"},
        timeout=30,
    )

    assert disabled.status_code == 200, disabled.text
    refused_soon(serving.url, alice.api_key)
    assert "disabled" in credits(serving.url, alice.api_key).json()["error"]["message"]


@postgresql_only
def test_a_deactivated_user_is_refused_by_the_next_request(gateway, make_account):
    alice = make_account("1")
    key_in_use(gateway.url, alice.api_key)

    user = User.objects.get(pk=alice.user_id)
    user.is_active = False
    user.save()

    refused_soon(gateway.url, alice.api_key)


@postgresql_only
def test_credits_granted_after_a_402_let_the_next_request_through(gateway, make_account):
    bob = make_account("0")
    key_in_use(gateway.url, bob.api_key)
    assert chat(gateway.url, bob.api_key).status_code == 402

    credits_grant(user=User.objects.get(pk=bob.user_id), amount_nanos=usd_to_nanos("1"))

    eventually(
        lambda: chat(gateway.url, bob.api_key).status_code == 200,
        timeout_s=NOTIFIED_WITHIN_S,
        what="the request after the top-up answered",
    )


@postgresql_only
def test_a_request_refused_for_credits_has_the_next_one_read_the_balance_afresh(
    gateway, make_account
):
    bob = make_account("0")
    key_in_use(gateway.url, bob.api_key)
    assert lookups_of(gateway.url, lambda: chat(gateway.url, bob.api_key), 402) == (1, 0)

    # No notification: a hold refused in the database is not a change of the wallet.
    assert lookups_of(gateway.url, lambda: credits(gateway.url, bob.api_key), 200) == (0, 1)


@postgresql_only
def test_credits_granted_reach_a_cached_balance(start_gateway, live_catalog, make_account):
    # A wallet with $50 available gets a lease; one with $10 a hold per request.
    gateway = cached_gateway(start_gateway, LEASE_MIN_AVAILABLE_USD="50", LEASE_IDLE_S="60")
    carol = make_account("10")
    assert chat(gateway.url, carol.api_key).status_code == 200
    assert lookups_of(gateway.url, lambda: chat(gateway.url, carol.api_key), 200) == (1, 0)
    assert not Hold.objects.filter(id__startswith=LEASE_PREFIX).exists()
    before = invalidations(gateway.url)

    credits_grant(user=User.objects.get(pk=carol.user_id), amount_nanos=usd_to_nanos("100"))

    eventually(lambda: invalidations(gateway.url) > before, what="the top-up notified")
    assert lookups_of(gateway.url, lambda: chat(gateway.url, carol.api_key), 200) == (0, 1)
    assert Hold.objects.filter(id__startswith=LEASE_PREFIX).count() == 1


@postgresql_only
def test_requests_that_hold_and_settle_keep_their_key_cached(gateway, make_account):
    alice = make_account("1")
    # A key with a limit of its own: each request also moves the key's usage counters.
    _, limited = api_key_create(
        user=User.objects.get(pk=alice.user_id), name="limited", limit_nanos=usd_to_nanos("1")
    )
    key_in_use(gateway.url, limited)
    before = invalidations(gateway.url)

    for stream in (False, True, False):
        response = chat(gateway.url, limited, stream=stream)
        assert response.status_code == 200, response.text

    assert lookups_of(gateway.url, lambda: chat(gateway.url, limited), 200) == (1, 0)
    assert invalidations(gateway.url) == before
    assert api_key_of(limited).usage_nanos > 0


def commit_while_listener_killed(gateway: LiveGateway, change: Callable[[], object]) -> None:
    """Commit `change` once the gateway's listening connection is gone, so that no
    notification of it can reach the gateway (it reconnects half a second later at the
    earliest)."""
    name = f"switchyard-auth-listener {gateway.server.process.pid}"
    with transaction.atomic(), connection.cursor() as cursor:
        change()
        cursor.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [name],
        )
        assert cursor.fetchall() == [(True,)]


@postgresql_only
def test_a_revocation_while_the_listener_is_down_is_still_seen(gateway, make_account):
    alice, bob = make_account("1"), make_account("1")
    key_in_use(gateway.url, alice.api_key)

    commit_while_listener_killed(gateway, lambda: api_key_revoke(api_key=api_key_of(alice.api_key)))

    refused_soon(gateway.url, alice.api_key)
    # Once it listens again, the cache serves again.
    eventually(lambda: is_listening(gateway.url), what="listening again")
    key_in_use(gateway.url, bob.api_key)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's zero-setup mode")
def test_on_sqlite_every_request_reads_its_key(start_gateway, live_catalog, make_account):
    gateway = start_gateway(**LONG_TTL)
    alice = make_account("1")
    assert credits(gateway.url, alice.api_key).status_code == 200

    assert lookups_of(gateway.url, lambda: credits(gateway.url, alice.api_key), 200) == (0, 1)
    assert not is_listening(gateway.url)
