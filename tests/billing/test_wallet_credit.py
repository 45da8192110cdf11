import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from billing.models import LedgerEntry, Wallet
from billing.services import credits_grant, wallet_credit, wallet_get_or_create
from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> User:
    return User.objects.create_user(email="wallet@example.com")


def _balance(user: User) -> int:
    return Wallet.objects.get(user=user).balance_nanos


def test_credit_adds_to_balance_and_records_balance_after(user):
    first = wallet_credit(
        user=user, amount_nanos=700, kind=LedgerEntry.Kind.TOPUP, idempotency_key="topup:1"
    )
    second = wallet_credit(
        user=user, amount_nanos=300, kind=LedgerEntry.Kind.TOPUP, idempotency_key="topup:2"
    )
    assert _balance(user) == 1000
    first.refresh_from_db()
    assert (first.amount_nanos, first.balance_after_nanos, first.kind) == (700, 700, "topup")
    assert (second.amount_nanos, second.balance_after_nanos) == (300, 1000)
    assert second.wallet.user == user


def test_same_idempotency_key_credits_once(user):
    first = wallet_credit(
        user=user, amount_nanos=500, kind=LedgerEntry.Kind.TOPUP, idempotency_key="topup:x"
    )
    again = wallet_credit(
        user=user, amount_nanos=500, kind=LedgerEntry.Kind.TOPUP, idempotency_key="topup:x"
    )
    assert again.pk == first.pk
    assert _balance(user) == 500
    assert LedgerEntry.objects.filter(wallet__user=user).count() == 1


def test_balance_equals_sum_of_entries_after_several_grants(user):
    for amount in (1, 250, 1_000_000_000, 7):
        credits_grant(user=user, amount_nanos=amount)
    entries = LedgerEntry.objects.filter(wallet__user=user)
    assert entries.count() == 4
    assert set(entries.values_list("kind", flat=True)) == {LedgerEntry.Kind.GRANT}
    assert entries.aggregate(total=Sum("amount_nanos"))["total"] == _balance(user)
    assert _balance(user) == 1_000_000_258
    assert entries.order_by("-id").first().balance_after_nanos == 1_000_000_258  # type: ignore[union-attr]


@pytest.mark.parametrize("amount", [0, -1])
def test_non_positive_credits_are_refused(user, amount):
    with pytest.raises(ValueError, match="positive"):
        wallet_credit(
            user=user, amount_nanos=amount, kind=LedgerEntry.Kind.GRANT, idempotency_key="g:0"
        )
    with pytest.raises(ValueError, match="positive"):
        credits_grant(user=user, amount_nanos=amount)
    assert not LedgerEntry.objects.exists()
    assert not Wallet.objects.filter(user=user, balance_nanos__gt=0).exists()


def test_database_refuses_a_zero_amount_entry(user):
    wallet = wallet_get_or_create(user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            wallet=wallet,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            amount_nanos=0,
            balance_after_nanos=0,
            idempotency_key="adjustment:zero",
        )
    assert not LedgerEntry.objects.exists()
