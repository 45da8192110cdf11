"""SWITCHYARD_ENV=production refuses to start on localstripe (or without a webhook secret), in a
fresh process each time: the settings are read once, when Django starts."""

import os
import subprocess
import sys

import pytest

from tests.live import ROOT

STRIPE = {
    "STRIPE_API_BASE": "https://api.stripe.com",
    "STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
    # Not Stripe's, but also required in production: the key encrypting users' provider keys.
    "BYOK_ENCRYPTION_KEY": "cHJvZHVjdGlvbi1ieW9rLWtleS1mb3ItdGhlLXRlc3Q=",
}


def django_setup(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    """`django.setup()` in a new process, with `env` on top of an environment without any
    Stripe or SWITCHYARD_ENV variable of the caller's."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRIPE_", "SWITCHYARD_", "BYOK_"))
    }
    environ.update(DJANGO_SETTINGS_MODULE="marketplace.settings",
                   SWITCHYARD_VAR_DIR=str(tmp_path), **env)  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, "started"
    lines = [line for line in result.stderr.splitlines() if "ImproperlyConfigured" in line]
    assert lines, result.stderr
    return lines[-1]


def test_production_starts_on_stripe(tmp_path):
    result = django_setup(tmp_path, SWITCHYARD_ENV="production", **STRIPE)
    assert result.returncode == 0, result.stderr


def test_development_starts_on_localstripe_without_a_webhook_secret(tmp_path):
    result = django_setup(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "api_base",
    [
        "http://127.0.0.1:8420",  # localstripe, as `./dev run` starts it
        "https://127.0.0.1:8420",
        "https://localhost:8420",
        "https://[::1]:8420",
        "https://0.0.0.0",
        "http://api.stripe.com",
        "api.stripe.com",
    ],
)
def test_production_refuses_a_local_or_plain_http_stripe(tmp_path, api_base):
    result = django_setup(
        tmp_path, SWITCHYARD_ENV="production", **{**STRIPE, "STRIPE_API_BASE": api_base}
    )
    message = refusal(result)
    assert "SWITCHYARD_ENV=production refuses to start" in message
    assert f"STRIPE_API_BASE must be an https URL of Stripe, not {api_base!r}" in message
    assert "STRIPE_WEBHOOK_SECRET" not in message


def test_production_refuses_stripe_js_from_localstripe(tmp_path):
    result = django_setup(
        tmp_path, SWITCHYARD_ENV="production",
        STRIPE_JS_URL="http://127.0.0.1:8420/js.stripe.com/v3/", **STRIPE,
    )  # fmt: skip
    assert "STRIPE_JS_URL must be an https URL of Stripe" in refusal(result)


def test_production_refuses_to_start_without_a_webhook_secret(tmp_path):
    result = django_setup(
        tmp_path, SWITCHYARD_ENV="production", STRIPE_API_BASE=STRIPE["STRIPE_API_BASE"]
    )
    message = refusal(result)
    assert "STRIPE_WEBHOOK_SECRET must be set" in message
    assert "BYOK_ENCRYPTION_KEY must be set" in message
    assert "STRIPE_API_BASE" not in message


def test_the_development_defaults_are_refused_with_every_reason(tmp_path):
    message = refusal(django_setup(tmp_path, SWITCHYARD_ENV="production"))
    assert "STRIPE_API_BASE must be" in message
    assert "STRIPE_WEBHOOK_SECRET must be set" in message
    assert "BYOK_ENCRYPTION_KEY must be set" in message


def test_an_unknown_environment_is_refused(tmp_path):
    message = refusal(django_setup(tmp_path, SWITCHYARD_ENV="prod"))
    assert "SWITCHYARD_ENV must be development or production, got 'prod'" in message


def test_production_refuses_the_development_byok_encryption_key(tmp_path):
    env = {name: value for name, value in STRIPE.items() if name != "BYOK_ENCRYPTION_KEY"}
    message = refusal(django_setup(tmp_path, SWITCHYARD_ENV="production", **env))
    assert "BYOK_ENCRYPTION_KEY must be set" in message
