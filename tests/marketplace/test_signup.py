import re

import pytest
from allauth.account.models import EmailAddress

from billing.services import credits_grant
from catalog.demo import DEMO_MODELS
from catalog.services import demo_catalog_load
from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
PASSWORD = "correct-horse-battery-9"
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


def test_model_catalog_lists_demo_models(client):
    demo_catalog_load(simulator_url="http://127.0.0.1:9")

    page = client.get("/models").content.decode()

    for demo in DEMO_MODELS:
        assert f"<code>{demo.slug}</code>" in page
