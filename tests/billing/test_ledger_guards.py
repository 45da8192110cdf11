"""The database itself guards the ledger and the holds (migration 0003), even against raw SQL.

Every write here is raw SQL, so nothing in the application can be what refuses or applies it.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.models import Hold, LedgerEntry, Wallet
from billing.services import credits_grant
from marketplace.asyncdb import db_time
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import EPOCH
from marketplace.keys.services import api_key_create

pytestmark = pytest.mark.django_db

LIMIT = 600
INSERT_ENTRY = (
    "INSERT INTO billing_ledgerentry (wallet_id, kind, amount_nanos, balance_after_nanos, "
    "idempotency_key, reference, created_at) VALUES (%s, 'adjustment', %s, %s, %s, '', %s)"
)
INSERT_HOLD = (
    "INSERT INTO billing_hold (id, wallet_id, api_key_id, amount_nanos, charge_nanos, "
    "key_period_start, status, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
SETTLE = (
    "UPDATE billing_hold SET status = 'settled', charge_nanos = %s, closed_at = %s WHERE id = %s"
)


@pytest.fixture
def limited(wallet: Wallet) -> ApiKey:
    return api_key_create(user=wallet.user, name="limited", limit_nanos=LIMIT)[0]


def _execute(sql: str, params: Sequence[Any] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _refused(sql: str, params: Sequence[Any], match: str) -> None:
    """The statement raises IntegrityError whose message matches; the test goes on after it."""
    with pytest.raises(IntegrityError, match=match), transaction.atomic():
        _execute(sql, params)


def _now() -> object:
    return db_time(timezone.now())


def _entry_insert(wallet: Wallet, amount: int, idempotency_key: str) -> None:
    balance = Wallet.objects.get(pk=wallet.pk).balance_nanos
    _execute(INSERT_ENTRY, [wallet.pk, amount, balance + amount, idempotency_key, _now()])


def _hold_params(
    hold_id: str, wallet: Wallet, key: ApiKey, amount: int, status: str = "open", charge: int = 0
) -> list[object]:
    now = timezone.now()
    return [
        hold_id, wallet.pk, key.pk, amount, charge, db_time(EPOCH), status,
        db_time(now), db_time(now + timedelta(minutes=5)),
    ]  # fmt: skip


def _hold_insert(hold_id: str, wallet: Wallet, key: ApiKey, amount: int) -> None:
    _execute(INSERT_HOLD, _hold_params(hold_id, wallet, key, amount))


def _counters(wallet: Wallet, *keys: ApiKey) -> tuple[int, ...]:
    """(balance, reserved) of the wallet, then (reserved, usage, period usage) of each key."""
    fresh = Wallet.objects.get(pk=wallet.pk)
    values = [fresh.balance_nanos, fresh.reserved_nanos]
    for key in keys:
        row = ApiKey.objects.get(pk=key.pk)
        values += [row.reserved_nanos, row.usage_nanos, row.period_usage_nanos]
    return tuple(values)


def test_inserting_an_entry_moves_the_balance_and_records_balance_after(wallet):
    _entry_insert(wallet, 500, "adjustment:up")
    _entry_insert(wallet, -1700, "adjustment:down")

    assert Wallet.objects.get(pk=wallet.pk).balance_nanos == -200
    after = dict(LedgerEntry.objects.values_list("idempotency_key", "balance_after_nanos"))
    assert (after["adjustment:up"], after["adjustment:down"]) == (1500, -200)


def test_a_wrong_balance_after_is_never_stored(wallet):
    """PostgreSQL computes balance_after itself; SQLite refuses a wrong one."""
    try:
        with transaction.atomic():
            _execute(INSERT_ENTRY, [wallet.pk, 50, 999_999, "adjustment:wrong", _now()])
    except IntegrityError:
        assert not LedgerEntry.objects.filter(idempotency_key="adjustment:wrong").exists()
        assert Wallet.objects.get(pk=wallet.pk).balance_nanos == 1000
    else:
        entry = LedgerEntry.objects.get(idempotency_key="adjustment:wrong")
        assert entry.balance_after_nanos == 1050
        assert Wallet.objects.get(pk=wallet.pk).balance_nanos == 1050


def test_the_database_refuses_to_update_a_ledger_entry(wallet):
    entry = LedgerEntry.objects.get(wallet=wallet)
    for assignment in ("amount_nanos = 5", "reference = 'edited'", "kind = 'refund'"):
        _refused(
            f"UPDATE billing_ledgerentry SET {assignment} WHERE id = %s",  # noqa: S608
            [entry.pk],
            "append-only",
        )
    entry_after = LedgerEntry.objects.get(pk=entry.pk)
    assert (entry_after.amount_nanos, entry_after.reference) == (1000, entry.reference)
    assert entry_after.kind == entry.kind


def test_the_database_refuses_to_delete_a_ledger_entry_of_an_existing_wallet(wallet):
    entry = LedgerEntry.objects.get(wallet=wallet)
    _refused("DELETE FROM billing_ledgerentry WHERE id = %s", [entry.pk], "append-only")
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_the_database_refuses_a_duplicate_idempotency_key(wallet):
    _entry_insert(wallet, 10, "topup:once")
    with pytest.raises(IntegrityError, match=r"(?i)unique|duplicate"), transaction.atomic():
        _entry_insert(wallet, 10, "topup:once")
    assert LedgerEntry.objects.filter(idempotency_key="topup:once").count() == 1
    assert Wallet.objects.get(pk=wallet.pk).balance_nanos == 1010


def test_opening_a_hold_reserves_it_on_the_wallet_and_the_key(wallet, key, limited):
    _hold_insert("gen-a", wallet, key, 300)
    _hold_insert("gen-b", wallet, limited, 200)

    assert _counters(wallet, key, limited) == (1000, 500, 300, 0, 0, 200, 0, 0)


def test_the_database_refuses_a_hold_beyond_the_available_balance(wallet, key):
    _hold_insert("gen-a", wallet, key, 700)

    _refused(INSERT_HOLD, _hold_params("gen-b", wallet, key, 301), "insufficient_credits")
    assert not Hold.objects.filter(pk="gen-b").exists()
    assert _counters(wallet, key) == (1000, 700, 700, 0, 0)
    _hold_insert("gen-c", wallet, key, 300)  # exactly the available balance
    assert _counters(wallet, key) == (1000, 1000, 1000, 0, 0)


def test_the_database_refuses_a_hold_beyond_the_key_limit(wallet, limited):
    _hold_insert("gen-used", wallet, limited, 150)
    _execute(SETTLE, [100, _now(), "gen-used"])
    _hold_insert("gen-open", wallet, limited, 200)
    # The wallet could cover it (900 - 200 available); the key has 600 - 100 - 200 left.

    _refused(INSERT_HOLD, _hold_params("gen-x", wallet, limited, 301), "key_limit_exceeded")
    assert _counters(wallet, limited) == (900, 200, 200, 100, 100)
    _hold_insert("gen-edge", wallet, limited, 300)
    assert _counters(wallet, limited) == (900, 500, 500, 100, 100)


def test_settling_releases_the_reservation_and_debits_the_charge(wallet, key, limited):
    _hold_insert("gen-a", wallet, limited, 400)
    _hold_insert("gen-b", wallet, key, 100)

    _execute(SETTLE, [250, _now(), "gen-a"])

    assert _counters(wallet, key, limited) == (750, 100, 100, 0, 0, 0, 250, 250)
    usage = LedgerEntry.objects.get(idempotency_key="usage:gen-a")
    assert (usage.kind, usage.amount_nanos, usage.balance_after_nanos) == ("usage", -250, 750)
    assert usage.wallet_id == wallet.pk


def test_settling_with_no_charge_releases_without_an_entry(wallet, limited):
    _hold_insert("gen-a", wallet, limited, 400)

    _execute(SETTLE, [0, _now(), "gen-a"])

    assert _counters(wallet, limited) == (1000, 0, 0, 0, 0)
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE).exists()


def test_the_database_refuses_a_second_settlement(wallet, limited):
    _hold_insert("gen-a", wallet, limited, 400)
    _execute(SETTLE, [250, _now(), "gen-a"])

    _refused(SETTLE, [250, _now(), "gen-a"], "already")
    _refused(SETTLE, [0, _now(), "gen-a"], "already")
    _refused("UPDATE billing_hold SET status = 'settled' WHERE id = %s", ["gen-a"], "already")

    assert _counters(wallet, limited) == (750, 0, 0, 250, 250)
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE).count() == 1
    assert Hold.objects.get(pk="gen-a").charge_nanos == 250


@pytest.mark.parametrize(
    "assignment",
    [
        "status = 'settled', charge_nanos = 10",
        "status = 'settled'",
        "status = 'expired'",
        "status = 'open'",
        "closed_at = NULL",
        "expires_at = created_at",
    ],
)
def test_the_database_refuses_any_change_to_a_released_hold(wallet, key, assignment):
    _hold_insert("gen-a", wallet, key, 400)
    _execute("UPDATE billing_hold SET status = 'released', closed_at = %s WHERE id = %s",
             [_now(), "gen-a"])  # fmt: skip
    assert _counters(wallet, key) == (1000, 0, 0, 0, 0)

    sql = f"UPDATE billing_hold SET {assignment} WHERE id = %s"  # noqa: S608
    _refused(sql, ["gen-a"], "already")

    assert Hold.objects.get(pk="gen-a").status == Hold.Status.RELEASED
    assert _counters(wallet, key) == (1000, 0, 0, 0, 0)


@pytest.mark.parametrize("closing", ["expired", "settled"])
def test_the_database_refuses_to_change_a_holds_amount(wallet, key, closing):
    _hold_insert("gen-a", wallet, key, 400)

    _refused(
        "UPDATE billing_hold SET amount_nanos = 1 WHERE id = %s",
        ["gen-a"],
        "invalid hold transition",
    )
    sql = "UPDATE billing_hold SET status = %s, amount_nanos = 1, closed_at = %s WHERE id = %s"
    _refused(sql, [closing, _now(), "gen-a"], "terms of a hold are fixed")

    assert Hold.objects.get(pk="gen-a").amount_nanos == 400
    assert _counters(wallet, key) == (1000, 400, 400, 0, 0)


@pytest.mark.parametrize("closing", ["expired", "released"])
def test_the_database_refuses_a_charge_on_a_hold_that_is_not_settled(wallet, key, closing):
    _hold_insert("gen-a", wallet, key, 400)

    sql = "UPDATE billing_hold SET status = %s, charge_nanos = 5, closed_at = %s WHERE id = %s"
    _refused(sql, [closing, _now(), "gen-a"], "only a settled hold carries a charge")

    assert Hold.objects.get(pk="gen-a").status == Hold.Status.OPEN
    assert _counters(wallet, key) == (1000, 400, 400, 0, 0)


@pytest.mark.parametrize("target", ["open", "released", "expired"])
def test_the_database_refuses_to_reopen_or_release_an_expired_hold(wallet, key, target):
    _hold_insert("gen-a", wallet, key, 400)
    _execute("UPDATE billing_hold SET status = 'expired', closed_at = %s WHERE id = %s",
             [_now(), "gen-a"])  # fmt: skip

    sql = "UPDATE billing_hold SET status = %s WHERE id = %s"
    _refused(sql, [target, "gen-a"], "invalid hold transition")

    assert Hold.objects.get(pk="gen-a").status == Hold.Status.EXPIRED
    assert _counters(wallet, key) == (1000, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("status", "charge"),
    [("settled", 0), ("settled", 100), ("released", 0), ("expired", 0), ("open", 100)],
)
def test_the_database_refuses_a_hold_inserted_other_than_open_and_uncharged(
    wallet, key, status, charge
):
    params = _hold_params("gen-a", wallet, key, 400, status=status, charge=charge)
    _refused(INSERT_HOLD, params, "a hold starts open and uncharged")

    assert not Hold.objects.exists()
    assert _counters(wallet, key) == (1000, 0, 0, 0, 0)
    assert LedgerEntry.objects.filter(wallet=wallet).count() == 1


def test_a_hold_in_a_new_period_does_not_count_the_old_periods_usage(wallet, limited):
    credits_grant(user=wallet.user, amount_nanos=1000)
    today = datetime(2030, 6, 2, tzinfo=UTC)
    params = _hold_params("gen-old", wallet, limited, LIMIT)
    params[5] = db_time(today - timedelta(days=1))
    _execute(INSERT_HOLD, params)
    _execute(SETTLE, [LIMIT, _now(), "gen-old"])
    _refused(INSERT_HOLD, ["gen-same", *params[1:]], "key_limit_exceeded")

    params = _hold_params("gen-new", wallet, limited, LIMIT)
    params[5] = db_time(today)
    _execute(INSERT_HOLD, params)

    assert _counters(wallet, limited) == (2000 - LIMIT, LIMIT, LIMIT, LIMIT, 0)
    assert ApiKey.objects.get(pk=limited.pk).period_start == today
