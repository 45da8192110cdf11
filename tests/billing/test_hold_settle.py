"""Hold then settle on the gateway's path: `hold_open` and `usage_settle` (billing/usage.py)."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from billing.models import Generation, Hold, LedgerEntry, Wallet
from billing.money import Charge, Usage
from billing.services import credits_grant, holds_expire
from billing.usage import HoldRefused, HoldRequest, UsageRecord, hold_open, usage_settle
from marketplace.asyncdb import DjangoConnectionDb
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import EPOCH, period_start
from marketplace.keys.services import api_key_create, api_key_limit_set

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 6, 2, 15, 30, tzinfo=UTC)
TTL = timedelta(minutes=5)


def _open(
    hold_id: str,
    wallet: Wallet,
    key: ApiKey,
    amount: int,
    *,
    period: datetime = EPOCH,
    at: datetime = NOW,
) -> None:
    request = HoldRequest(
        hold_id=hold_id, wallet_id=wallet.pk, api_key_id=key.pk, amount_nanos=amount,
        key_period_start=period, created_at=at, expires_at=at + TTL,
    )  # fmt: skip
    # A savepoint, so that a refusal leaves the test's transaction usable on PostgreSQL.
    with transaction.atomic():
        async_to_sync(hold_open)(DjangoConnectionDb(), request)


def _refusal(hold_id: str, wallet: Wallet, key: ApiKey, amount: int, **kwargs: datetime) -> str:
    with pytest.raises(HoldRefused) as refused:
        _open(hold_id, wallet, key, amount, **kwargs)
    assert not Hold.objects.filter(pk=hold_id).exists()
    return refused.value.reason


def _settle(hold_id: str, key: ApiKey, charge: int, *, fee: int = 0, at: datetime = NOW) -> bool:
    record = UsageRecord(
        generation_id=hold_id, user_id=key.user_id, api_key_id=key.pk, model_slug="acme/m",
        provider_slug="acme", upstream_id="up-1", streamed=False, cancelled=charge == 0,
        finish_reason="stop", native_finish_reason="stop", usage=Usage(10, 20),
        usage_estimated=False, charge=Charge(provider_cost_nanos=charge - fee, fee_nanos=fee),
        latency_ms=5, generation_time_ms=9, created_at=at,
    )  # fmt: skip
    return async_to_sync(usage_settle)(DjangoConnectionDb(), record)


def _wallet(wallet: Wallet) -> tuple[int, int]:
    fresh = Wallet.objects.get(pk=wallet.pk)
    return fresh.balance_nanos, fresh.reserved_nanos


def _key(key: ApiKey) -> tuple[int, int, int]:
    fresh = ApiKey.objects.get(pk=key.pk)
    return fresh.reserved_nanos, fresh.usage_nanos, fresh.period_usage_nanos


def test_a_hold_beyond_the_available_balance_is_refused_as_insufficient_credits(wallet, key):
    _open("gen-a", wallet, key, 600)

    assert _refusal("gen-b", wallet, key, 401) == "insufficient_credits"
    assert _wallet(wallet) == (1000, 600)
    _open("gen-c", wallet, key, 400)
    assert _wallet(wallet) == (1000, 1000)


def test_a_hold_beyond_the_key_limit_is_refused_as_key_limit_exceeded(wallet):
    limited = api_key_create(user=wallet.user, name="capped", limit_nanos=300)[0]

    assert _refusal("gen-a", wallet, limited, 301) == "key_limit_exceeded"
    assert (_wallet(wallet), _key(limited)) == ((1000, 0), (0, 0, 0))
    _open("gen-b", wallet, limited, 300)
    assert (_wallet(wallet), _key(limited)) == ((1000, 300), (300, 0, 0))


def test_when_neither_covers_a_hold_the_wallet_is_the_reason(wallet):
    limited = api_key_create(user=wallet.user, name="capped", limit_nanos=300)[0]
    assert _refusal("gen-a", wallet, limited, 1001) == "insufficient_credits"


def test_settling_charges_once_and_records_the_generation(wallet, key):
    _open("gen-a", wallet, key, 500)

    assert _settle("gen-a", key, 320, fee=20) is True

    assert (_wallet(wallet), _key(key)) == ((680, 0), (0, 320, 320))
    generation = Generation.objects.get(pk="gen-a")
    assert (generation.cost_nanos, generation.provider_cost_nanos) == (320, 300)
    hold = Hold.objects.get(pk="gen-a")
    assert (hold.status, hold.charge_nanos, hold.closed_at) == ("settled", 320, NOW)


def test_settling_again_returns_false_and_changes_nothing(wallet, key):
    _open("gen-a", wallet, key, 500)
    assert _settle("gen-a", key, 320) is True

    assert _settle("gen-a", key, 320) is False
    assert _settle("gen-a", key, 0) is False
    assert _settle("gen-a", key, 499, at=NOW + TTL) is False

    assert (_wallet(wallet), _key(key)) == ((680, 0), (0, 320, 320))
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE).count() == 1
    assert Generation.objects.get().cost_nanos == 320
    assert Hold.objects.get(pk="gen-a").closed_at == NOW


def test_settling_an_unknown_hold_returns_false_and_records_nothing(wallet, key):
    assert _settle("gen-unknown", key, 100) is False
    assert not Generation.objects.exists()
    assert _wallet(wallet) == (1000, 0)


def test_an_expired_hold_is_settled_once_without_releasing_again(wallet, key):
    _open("gen-early", wallet, key, 300, at=NOW - timedelta(minutes=10))
    _open("gen-late", wallet, key, 200)
    assert holds_expire(now=NOW) == 1
    assert (_wallet(wallet), _key(key)) == ((1000, 200), (200, 0, 0))

    assert _settle("gen-early", key, 250) is True
    assert (_wallet(wallet), _key(key)) == ((750, 200), (200, 250, 250))
    assert Hold.objects.get(pk="gen-early").status == Hold.Status.SETTLED

    assert _settle("gen-early", key, 250) is False
    assert (_wallet(wallet), _key(key)) == ((750, 200), (200, 250, 250))


def test_a_charge_above_the_hold_is_taken_and_then_holds_are_refused(wallet, key, caplog):
    _open("gen-a", wallet, key, 400)

    with caplog.at_level(logging.WARNING, logger="billing.usage"):
        assert _settle("gen-a", key, 1500) is True

    assert (_wallet(wallet), _key(key)) == ((-500, 0), (0, 1500, 1500))
    assert LedgerEntry.objects.get(idempotency_key="usage:gen-a").amount_nanos == -1500
    assert "gen-a charged 1500 nanos over a hold of 400" in caplog.text
    assert _refusal("gen-b", wallet, key, 1) == "insufficient_credits"
    credits_grant(user=wallet.user, amount_nanos=501)
    _open("gen-c", wallet, key, 1)


def test_a_daily_limit_counts_only_todays_usage(wallet):
    credits_grant(user=wallet.user, amount_nanos=5000)
    daily = api_key_create(user=wallet.user, name="d", limit_nanos=1000, limit_reset="daily")[0]
    yesterday_at = NOW - timedelta(days=1)
    yesterday, today = period_start("daily", yesterday_at), period_start("daily", NOW)
    assert today - yesterday == timedelta(days=1)

    _open("gen-y", wallet, daily, 900, period=yesterday, at=yesterday_at)
    assert _settle("gen-y", daily, 900, at=yesterday_at) is True
    assert _refusal("gen-y2", wallet, daily, 101, period=yesterday, at=yesterday_at) == (
        "key_limit_exceeded"
    )

    _open("gen-t", wallet, daily, 1000, period=today)  # yesterday's 900 does not count
    assert _key(daily) == (1000, 900, 0)
    assert _settle("gen-t", daily, 700) is True
    assert _key(daily) == (0, 1600, 700)
    assert ApiKey.objects.get(pk=daily.pk).period_start == today

    assert _refusal("gen-t2", wallet, daily, 301, period=today) == "key_limit_exceeded"
    _open("gen-t3", wallet, daily, 300, period=today)


def test_a_hold_from_the_previous_period_settled_late_does_not_count_today(wallet):
    credits_grant(user=wallet.user, amount_nanos=5000)
    daily = api_key_create(user=wallet.user, name="d", limit_nanos=1000, limit_reset="daily")[0]
    today = period_start("daily", NOW)
    before_midnight = today - timedelta(seconds=1)

    _open("gen-y", wallet, daily, 400, period=period_start("daily", before_midnight))
    _open("gen-t", wallet, daily, 500, period=today)
    assert _settle("gen-y", daily, 400) is True

    assert _key(daily) == (500, 400, 0)
    _open("gen-t2", wallet, daily, 500, period=today)
    assert _key(daily) == (1000, 400, 0)


def test_holds_expire_releases_only_open_holds_past_expiry(wallet, key):
    _open("gen-past", wallet, key, 100, at=NOW - timedelta(minutes=6))
    _open("gen-edge", wallet, key, 200, at=NOW - TTL)  # expires exactly now: not yet
    _open("gen-live", wallet, key, 300)
    _open("gen-done", wallet, key, 50, at=NOW - timedelta(hours=1))
    assert _settle("gen-done", key, 40) is True

    assert holds_expire(now=NOW) == 1

    statuses = dict(Hold.objects.values_list("id", "status"))
    assert statuses == {
        "gen-past": "expired", "gen-edge": "open", "gen-live": "open", "gen-done": "settled",
    }  # fmt: skip
    assert Hold.objects.get(pk="gen-past").closed_at == NOW
    assert (_wallet(wallet), _key(key)) == ((960, 500), (500, 40, 40))
    assert holds_expire(now=NOW) == 0
    assert holds_expire(now=NOW + timedelta(seconds=1)) == 1
    assert (_wallet(wallet), _key(key)) == ((960, 300), (300, 40, 40))


def test_changing_a_keys_reset_period_keeps_its_limit_enforced(wallet):
    """From daily to never: the period restarts at zero, and the limit holds from then on."""
    credits_grant(user=wallet.user, amount_nanos=5000)
    daily = api_key_create(user=wallet.user, name="d", limit_nanos=1000, limit_reset="daily")[0]
    _open("gen-d", wallet, daily, 400, period=period_start("daily", NOW))
    assert _settle("gen-d", daily, 300) is True

    api_key_limit_set(api_key=daily, limit_nanos=1000, limit_reset="")
    _open("gen-n1", wallet, daily, 600)
    assert _settle("gen-n1", daily, 600) is True

    assert ApiKey.objects.get(pk=daily.pk).period_usage_nanos == 600
    assert _refusal("gen-n2", wallet, daily, 401) == "key_limit_exceeded"
    _open("gen-n3", wallet, daily, 400)
