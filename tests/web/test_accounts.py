"""Sign up, e-mail verification, log in (rate limited), password reset and log out, through
django-allauth in the site's own layout. Mail goes through Django's mailers (locmem in tests)."""

import re
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
NEW_PASSWORD = "staple-lantern-orbit-42"
CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/accounts/confirm-email/[^/\s]+/)")
RESET_LINK = re.compile(r"https?://[^/\s]+(/accounts/password/reset/key/[^/\s]+/)")
WRONG_CREDENTIALS = "The email address and/or password you specified are not correct."
TOO_MANY = "Too many failed login attempts. Try again later."


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """allauth counts attempts in the cache: one of this test's own, as the default cache may
    be a Redis shared with other test runs."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-accounts-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def email() -> str:
    return f"ada-{uuid.uuid4().hex[:8]}@example.com"


def make_user(email: str, *, verified: bool) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def log_in(client: Client, email: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def is_logged_in(client: Client) -> bool:
    return client.get("/dashboard/settings/").status_code == 200


def test_sign_up_verify_by_the_mailed_link_then_log_in(client, email):
    response = client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert not is_logged_in(client)
    assert "Verify Your Email Address" in client.get("/accounts/confirm-email/").content.decode()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [email]
    assert message.subject.startswith("[Switchyard] ")
    assert "Hello from Switchyard!" in str(message.body)
    link = CONFIRM_LINK.search(str(message.body))
    assert link is not None, str(message.body)
    assert not EmailAddress.objects.get(email=email).verified

    page = client.get(
        link.group(1)
    )  # shows a button: mail scanners that follow links do not verify
    assert page.status_code == 200
    assert not EmailAddress.objects.get(email=email).verified
    assert f'action="{link.group(1)}"' in page.content.decode()
    assert client.post(link.group(1)).status_code == 302
    assert EmailAddress.objects.get(email=email).verified

    response = log_in(client, email)
    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert is_logged_in(client)


def test_an_unverified_account_is_told_to_verify_and_is_not_logged_in(client, email):
    make_user(email, verified=False)

    response = log_in(client, email)

    assert (response.status_code, response["Location"]) == (302, "/accounts/confirm-email/")
    assert "Verify Your Email Address" in client.get(response["Location"]).content.decode()
    assert not is_logged_in(client)
    assert [m.to for m in mail.outbox] == [[email]]  # the link is sent again
    assert CONFIRM_LINK.search(str(mail.outbox[0].body))


def test_a_wrong_password_is_refused_on_the_form(client, email):
    make_user(email, verified=True)

    response = log_in(client, email, "not-the-password")

    assert response.status_code == 200
    page = response.content.decode()
    assert WRONG_CREDENTIALS in page
    assert 'role="alert"' in page
    assert f'value="{email}"' in page  # what was typed is kept
    assert not is_logged_in(client)


def test_failed_logins_of_one_account_are_rate_limited(client, email):
    make_user(email, verified=True)
    for _ in range(5):
        assert WRONG_CREDENTIALS in log_in(client, email, "guess").content.decode()

    response = log_in(client, email)  # even the right password, for now

    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert not is_logged_in(client)
    other = f"other-{email}"
    make_user(other, verified=True)
    assert log_in(client, other).status_code == 302  # other accounts are unaffected


def test_failed_logins_from_one_address_are_rate_limited(client):
    for attempt in range(10):
        log_in(client, f"nobody{attempt}@example.com", "guess")

    response = log_in(client, "someone-else@example.com", "guess")

    assert TOO_MANY in response.content.decode()


def test_a_password_reset_by_mail_sets_a_new_password(client, email):
    make_user(email, verified=True)

    response = client.post("/accounts/password/reset/", {"email": email})
    assert (response.status_code, response["Location"]) == (302, "/accounts/password/reset/done/")
    assert len(mail.outbox) == 1
    link = RESET_LINK.search(str(mail.outbox[0].body))
    assert link is not None, str(mail.outbox[0].body)

    form_url = client.get(link.group(1))["Location"]  # the key moves into the session
    assert "set-password" in form_url
    assert client.get(form_url).status_code == 200
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    assert not is_logged_in(client)
    assert WRONG_CREDENTIALS in log_in(client, email).content.decode()
    assert log_in(client, email, NEW_PASSWORD).status_code == 302
    assert is_logged_in(client)
    # The link works once.
    client.post("/accounts/logout/")
    assert "Bad Token" in client.get(link.group(1), follow=True).content.decode()


def test_log_out(client, email):
    make_user(email, verified=True)
    log_in(client, email)
    page = client.get("/accounts/logout/")  # a confirmation, so a link cannot log anyone out
    assert page.status_code == 200
    assert is_logged_in(client)

    response = client.post("/accounts/logout/")

    assert (response.status_code, response["Location"]) == (302, "/")
    assert not is_logged_in(client)


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
)
def test_account_pages_use_the_site_layout_with_labelled_fields(client, path):
    page = client.get(path).content.decode()

    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<a href="/models">Models</a>' in page  # the site's header
    assert re.search(r"<title>\s*\w[^<]* · Switchyard</title>", page)
    assert '<main id="main">' in page
    inputs = re.findall(r'<input type="(?:email|password|text)"[^>]* id="([^"]+)"', page)
    assert inputs
    for input_id in inputs:
        assert f'<label for="{input_id}"' in page


def test_sign_up_errors_are_shown_next_to_their_fields(client):
    response = client.post(
        "/accounts/signup/", {"email": "ada@@example", "password1": "short", "password2": "x"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert '<ul class="errorlist" id="id_email_error"><li>Enter a valid email address.' in page
    assert "This password is too short." in page
    assert re.search(
        r'<input type="email"[^>]* aria-invalid="true" aria-describedby="id_email_error"', page
    )
    assert 'value="ada@@example"' in page
    assert not User.objects.exists()
    assert mail.outbox == []


def test_signing_up_with_a_taken_address_does_not_reveal_the_account(client, email):
    make_user(email, verified=True)

    response = client.post(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )

    # The same answer as a new sign-up; the owner is told by mail instead.
    assert (response.status_code, response["Location"]) == (302, "/accounts/confirm-email/")
    assert User.objects.filter(email=email).count() == 1
    assert [m.to for m in mail.outbox] == [[email]]
    assert "already" in str(mail.outbox[0].body)
