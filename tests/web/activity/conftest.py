"""The activity fixtures: the cast, and a client logged in as alice."""

import pytest
from django.test import Client

from marketplace.accounts.models import User
from marketplace.keys.services import api_key_create
from tests.web.activity.support import Cast


@pytest.fixture
def cast() -> Cast:
    alice = User.objects.create_user(email="alice@example.com")
    bob = User.objects.create_user(email="bob@example.com")
    return Cast(
        alice=alice,
        prod=api_key_create(user=alice, name="prod")[0],
        dev=api_key_create(user=alice, name="dev")[0],
        bob=bob,
        bobs_key=api_key_create(user=bob, name="bob-key")[0],
    )


@pytest.fixture
def alice_client(client: Client, cast: Cast) -> Client:
    client.force_login(cast.alice)
    return client
