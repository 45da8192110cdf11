"""SWITCHYARD_ENV=production in a fresh process each time (the settings are read once, when
Django starts): it passes Django's deployment checks with a proper environment, and refuses to
start on development stand-ins, naming every problem at once."""

import os
import subprocess
import sys

import pytest

from tests.live import ROOT

# A proper production environment (made-up values of the right shape).
PRODUCTION = {
    "SWITCHYARD_ENV": "production",
    "SECRET_KEY": "Zq3v8Jm2kR9pX4tW7yB1nC6dF0gH5jL8sA2eU4iO9rT3wQ7zV1xK6mN",
    "API_KEY_HMAC_SECRET": "b7Hk2Pq9Lm4Xr8Tz1Wc6Vn3Jy5Fd0Gs7",
    "ALLOWED_HOSTS": "api.example.com",
    "STRIPE_API_BASE": "https://api.stripe.com",
    "STRIPE_SECRET_KEY": "sk_test_0123456789abcdef",
    "STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
    # Not Stripe's, but also required in production: the key encrypting users' provider keys.
    "BYOK_ENCRYPTION_KEY": "cHJvZHVjdGlvbi1ieW9rLWtleS1mb3ItdGhlLXRlc3Q=",
    "EMAIL_HOST": "smtp.example.com",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}
# The caller's own settings must not leak into the process under test.
_SETTINGS_PREFIXES = ("STRIPE_", "SWITCHYARD_", "BYOK_", "SECURE_", "EMAIL_", "SIMULATOR_")
_SETTINGS_NAMES = {
    "SECRET_KEY", "API_KEY_HMAC_SECRET", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL", "REDIS_URL",
}  # fmt: skip


