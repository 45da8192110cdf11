"""The triggers that tell gateways which cached key lookups went stale (proxy migration 0002),
heard on the real server: every change authentication depends on is notified as
`user:<id>`; what every request's hold and settle write is not."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import timezone

from billing.models import LedgerEntry, Wallet
from billing.money import Charge, Usage
from billing.services import credits_grant, ledger_post, wallet_get_or_create
from billing.usage import HoldRequest, UsageRecord, hold_open, usage_settle
from marketplace.accounts.models import User
from marketplace.asyncdb import DjangoConnectionDb, postgres_conninfo
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import EPOCH
from marketplace.keys.services import api_key_create, api_key_revoke, api_key_update
from proxy.key_cache import AUTH_CHANNEL

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY: PostgreSQL"),
]

END = "end-of-test-step"
Heard = Callable[[Callable[[], object]], list[str]]


@pytest.fixture
def heard() -> Iterator[Heard]:
    """`heard(action)`: the notifications of the channel that `action` caused, in order."""
    with psycopg.connect(postgres_conninfo(), autocommit=True) as listener:
        listener.execute(f"LISTEN {AUTH_CHANNEL}")

        def until_end() -> list[str]:
            # Committed after everything before it: delivered after all their notifications.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [AUTH_CHANNEL, END])
            payloads: list[str] = []
            for notification in listener.notifies(timeout=10):
                if notification.payload == END:
                    return payloads
                payloads.append(notification.payload)
            raise AssertionError(f"{END!r} never came; heard {payloads}")

        def notifications_of(action: Callable[[], object]) -> list[str]:
            until_end()  # not those of what the test did before
            action()
            return until_end()

        yield notifications_of


@pytest.fixture
def alice() -> User:
    user = User.objects.create_user(email="alice@example.com")
    credits_grant(user=user, amount_nanos=1_000_000)
    return user


@pytest.fixture
def key(alice: User) -> ApiKey:
    return api_key_create(user=alice, name="test")[0]


def test_revoking_a_key_notifies_its_user(heard, alice, key):
    assert heard(lambda: api_key_revoke(api_key=key)) == [f"user:{alice.pk}"]


@pytest.mark.parametrize(
    "change",
    [
        {"disabled": True},
        {"limit_nanos": 500},
        {"limit_reset": "daily"},
        {"is_management": True},
        {"expires_at": datetime(2031, 1, 1, tzinfo=UTC)},
        {"key_hash": "0" * 64},
    ],
)
def test_changing_what_authentication_reads_of_a_key_notifies_its_user(heard, alice, key, change):
    assert heard(lambda: ApiKey.objects.filter(pk=key.pk).update(**change)) == [f"user:{alice.pk}"]


def test_a_key_changed_through_the_service_notifies_once(heard, alice, key):
    disable = lambda: api_key_update(api_key=key, disabled=True, limit_nanos=10)  # noqa: E731

    assert heard(disable) == [f"user:{alice.pk}"]


def test_renaming_a_key_or_saving_it_unchanged_does_not_notify(heard, key):
    assert heard(lambda: api_key_update(api_key=key, name="renamed")) == []
    assert heard(key.save) == []  # every column written, none changed
    assert heard(lambda: api_key_update(api_key=key, disabled=False)) == []  # already so


def test_deleting_a_key_notifies_its_user(heard, alice, key):
    assert heard(key.delete) == [f"user:{alice.pk}"]


def _hold(key: ApiKey, hold_id: str, amount_nanos: int) -> None:
    now = datetime.now(UTC)
    request = HoldRequest(
        hold_id=hold_id, wallet_id=Wallet.objects.get(user_id=key.user_id).pk,
        api_key_id=key.pk, amount_nanos=amount_nanos, key_period_start=EPOCH,
        created_at=now, expires_at=now + timedelta(minutes=5),
    )  # fmt: skip
    async_to_sync(hold_open)(DjangoConnectionDb(), request)


def _settle(key: ApiKey, hold_id: str, charge_nanos: int) -> None:
    record = UsageRecord(
        generation_id=hold_id, user_id=key.user_id, api_key_id=key.pk, model_slug="acme/m",
        provider_slug="acme", upstream_id="up-1", streamed=False, cancelled=False,
        finish_reason="stop", native_finish_reason="stop", usage=Usage(10, 20),
        usage_estimated=False, charge=Charge(provider_cost_nanos=charge_nanos, fee_nanos=0),
        latency_ms=5, generation_time_ms=9, created_at=datetime.now(UTC),
    )  # fmt: skip
    async_to_sync(usage_settle)(DjangoConnectionDb(), record)


def test_a_requests_hold_and_settlement_do_not_notify(heard, alice):
    limited = api_key_create(user=alice, name="limited", limit_nanos=100_000)[0]

    # The hold reserves on the wallet and the key; the settlement charges both (the wallet's
    # balance goes down) and gives the reservation back.
    assert heard(lambda: _hold(limited, "gen-1", 50_000)) == []
    assert heard(lambda: _settle(limited, "gen-1", 20_000)) == []
    limited.refresh_from_db()
    assert (limited.usage_nanos, limited.reserved_nanos) == (20_000, 0)


def test_credits_added_notify_and_money_taken_does_not(heard, alice):
    assert heard(lambda: credits_grant(user=alice, amount_nanos=5)) == [f"user:{alice.pk}"]
    refund = lambda: ledger_post(  # noqa: E731
        user=alice, amount_nanos=-5, kind=LedgerEntry.Kind.REFUND, idempotency_key="refund:1"
    )
    assert heard(refund) == []


def test_a_new_wallet_notifies(heard):
    bob = User.objects.create_user(email="bob@example.com")

    assert heard(lambda: wallet_get_or_create(user=bob)) == [f"user:{bob.pk}"]


def test_deactivating_a_user_notifies_and_a_log_in_does_not(heard, alice):
    alice.last_login = timezone.now()
    assert heard(lambda: alice.save(update_fields=["last_login"])) == []
    assert heard(alice.save) == []  # every column written, is_active unchanged

    alice.is_active = False
    assert heard(alice.save) == [f"user:{alice.pk}"]


def test_deleting_a_user_notifies(heard):
    bob = User.objects.create_user(email="bob@example.com")
    api_key_create(user=bob, name="test")
    bob_id = bob.pk

    assert heard(bob.delete) == [f"user:{bob_id}"]  # the key's and the user's: sent once


def test_emptying_a_table_notifies_everyone(heard, key):
    def truncate() -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE keys_apikey CASCADE")

    assert "all" in heard(truncate)
