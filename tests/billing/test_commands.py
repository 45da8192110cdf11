import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.db.models.functions import Cast

from billing.models import LedgerEntry, Wallet
from marketplace.accounts.models import User
from marketplace.keys.hashing import KEY_PREFIX, api_key_hash, api_key_looks_valid
from marketplace.keys.models import ApiKey

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    stdout = io.StringIO()
    call_command(*args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def _rows_containing(text: str) -> list[str]:
    """Every model row with a text or JSON column containing `text`."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                rows = model._default_manager.filter(**{f"{field.attname}__contains": text})
            elif isinstance(field, models.JSONField):
                rows = model._default_manager.annotate(
                    _as_text=Cast(field.attname, models.TextField())
                ).filter(_as_text__contains=text)
            else:
                continue
            if rows.exists():
                found.append(f"{model._meta.label}.{field.name}")
    return found


def test_create_api_key_creates_user_grants_credits_and_prints_key_last():
    out = _run("create_api_key", "--email", "Ops@Example.com", "--credits", "2.5")

    key = out.splitlines()[-1]
    assert api_key_looks_valid(key)
    user = User.objects.get(email="ops@example.com")
    assert Wallet.objects.get(user=user).balance_nanos == 2_500_000_000
    grant = LedgerEntry.objects.get(wallet__user=user)
    assert (grant.kind, grant.amount_nanos) == (LedgerEntry.Kind.GRANT, 2_500_000_000)
    stored = ApiKey.objects.get(user=user)
    assert stored.key_hash == api_key_hash(key)
    assert stored.prefix == key[: len(stored.prefix)]
    assert _rows_containing(key) == []
    assert _rows_containing(key.removeprefix(KEY_PREFIX)[8:40]) == []


def test_create_api_key_twice_reuses_the_user_and_adds_a_key():
    first = _run("create_api_key", "--email", "ops@example.com").splitlines()[-1]
    second = _run("create_api_key", "--email", "OPS@example.com").splitlines()[-1]

    assert first != second
    user = User.objects.get()
    hashes = set(ApiKey.objects.filter(user=user).values_list("key_hash", flat=True))
    assert hashes == {api_key_hash(first), api_key_hash(second)}
    assert Wallet.objects.get(user=user).balance_nanos == 0
    assert not LedgerEntry.objects.exists()


def test_create_api_key_refuses_sub_nano_credits():
    with pytest.raises(CommandError):
        _run("create_api_key", "--email", "ops@example.com", "--credits", "0.0000000001")
    assert not LedgerEntry.objects.exists()
    assert not ApiKey.objects.exists()


def test_grant_credits_adds_exactly_the_amount():
    _run("create_api_key", "--email", "ops@example.com", "--credits", "2.5")

    out = _run("grant_credits", "--email", "ops@example.com", "--usd", "1.25")

    wallet = Wallet.objects.get(user__email="ops@example.com")
    assert wallet.balance_nanos == 3_750_000_000
    latest = wallet.entries.order_by("-id").first()
    assert latest is not None
    assert (latest.amount_nanos, latest.balance_after_nanos) == (1_250_000_000, 3_750_000_000)
    assert "3.75" in out


def test_grant_credits_to_an_unknown_email_fails():
    with pytest.raises(CommandError, match=r"nobody@example\.com"):
        _run("grant_credits", "--email", "nobody@example.com", "--usd", "1")
    assert not LedgerEntry.objects.exists()