def run_django(tmp_path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` after `django.setup()` in a new process, with `env` on top of an environment
    without any setting of the caller's."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_SETTINGS_PREFIXES)
        and name.removesuffix("_FILE") not in _SETTINGS_NAMES
    }
    environ.update(DJANGO_SETTINGS_MODULE="marketplace.settings",
                   SWITCHYARD_VAR_DIR=str(tmp_path), **env)  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def django_setup(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_django(tmp_path, "", **env)


def production(**changes: str | None) -> dict[str, str]:
    """The proper production environment with `changes` (None removes a variable)."""
    env = {**PRODUCTION, **changes}
    return {name: value for name, value in env.items() if value is not None}


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, "started"
    lines = [line for line in result.stderr.splitlines() if "ImproperlyConfigured" in line]
    assert lines, result.stderr
    return lines[-1]


def check_deploy(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {name: value for name, value in os.environ.items() if name not in PRODUCTION}
    environ.update(SWITCHYARD_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_production_passes_every_deployment_check(tmp_path):
    result = check_deploy(tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_turning_off_https_redirects_and_hsts_is_a_stated_decision_not_a_warning(tmp_path):
    # Behind a load balancer that redirects to HTTPS itself, for example.
    env = production(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    result = check_deploy(tmp_path, **env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deployment_checks_fail_on_the_development_mailer(tmp_path):
    # Sign-up needs its verification e-mail: Django's own check catches a console mailer.
    result = check_deploy(tmp_path, **production(EMAIL_HOST=None))
    assert result.returncode != 0
    assert "mail.E001" in result.stderr


def test_production_turns_on_https_only_settings(tmp_path):
    code = (
        "from django.conf import settings as s\n"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
        " s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_PROXY_SSL_HEADER)"
    )
    result = run_django(tmp_path, code, **production(SECURE_HSTS_SECONDS="600"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 6) == [
        "True", "600", "True", "False", "True", "True", "('HTTP_X_FORWARDED_PROTO', 'https')\n"
    ]  # fmt: skip


def test_development_serves_plain_http(tmp_path):
    code = (
        "from django.conf import settings as s\n"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE)"
    )
    result = run_django(tmp_path, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False 0 False\n"


def test_development_starts_on_localstripe_without_a_webhook_secret(tmp_path):
    result = django_setup(tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_development_defaults_are_refused_with_every_reason(tmp_path):
    message = refusal(django_setup(tmp_path, SWITCHYARD_ENV="production", DEBUG="true",
                                   SIMULATOR_URL="http://127.0.0.1:8100"))  # fmt: skip
    assert "SWITCHYARD_ENV=production refuses to start" in message
    for problem in (
        "DEBUG must be off",
        "SECRET_KEY must be set",
        "API_KEY_HMAC_SECRET must be set",
        "ALLOWED_HOSTS must name the site's host(s)",
        "STRIPE_API_BASE must be",
        "STRIPE_SECRET_KEY must be set",
        "STRIPE_WEBHOOK_SECRET must be set",
        "BYOK_ENCRYPTION_KEY must be set",
        "SIMULATOR_URL must not be set",
    ):
        assert problem in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"DEBUG": "1"}, "DEBUG must be off"),
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "too-short-0123456789"}, "SECRET_KEY must be set"),
        ({"API_KEY_HMAC_SECRET": None}, "API_KEY_HMAC_SECRET must be set"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must name"),
        ({"STRIPE_API_BASE": None}, "STRIPE_API_BASE must be an https URL of Stripe"),
        ({"STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/"}, "STRIPE_JS_URL must be"),
        ({"STRIPE_SECRET_KEY": None}, "STRIPE_SECRET_KEY must be set"),
        ({"STRIPE_WEBHOOK_SECRET": None}, "STRIPE_WEBHOOK_SECRET must be set"),
        ({"BYOK_ENCRYPTION_KEY": None}, "BYOK_ENCRYPTION_KEY must be set"),
        ({"SIMULATOR_URL": "http://127.0.0.1:8100"}, "SIMULATOR_URL must not be set"),
    ],
)
def test_production_refuses_each_development_stand_in_alone(tmp_path, change, problem):
    message = refusal(django_setup(tmp_path, **production(**change)))
    assert problem in message
    assert message.count("must") == 1, message  # nothing else is wrong


def test_production_refuses_a_simulator_address_given_in_a_file(tmp_path):
    path = tmp_path / "simulator-url"
    path.write_text("https://simulator.example.com\n")
    message = refusal(django_setup(tmp_path, **production(SIMULATOR_URL_FILE=str(path))))
    assert "SIMULATOR_URL must not be set" in message


def test_an_unknown_environment_is_refused(tmp_path):
    message = refusal(django_setup(tmp_path, SWITCHYARD_ENV="prod"))
    assert "SWITCHYARD_ENV must be development or production, got 'prod'" in message


# Every secret, and every address that carries credentials, may come from a file.
SECRETS_FROM_FILES = {
    "SECRET_KEY": "SECRET_KEY",
    "API_KEY_HMAC_SECRET": "API_KEY_HMAC_SECRET",
    "STRIPE_SECRET_KEY": "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY": "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET": "STRIPE_WEBHOOK_SECRET",
    "BYOK_ENCRYPTION_KEY": "BYOK_ENCRYPTION_KEY",
    "EMAIL_HOST_PASSWORD": "MAILERS['default']['OPTIONS']['password']",
    "DATABASE_URL": "DATABASE_URL",
    "REDIS_URL": "REDIS_URL",
}


def test_production_reads_every_secret_from_a_file(tmp_path):
    values = {
        **PRODUCTION,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_0123456789abcdef",
        "EMAIL_HOST_PASSWORD": "smtp password with spaces",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'from-a-file.sqlite3'}",
        "REDIS_URL": "redis://:password@redis.internal:6379/3",
    }
    env = {name: value for name, value in PRODUCTION.items() if name not in SECRETS_FROM_FILES}
    for name in SECRETS_FROM_FILES:
        path = tmp_path / name.lower()
        path.write_text(values[name] + "\n")  # as `echo` writes it
        env[f"{name}_FILE"] = str(path)
    code = "from django.conf import settings\n" + "".join(
        f"print({name!r}, repr(settings.{attribute}))\n"
        for name, attribute in SECRETS_FROM_FILES.items()
    )
    result = run_django(tmp_path, code, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{name} {values[name]!r}" for name in SECRETS_FROM_FILES]


def test_a_secret_given_twice_is_refused(tmp_path):
    path = tmp_path / "secret-key"
    path.write_text(PRODUCTION["SECRET_KEY"])
    result = django_setup(tmp_path, **production(SECRET_KEY_FILE=str(path)))
    assert result.returncode != 0
    assert "set SECRET_KEY or SECRET_KEY_FILE, not both" in result.stderr
