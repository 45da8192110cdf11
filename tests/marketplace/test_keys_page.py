"""The keys page (/dashboard/): create a key (shown once), see its usage and limit, disable,
enable and delete it; only with a verified e-mail address, and only one's own keys."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from billing.money import usd_to_nanos
from marketplace.accounts.models import User
from marketplace.keys.hashing import api_key_hash
from marketplace.keys.models import ApiKey
from marketplace.keys.periods import period_start
from marketplace.keys.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db

KEY_PATTERN = re.compile(r"sk-sy-v1-[0-9a-f]{64}")


def verified_user(email: str) -> User:
    user = User.objects.create_user(email=email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def alice() -> User:
    return verified_user("alice@example.com")


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def page_of(client: Client) -> str:
    response = client.get("/dashboard/")
    assert response.status_code == 200
    return response.content.decode()


def table_of(page: str) -> str:
    match = re.search(r'<table id="keys">(.*?)</table>', page, re.S)
    assert match is not None
    return match.group(1)


def row_of(page: str, api_key: ApiKey) -> str:
    match = re.search(rf'<tr id="key-{api_key.pk}">(.*?)</tr>', page, re.S)
    assert match is not None, f"key {api_key.pk} is not listed"
    return match.group(1)


def test_a_new_key_is_shown_once_with_a_copy_button(alice_client, alice):
    response = alice_client.post("/dashboard/", {"name": "laptop"})

    page = response.content.decode()
    assert response.status_code == 200
    shown = KEY_PATTERN.findall(page)
    assert len(shown) == 1
    assert f'<code id="new-key">{shown[0]}</code>' in page
    assert '<button type="button" data-copy="new-key" hidden>Copy</button>' in page
    assert "dashboard/copy.js" in page
    api_key = ApiKey.objects.get(user=alice)
    assert (api_key.name, api_key.key_hash, api_key.is_management) == (
        "laptop", api_key_hash(shown[0]), False,
    )  # fmt: skip
    later = page_of(alice_client)
    assert KEY_PATTERN.search(later) is None
    assert api_key.prefix in row_of(later, api_key)
    assert "<td>active</td>" in row_of(later, api_key)


def test_a_key_is_created_with_a_credit_limit_that_resets(alice_client, alice):
    alice_client.post("/dashboard/", {"name": "ci", "limit_usd": "2.5", "limit_reset": "weekly"})

    api_key = ApiKey.objects.get(user=alice)
    assert (api_key.limit_nanos, api_key.limit_reset) == (usd_to_nanos("2.5"), "weekly")
    row = row_of(page_of(alice_client), api_key)
    assert "$2.50" in row
    assert "(weekly)" in row


def test_the_management_checkbox_creates_a_management_key(alice_client, alice):
    alice_client.post("/dashboard/", {"name": "ops", "is_management": "on"})

    api_key = ApiKey.objects.get(user=alice)
    assert api_key.is_management
    assert "<td>management</td>" in row_of(page_of(alice_client), api_key)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"name": ""}, "name", "This field is required"),
        ({"name": "x", "limit_usd": "-1"}, "limit_usd", "greater than or equal to 0"),
        ({"name": "x", "limit_usd": "0.0000000001"}, "limit_usd", "decimal places"),
        ({"name": "x", "limit_reset": "daily"}, "limit_reset", "Set a credit limit"),
        ({"name": "x", "limit_usd": "1", "is_management": "on"}, "limit_usd", "no limit"),
    ],
)
def test_field_errors_are_shown_at_their_labelled_inputs(alice_client, alice, form, field, message):
    response = alice_client.post("/dashboard/", form)

    page = response.content.decode()
    assert response.status_code == 200
    assert f'<label for="id_{field}">' in page
    error = re.search(rf'<ul class="errorlist" id="id_{field}_error"><li>(.*?)</li>', page)
    assert error is not None, page
    assert message in error.group(1)
    assert re.search(rf'aria-invalid="true" aria-describedby="[^"]*id_{field}_error', page)
    assert KEY_PATTERN.search(page) is None
    assert not ApiKey.objects.filter(user=alice).exists()


def test_an_unverified_user_is_asked_to_verify_before_creating_keys(client):
    user = User.objects.create_user(email="new@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    client.force_login(user)

    page = page_of(client)
    refused = client.post("/dashboard/", {"name": "laptop"})

    assert 'id="verify-email"' in page
    assert 'id="key-create"' not in page
    assert refused.status_code == 403
    assert 'id="verify-email"' in refused.content.decode()
    assert KEY_PATTERN.search(refused.content.decode()) is None
    assert not ApiKey.objects.filter(user=user).exists()


def test_a_key_can_be_disabled_and_enabled_again(alice_client, alice):
    api_key, _ = api_key_create(user=alice, name="ci")

    response = alice_client.post(f"/dashboard/keys/{api_key.pk}/disable")

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.disabled
    assert api_key.updated_at is not None
    row = row_of(page_of(alice_client), api_key)
    assert "<td>disabled</td>" in row
    assert f'action="/dashboard/keys/{api_key.pk}/enable"' in row
    alice_client.post(f"/dashboard/keys/{api_key.pk}/enable")
    api_key.refresh_from_db()
    assert not api_key.disabled
    assert "<td>active</td>" in row_of(page_of(alice_client), api_key)


def test_a_deleted_key_leaves_the_list_but_keeps_its_row(alice_client, alice):
    kept, _ = api_key_create(user=alice, name="kept")
    deleted, _ = api_key_create(user=alice, name="gone")

    response = alice_client.post(f"/dashboard/keys/{deleted.pk}/revoke")

    assert response.status_code == 302
    deleted.refresh_from_db()
    assert deleted.revoked_at is not None
    page = page_of(alice_client)
    assert f"Key {deleted.prefix}… deleted." in page
    assert deleted.prefix not in table_of(page)
    assert kept.prefix in row_of(page, kept)
    assert alice_client.post(f"/dashboard/keys/{deleted.pk}/disable").status_code == 404


def test_an_expired_key_is_shown_as_expired(alice_client, alice):
    api_key, _ = api_key_create(user=alice, name="old")
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=datetime.now(UTC) - timedelta(days=1))

    assert "<td>expired</td>" in row_of(page_of(alice_client), api_key)


def test_usage_is_shown_in_total_and_for_this_period(alice_client, alice):
    api_key, _ = api_key_create(
        user=alice, name="ci", limit_nanos=usd_to_nanos("10"), limit_reset="daily"
    )
    today = period_start("daily", datetime.now(UTC))
    ApiKey.objects.filter(pk=api_key.pk).update(
        usage_nanos=usd_to_nanos("7.25"), period_usage_nanos=usd_to_nanos("1.5"), period_start=today
    )

    row = row_of(page_of(alice_client), api_key)

    assert "$7.25" in row
    assert "$1.50 <small>(daily)</small>" in row
    assert "$10.00<br><small>$8.50 left</small>" in row

    # Yesterday's spending is not today's.
    ApiKey.objects.filter(pk=api_key.pk).update(period_start=today - timedelta(days=1))
    row = row_of(page_of(alice_client), api_key)
    assert "$0.00 <small>(daily)</small>" in row
    assert "$10.00 left" in row


@pytest.mark.parametrize("action", ["disable", "enable", "revoke"])
def test_another_users_key_is_not_found(client, action):
    owner = verified_user("owner@example.com")
    api_key, _ = api_key_create(user=owner, name="owner's")
    client.force_login(verified_user("mallory@example.com"))

    response = client.post(f"/dashboard/keys/{api_key.pk}/{action}")

    assert response.status_code == 404
    api_key.refresh_from_db()
    assert (api_key.disabled, api_key.revoked_at, api_key.updated_at) == (False, None, None)
    assert api_key.prefix not in table_of(page_of(client))


def test_key_actions_need_a_post_with_a_csrf_token(alice):
    api_key, _ = api_key_create(user=alice, name="ci")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    page = page_of(client)
    without_token = client.post(f"/dashboard/keys/{api_key.pk}/disable")

    assert client.get(f"/dashboard/keys/{api_key.pk}/disable").status_code == 405
    assert without_token.status_code == 403
    api_key.refresh_from_db()
    assert not api_key.disabled
    assert page.count('name="csrfmiddlewaretoken"') >= 3  # create, disable, delete


def test_another_users_keys_are_not_listed(alice_client):
    bob = verified_user("bob@example.com")
    bobs, _ = api_key_create(user=bob, name="bob's")
    api_key_revoke(api_key=api_key_create(user=bob, name="gone")[0])

    page = page_of(alice_client)

    assert bobs.prefix not in page
    assert "No keys yet." in table_of(page)


def test_anonymous_visitors_are_sent_to_log_in(client):
    api_key, _ = api_key_create(user=verified_user("owner@example.com"), name="x")

    for response in (
        client.get("/dashboard/"),
        client.post(f"/dashboard/keys/{api_key.pk}/disable"),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
