"""The rules of marketplace/production.py, one by one (settings.py applies them at start-up:
see test_production_settings.py)."""

import pytest

from marketplace.env import EnvError
from marketplace.production import (
    DEV_API_KEY_HMAC_SECRET,
    DEV_BYOK_ENCRYPTION_KEY,
    DEV_SECRET_KEY,
    is_public_https,
    production_refusals,
    proxy_ssl_header,
)

PROPER = {
    "debug": False,
    "secret_key": "Zq3v8Jm2kR9pX4tW7yB1nC6dF0gH5jL8sA2eU4iO9rT3wQ7zV1xK6mN",
    "api_key_hmac_secret": "b7Hk2Pq9Lm4Xr8Tz1Wc6Vn3Jy5Fd0Gs7",
    "allowed_hosts": ["api.example.com"],
    "stripe_api_base": "https://api.stripe.com",
    "stripe_js_url": "https://js.stripe.com/v3/",
    "stripe_secret_key": "sk_live_0123456789",
    "stripe_webhook_secret": "whsec_0123456789",
    "byok_encryption_key": "cHJvZHVjdGlvbi1ieW9rLWtleS1mb3ItdGhlLXRlc3Q=",
    "simulator_url_is_set": False,
}


def refusals(**changes: object) -> list[str]:
    return production_refusals(**{**PROPER, **changes})  # type: ignore[arg-type]


def test_proper_settings_are_not_refused():
    assert refusals() == []


@pytest.mark.parametrize(
    "secret_key",
    [
        DEV_SECRET_KEY,
        "x" * 49,  # short
        "ab" * 40,  # long, but two characters
        "django-insecure-" + "k3Jd9sLq0PzX7wR2mN5bV8cT1yH4gF6eA0uI",  # startproject's
    ],
)
def test_a_weak_secret_key_is_refused(secret_key):
    [problem] = refusals(secret_key=secret_key)
    assert problem.startswith("SECRET_KEY must be set to a random value of at least 50")


@pytest.mark.parametrize("secret", [DEV_API_KEY_HMAC_SECRET, "s3cr3t-but-short", "a" * 64])
def test_a_weak_api_key_hmac_secret_is_refused(secret):
    [problem] = refusals(api_key_hmac_secret=secret)
    assert problem.startswith("API_KEY_HMAC_SECRET must be set to a random value")


def test_debug_is_refused():
    assert refusals(debug=True) == [
        "DEBUG must be off (it shows settings and tracebacks to anyone)"
    ]


def test_the_development_hosts_are_refused():
    [problem] = refusals(allowed_hosts=["127.0.0.1", "localhost", "[::1]"])
    assert problem.startswith("ALLOWED_HOSTS must name the site's host(s)")


def test_the_localstripe_secret_key_and_a_missing_webhook_secret_are_refused():
    assert refusals(stripe_secret_key="sk_test_localstripe", stripe_webhook_secret="") == [
        "STRIPE_SECRET_KEY must be set (the account's sk_live_/sk_test_ key)",
        "STRIPE_WEBHOOK_SECRET must be set (the signing secret of the Stripe webhook endpoint)",
    ]


def test_the_development_byok_key_is_refused():
    [problem] = refusals(byok_encryption_key=DEV_BYOK_ENCRYPTION_KEY)
    assert problem.startswith("BYOK_ENCRYPTION_KEY must be set")


def test_a_simulator_address_is_refused():
    [problem] = refusals(simulator_url_is_set=True)
    assert problem.startswith("SIMULATOR_URL must not be set")


@pytest.mark.parametrize(
    "api_base",
    [
        "http://127.0.0.1:8420",  # localstripe, as `./dev run` starts it
        "https://127.0.0.1:8420",
        "https://localhost:8420",
        "https://stripe.localhost",
        "https://[::1]:8420",
        "https://0.0.0.0",
        "http://api.stripe.com",
        "api.stripe.com",
    ],
)
def test_a_local_or_plain_http_stripe_is_refused(api_base):
    assert not is_public_https(api_base)
    assert refusals(stripe_api_base=api_base) == [
        f"STRIPE_API_BASE must be an https URL of Stripe, not {api_base!r} (localstripe and "
        "other local addresses are for development)"
    ]


def test_every_problem_is_listed():
    problems = refusals(debug=True, secret_key=DEV_SECRET_KEY, simulator_url_is_set=True)
    assert [problem.split(" ", 1)[0] for problem in problems] == [
        "DEBUG", "SECRET_KEY", "SIMULATOR_URL"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        ("", None),
        ("X-Forwarded-Proto", ("HTTP_X_FORWARDED_PROTO", "https")),
        ("x-forwarded-proto: https", ("HTTP_X_FORWARDED_PROTO", "https")),
        ("X-Forwarded-Ssl: on", ("HTTP_X_FORWARDED_SSL", "on")),
    ],
)
def test_the_proxy_ssl_header_is_read_from_its_http_name(raw, header):
    assert proxy_ssl_header(raw) == header


@pytest.mark.parametrize("raw", ["HTTP_X_FORWARDED_PROTO=https", ": https", "X Forwarded"])
def test_a_malformed_proxy_ssl_header_stops_the_start(raw):
    with pytest.raises(EnvError, match="SECURE_PROXY_SSL_HEADER must be"):
        proxy_ssl_header(raw)
