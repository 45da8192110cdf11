"""The "Provider keys" page: add, toggle and delete one's own provider keys (BYOK); a key is
stored encrypted and shown only by its last four characters; nobody reaches another's keys."""

import pytest

from catalog.services import demo_catalog_load
from marketplace.accounts.models import User
from marketplace.keys.models import ProviderKey
from marketplace.keys.provider_keys import provider_key_decrypt

SECRET = "sk-my-own-provider-key-0123456789WXYZ"


@pytest.fixture
def alice(db, client) -> User:
    demo_catalog_load(simulator_url="http://127.0.0.1:9")
    user = User.objects.create_user(email="alice@example.com", password="pw-alice-123456")
    client.force_login(user)
    return user


def add(client, provider: str = "quanta", key: str = SECRET, **extra: str):
    return client.post(
        "/dashboard/provider-keys/", {"provider": provider, "api_key": key, **extra}, follow=True
    )


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/dashboard/provider-keys/")
    assert response.status_code == 302


def test_a_saved_key_is_shown_only_by_its_last_four(client, alice):
    response = add(client)
    page = response.content.decode()
    assert response.status_code == 200
    assert "…WXYZ" in page
    assert "Quanta Compute" in page
    assert SECRET not in page
    stored = ProviderKey.objects.get(user=alice)
    assert SECRET not in stored.encrypted_key
    assert provider_key_decrypt(stored.encrypted_key) == SECRET
    assert (stored.last4, stored.always_use) == ("WXYZ", False)


def test_saving_again_replaces_the_key(client, alice):
    add(client)
    add(client, key="sk-another-key-ABCD", always_use="on")
    stored = ProviderKey.objects.get(user=alice)
    assert (stored.last4, stored.always_use) == ("ABCD", True)


def test_only_catalog_providers_can_be_chosen(client, alice):
    response = client.post(
        "/dashboard/provider-keys/", {"provider": "http://evil.example/v1", "api_key": SECRET}
    )
    assert response.status_code == 400
    assert not ProviderKey.objects.exists()
    assert SECRET not in response.content.decode()


def test_always_use_is_toggled_and_the_key_deleted(client, alice):
    add(client)
    key = ProviderKey.objects.get(user=alice)
    client.post(f"/dashboard/provider-keys/{key.pk}/always-use", {"always_use": "1"})
    assert ProviderKey.objects.get(pk=key.pk).always_use is True
    client.post(f"/dashboard/provider-keys/{key.pk}/delete")
    assert not ProviderKey.objects.exists()


def test_another_users_key_cannot_be_changed_or_deleted(client, alice):
    bob = User.objects.create_user(email="bob@example.com", password="pw-bob-1234567")
    add(client)
    key = ProviderKey.objects.get(user=alice)
    client.force_login(bob)
    assert client.post(f"/dashboard/provider-keys/{key.pk}/delete").status_code == 404
    assert client.post(f"/dashboard/provider-keys/{key.pk}/always-use").status_code == 404
    assert "WXYZ" not in client.get("/dashboard/provider-keys/").content.decode()
    assert ProviderKey.objects.filter(pk=key.pk).exists()
