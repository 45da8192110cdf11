"""`ledger_check` and the periodic ledger tasks: the cached counters are proved from the rows."""

import io
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from billing.models import Hold, Wallet
from billing.selectors import ledger_mismatches
from billing.services import credits_grant, wallet_get_or_create
from billing.tasks import holds_expire_task, ledger_check_task
from marketplace.accounts.models import User
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import EPOCH
from marketplace.keys.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet() -> Wallet:
    """A wallet with 1000 nanos, 300 of them held by an open hold, and one settled hold."""
    user = User.objects.create_user(email="check@example.com")
    credits_grant(user=user, amount_nanos=1000)
    wallet = wallet_get_or_create(user=user)
    key = api_key_create(user=user, name="k", limit_nanos=5000)[0]
    _hold("gen-open", wallet, key, 300)
    _hold("gen-done", wallet, key, 200)
    Hold.objects.filter(pk="gen-done").update(
        status=Hold.Status.SETTLED, charge_nanos=150, closed_at=timezone.now()
    )
    wallet.refresh_from_db()
    assert (wallet.balance_nanos, wallet.reserved_nanos) == (850, 300)
    return wallet


def _hold(hold_id: str, wallet: Wallet, key: ApiKey, amount: int, *, ttl_s: int = 300) -> Hold:
    now = timezone.now()
    return Hold.objects.create(
        id=hold_id, wallet=wallet, api_key=key, amount_nanos=amount, key_period_start=EPOCH,
        created_at=now, expires_at=now + timedelta(seconds=ttl_s),
    )  # fmt: skip


def _tamper(sql: str, pk: int) -> None:
    """Counters are cached columns: a raw UPDATE of them is not guarded, the check finds it."""
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])


def _check() -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("ledger_check", stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def _failed_check() -> str:
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="ledger check failed") as failed:
        call_command("ledger_check", stdout=stdout, stderr=stderr)
    assert failed.value.returncode != 0
    assert "passed" not in stdout.getvalue()
    return stderr.getvalue()


def test_ledger_check_passes_on_a_consistent_ledger(wallet):
    out, err = _check()
    assert out.strip() == "ledger check passed"
    assert err == ""


def test_ledger_check_fails_naming_a_wallet_whose_balance_was_tampered_with(wallet):
    _tamper("UPDATE billing_wallet SET balance_nanos = balance_nanos + 1 WHERE id = %s", wallet.pk)

    err = _failed_check()

    assert err.strip() == f"wallet {wallet.pk} balance: cached 851 != actual 850"


def test_ledger_check_fails_naming_a_wallet_whose_reservation_was_tampered_with(wallet):
    _tamper("UPDATE billing_wallet SET reserved_nanos = 0 WHERE id = %s", wallet.pk)

    err = _failed_check()

    assert err.strip() == f"wallet {wallet.pk} reserved: cached 0 != actual 300"


def test_ledger_check_fails_naming_a_key_whose_reservation_was_tampered_with(wallet):
    key = ApiKey.objects.get(user=wallet.user)
    _tamper("UPDATE keys_apikey SET reserved_nanos = reserved_nanos + 7 WHERE id = %s", key.pk)

    err = _failed_check()

    assert err.strip() == f"api key {key.pk} reserved: cached 307 != actual 300"


def test_ledger_check_reports_every_mismatch(wallet):
    other = wallet_get_or_create(user=User.objects.create_user(email="other@example.com"))
    tamper_both = "UPDATE billing_wallet SET balance_nanos = 5, reserved_nanos = 1 WHERE id = %s"
    _tamper(tamper_both, wallet.pk)
    _tamper("UPDATE billing_wallet SET balance_nanos = -3 WHERE id = %s", other.pk)

    err = _failed_check()

    assert sorted(err.splitlines()) == sorted([
        f"wallet {wallet.pk} balance: cached 5 != actual 850",
        f"wallet {wallet.pk} reserved: cached 1 != actual 300",
        f"wallet {other.pk} balance: cached -3 != actual 0",
    ])  # fmt: skip


def test_ledger_check_task_returns_the_mismatch_count_and_logs_errors(wallet, caplog):
    with caplog.at_level(logging.ERROR, logger="billing.tasks"):
        assert ledger_check_task() == 0
    assert caplog.records == []

    key = ApiKey.objects.get(user=wallet.user)
    _tamper("UPDATE billing_wallet SET balance_nanos = 0 WHERE id = %s", wallet.pk)
    _tamper("UPDATE keys_apikey SET reserved_nanos = 0 WHERE id = %s", key.pk)
    with caplog.at_level(logging.ERROR, logger="billing.tasks"):
        assert ledger_check_task() == 2

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sorted(errors) == sorted([
        f"LEDGER MISMATCH wallet {wallet.pk} balance: cached 0 != actual 850",
        f"LEDGER MISMATCH api key {key.pk} reserved: cached 0 != actual 300",
    ])  # fmt: skip


def test_holds_expire_task_releases_the_holds_past_expiry_and_returns_the_count(wallet, caplog):
    key = ApiKey.objects.get(user=wallet.user)
    _hold("gen-dead-1", wallet, key, 100, ttl_s=-60)
    _hold("gen-dead-2", wallet, key, 50, ttl_s=-1)

    with caplog.at_level(logging.WARNING, logger="billing.tasks"):
        assert holds_expire_task() == 2

    assert "released 2 expired hold(s)" in caplog.text
    assert set(Hold.objects.filter(status="expired").values_list("id", flat=True)) == {
        "gen-dead-1", "gen-dead-2",
    }  # fmt: skip
    assert Wallet.objects.get(pk=wallet.pk).reserved_nanos == 300
    assert ledger_mismatches() == []
    assert holds_expire_task() == 0
