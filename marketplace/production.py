"""What SWITCHYARD_ENV=production refuses to start with.

Development runs on stand-ins (a known SECRET_KEY, localstripe, simulated providers); any of
them in production would leak sessions, forge API keys or take payments nowhere. settings.py
passes the values it read to `production_refusals`, and raises every problem at once, so an
operator fixes the environment in one pass instead of one restart per mistake.
"""

import ipaddress
from urllib.parse import urlsplit

from marketplace.env import EnvError

# The development defaults: settings.py uses them when a variable is unset, production refuses.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdef"
DEV_API_KEY_HMAC_SECRET = "dev-only-api-key-hmac-secret"
DEV_BYOK_ENCRYPTION_KEY = "ZGV2LW9ubHktYnlvay1lbmNyeXB0aW9uLWtleS0wMDA="
DEV_STRIPE_SECRET_KEY = "sk_test_localstripe"
DEV_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# Django's own bar for SECRET_KEY (security.W009); the HMAC secret keys a SHA-256.
SECRET_KEY_MIN_LENGTH = 50
HMAC_SECRET_MIN_LENGTH = 32
_SECRET_MIN_UNIQUE_CHARACTERS = 5
_HOW_TO_MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def proxy_ssl_header(raw: str) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER from `Header-Name` or `Header-Name: value` (value `https` when
    omitted), e.g. `X-Forwarded-Proto`: the load balancer's word that the client used TLS."""
    if not raw.strip():
        return None
    name, _, value = raw.partition(":")
    name, value = name.strip(), value.strip() or "https"
    if not name or not all(c.isalnum() or c == "-" for c in name):
        raise EnvError(f"SECURE_PROXY_SSL_HEADER must be 'Header-Name[: value]', got {raw!r}")
    return f"HTTP_{name.upper().replace('-', '_')}", value


def is_public_https(url: str) -> bool:
    """An https URL of a host other than this machine."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True  # a name
    return not (address.is_loopback or address.is_unspecified)


def _is_weak(secret: str, *, min_length: int) -> bool:
    return (
        len(secret) < min_length
        or len(set(secret)) < _SECRET_MIN_UNIQUE_CHARACTERS
        or secret.startswith("django-insecure-")
    )


def _secret_refusals(*, secret_key: str, api_key_hmac_secret: str) -> list[str]:
    refusals = []
    if secret_key == DEV_SECRET_KEY or _is_weak(secret_key, min_length=SECRET_KEY_MIN_LENGTH):
        refusals.append(
            f"SECRET_KEY must be set to a random value of at least {SECRET_KEY_MIN_LENGTH} "
            f"characters (not the development default), e.g. from `{_HOW_TO_MAKE_A_SECRET}`"
        )
    if api_key_hmac_secret == DEV_API_KEY_HMAC_SECRET or _is_weak(
        api_key_hmac_secret, min_length=HMAC_SECRET_MIN_LENGTH
    ):
        refusals.append(
            f"API_KEY_HMAC_SECRET must be set to a random value of at least "
            f"{HMAC_SECRET_MIN_LENGTH} characters (not the development default)"
        )
    return refusals


def _stripe_refusals(
    *, api_base: str, js_url: str, secret_key: str, webhook_secret: str
) -> list[str]:
    refusals = [
        f"{name} must be an https URL of Stripe, not {url!r} (localstripe and other local "
        "addresses are for development)"
        for name, url in (("STRIPE_API_BASE", api_base), ("STRIPE_JS_URL", js_url))
        if not is_public_https(url)
    ]
    if secret_key == DEV_STRIPE_SECRET_KEY:
        refusals.append("STRIPE_SECRET_KEY must be set (the account's sk_live_/sk_test_ key)")
    if not webhook_secret:
        refusals.append(
            "STRIPE_WEBHOOK_SECRET must be set (the signing secret of the Stripe webhook endpoint)"
        )
    return refusals


def production_refusals(
    *,
    debug: bool,
    secret_key: str,
    api_key_hmac_secret: str,
    allowed_hosts: list[str],
    stripe_api_base: str,
    stripe_js_url: str,
    stripe_secret_key: str,
    stripe_webhook_secret: str,
    byok_encryption_key: str,
    simulator_url_is_set: bool,
) -> list[str]:
    """Every reason these settings must not serve real users (empty: they may)."""
    refusals = []
    if debug:
        refusals.append("DEBUG must be off (it shows settings and tracebacks to anyone)")
    refusals += _secret_refusals(secret_key=secret_key, api_key_hmac_secret=api_key_hmac_secret)
    if allowed_hosts == DEV_ALLOWED_HOSTS:
        refusals.append("ALLOWED_HOSTS must name the site's host(s), e.g. api.example.com")
    refusals += _stripe_refusals(
        api_base=stripe_api_base,
        js_url=stripe_js_url,
        secret_key=stripe_secret_key,
        webhook_secret=stripe_webhook_secret,
    )
    if byok_encryption_key == DEV_BYOK_ENCRYPTION_KEY:
        refusals.append("BYOK_ENCRYPTION_KEY must be set (a key from Fernet.generate_key())")
    if simulator_url_is_set:
        # SIMULATOR_URL only tells `load_demo_catalog` where the simulated providers are; set in
        # production, it means someone is about to route paying users to fake models.
        refusals.append(
            "SIMULATOR_URL must not be set (the simulated providers are for development)"
        )
    return refusals
