import re

import pytest
from allauth.account.models import EmailAddress

from billing.services import credits_grant
from catalog.demo import DEMO_MODELS
from catalog.services import demo_catalog_load
from marketplace.accounts.models import User
from marketplace.keys.hashing import api_key_hash
from marketplace.keys.models import ApiKey
from marketplace.keys.services import api_key_create

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
PASSWORD = "correct-horse-battery-9"
KEY_PATTERN = re.compile(r"sk-sy-v1-[0-9a-f]{64}")
CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)")


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    # allauth counts attempts in the cache, which may be a Redis shared across runs.
    settings.ACCOUNT_RATE_LIMITS = False


def _redirects_to_login(response) -> bool:
    location: str = response.get("Location", "")
    return response.status_code == 302 and location.startswith("/accounts/login/")


def test_signup_requires_email_verification_before_the_dashboard(client, mailoutbox):
    response = client.post(
        "/accounts/signup/", {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [EMAIL]
    assert _redirects_to_login(client.get("/dashboard/"))
    client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert _redirects_to_login(client.get("/dashboard/"))

    match = CONFIRM_LINK.search(mailoutbox[0].body)
    assert match is not None, mailoutbox[0].body
    assert client.post(match.group(1)).status_code == 302
    assert EmailAddress.objects.get(email=EMAIL).verified

    response = client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    credits_grant(user=User.objects.get(email=EMAIL), amount_nanos=1_250_000_000)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert "Balance: <strong>$1.25</strong>" in response.content.decode()


def test_anonymous_dashboard_redirects_to_login(client):
    response = client.get("/dashboard/")
    assert _redirects_to_login(response)
    assert "next=/dashboard/" in response["Location"]


def test_a_new_key_is_shown_once_and_can_be_revoked(client):
    user = User.objects.create_user(email=EMAIL, password=PASSWORD)
    client.force_login(user)

    page = client.post("/dashboard/", {"name": "laptop"}).content.decode()
    shown = KEY_PATTERN.findall(page)
    assert len(set(shown)) == 1
    api_key = ApiKey.objects.get(user=user)
    assert (api_key.name, api_key.key_hash) == ("laptop", api_key_hash(shown[0]))

    page = client.get("/dashboard/").content.decode()
    assert KEY_PATTERN.search(page) is None
    assert api_key.prefix in page
    assert "<td>active</td>" in page

    response = client.post(f"/dashboard/keys/{api_key.pk}/revoke")
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert "<td>revoked</td>" in client.get("/dashboard/").content.decode()


def test_an_overlong_key_name_is_refused_on_the_form(client):
    user = User.objects.create_user(email=EMAIL, password=PASSWORD)
    client.force_login(user)

    response = client.post("/dashboard/", {"name": "x" * 101})

    assert response.status_code == 200
    assert "at most 100 characters" in response.content.decode()
    assert KEY_PATTERN.search(response.content.decode()) is None
    assert not ApiKey.objects.filter(user=user).exists()


def test_another_user_cannot_revoke_a_key(client):
    owner = User.objects.create_user(email=EMAIL)
    api_key, _ = api_key_create(user=owner, name="owner's")
    intruder = User.objects.create_user(email="mallory@example.com", password=PASSWORD)
    client.force_login(intruder)

    response = client.post(f"/dashboard/keys/{api_key.pk}/revoke")

    assert response.status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_model_catalog_lists_demo_models(client):
    demo_catalog_load(simulator_url="http://127.0.0.1:9")

    page = client.get("/models").content.decode()

    for demo in DEMO_MODELS:
        assert f"<code>{demo.slug}</code>" in page
