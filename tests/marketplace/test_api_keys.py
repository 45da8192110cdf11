import re

import pytest

from marketplace.accounts.models import User
from marketplace.keys.hashing import api_key_hash
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db

KEY_PATTERN = re.compile(r"sk-sy-v1-[0-9a-f]{64}")


@pytest.fixture
def user() -> User:
    return User.objects.create_user(email="keys@example.com")


def test_create_returns_the_key_and_its_plaintext_once(user):
    api_key, plaintext = api_key_create(user=user, name="  ci  ")

    assert KEY_PATTERN.fullmatch(plaintext)
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.user == user
    assert stored.name == "ci"
    assert len(stored.prefix) > len("sk-sy-v1-")
    assert plaintext.startswith(stored.prefix)
    assert stored.key_hash == api_key_hash(plaintext)
    assert stored.key_hash != plaintext
    secret = plaintext.removeprefix("sk-sy-v1-")
    values = [str(v) for v in ApiKey.objects.filter(pk=api_key.pk).values().get().values()]
    assert not any(secret[:16] in value for value in values)
    assert stored.is_active


def test_blank_names_become_default(user):
    api_key, _ = api_key_create(user=user, name="   ")
    assert api_key.name == "default"


def test_revoke_sets_revoked_at_once(user):
    api_key, _ = api_key_create(user=user, name="ci")

    api_key_revoke(api_key=api_key)
    api_key.refresh_from_db()
    first = api_key.revoked_at
    assert first is not None
    assert not api_key.is_active

    api_key_revoke(api_key=api_key)
    api_key.refresh_from_db()
    assert api_key.revoked_at == first


def test_keys_of_two_users_differ(user):
    other = User.objects.create_user(email="other@example.com")
    mine, my_plaintext = api_key_create(user=user, name="default")
    theirs, their_plaintext = api_key_create(user=other, name="default")

    assert my_plaintext != their_plaintext
    assert mine.key_hash != theirs.key_hash
    assert list(other.api_keys.all()) == [theirs]
