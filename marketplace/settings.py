"""Switchyard settings: one flat module, every value from the environment.

Zero-setup defaults (DESIGN.md section 2): SQLite file, in-process cache, Celery eager,
simulated providers. Production sets DATABASE_URL, REDIS_URL and the secrets.
"""

import contextlib
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from marketplace.env import env_bool, env_float, env_int, env_list, env_str
from marketplace.production import (
    DEV_ALLOWED_HOSTS,
    DEV_API_KEY_HMAC_SECRET,
    DEV_BYOK_ENCRYPTION_KEY,
    DEV_SECRET_KEY,
    DEV_STRIPE_SECRET_KEY,
    production_refusals,
    proxy_ssl_header,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SWITCHYARD_VAR_DIR", str(BASE_DIR / "var")))

# "production" refuses to start on development stand-ins such as localstripe (checked at the
# end, by marketplace/production.py) and turns on HTTPS-only cookies, redirects and HSTS.
SWITCHYARD_ENV = env_str("SWITCHYARD_ENV", "development")
if SWITCHYARD_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"SWITCHYARD_ENV must be development or production, got {SWITCHYARD_ENV!r}"
    )

_PRODUCTION = SWITCHYARD_ENV == "production"

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", DEV_ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# API keys are stored as HMAC-SHA256(API_KEY_HMAC_SECRET, key). Rotating this secret
# invalidates every key, so it is separate from SECRET_KEY.
API_KEY_HMAC_SECRET = env_str("API_KEY_HMAC_SECRET", DEV_API_KEY_HMAC_SECRET)

# HTTPS. In production the site is only served over TLS, usually terminated by a load balancer
# that says so in a header: SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto" (value https) or
# "Header-Name: value". Without it (and without uvicorn's --forwarded-allow-ips) every request
# looks like plain HTTP and SECURE_SSL_REDIRECT would redirect forever.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env_str("SECURE_PROXY_SSL_HEADER"))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=_PRODUCTION)
# Load balancers probe replicas over plain HTTP, by address.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_PRODUCTION)
# Opt-in: with `preload` anyone may submit the domain to the browsers' preload list, which takes
# months to leave.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = _PRODUCTION
CSRF_COOKIE_SECURE = _PRODUCTION
# What production turns off on purpose is the operator's decision, stated in the environment:
# `check --deploy` (a release step) would otherwise fail on it forever.
SILENCED_SYSTEM_CHECKS = (
    [
        check
        for check, enabled in (
            ("security.W004", SECURE_HSTS_SECONDS),
            ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
            ("security.W008", SECURE_SSL_REDIRECT),
            ("security.W021", SECURE_HSTS_PRELOAD),
        )
        if not enabled
    ]
    if _PRODUCTION
    else []
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "rest_framework",
    "marketplace.accounts",
    "marketplace.keys",
    "marketplace.dashboard",
    "marketplace.ops",
    "billing",
    "catalog",
    "proxy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "marketplace.api_errors.ApiErrorMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(url: str) -> dict[str, object]:
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # WAL lets the gateway read while another process writes; IMMEDIATE takes the
        # write lock at BEGIN so two writers queue instead of failing with "database is locked".
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        # Tests start the gateway as a separate process, so the test database must be a file;
        # one per test run, so that two runs on one machine do not collide.
        config["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'switchyard.sqlite3'}")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: workers on Redis in production; eager (in-process) when no broker is configured.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
# The queue beat and the gateways send to and the workers read: the processes of one deployment
# share it; two deployments on one Redis need different ones (or different databases).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Holds of requests that died are released at most this long after they expire.
    "holds-expire": {
        "task": "billing.tasks.holds_expire_task",
        "schedule": env_float("HOLD_SWEEP_INTERVAL_S", 30),
    },
    "ledger-check": {
        "task": "billing.tasks.ledger_check_task",
        "schedule": env_float("LEDGER_CHECK_INTERVAL_S", 600),
    },
    "probe-endpoints": {"task": "proxy.tasks.probe_endpoints_task", "schedule": 30.0},
    # Wallets below their auto top-up threshold are charged within this many seconds.
    "auto-topups": {
        "task": "billing.tasks.auto_topups_due_task",
        "schedule": env_float("AUTO_TOPUP_CHECK_S", 15),
    },
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/dashboard/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Switchyard] "
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# Failed logins: 10 a minute per IP, 5 per 5 minutes per account (allauth's defaults, stated).
# Counted in the cache, which must be shared by every web process in production (Redis).
# The admin's login goes through allauth too (marketplace/urls.py), so the same limits apply.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# Reverse proxies in front of the app: allauth then takes the client's IP from
# X-Forwarded-For (else every client behind the proxy would share one rate limit).
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# E-mail (Django 6.1 mailers): printed to the console unless an SMTP host is configured.
_SMTP_HOST = env_str("EMAIL_HOST", "")
MAILERS: dict[str, dict[str, object]] = {
    "default": {
        "BACKEND": env_str(
            "EMAIL_BACKEND",
            "django.core.mail.backends.smtp.EmailBackend"
            if _SMTP_HOST
            else "django.core.mail.backends.console.EmailBackend",
        ),
        "OPTIONS": {
            "host": _SMTP_HOST,
            "port": env_int("EMAIL_PORT", 587),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", default=True),
        }
        if _SMTP_HOST
        # The file backend (EMAIL_BACKEND=...filebased.EmailBackend) writes into this folder.
        else ({"file_path": env_str("EMAIL_FILE_PATH")} if env_str("EMAIL_FILE_PATH") else {}),
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Switchyard <noreply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# whitenoise warns about a missing STATIC_ROOT (before any collectstatic); make sure it exists.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Filled by `collectstatic` for production; WhiteNoise warns (an error in the tests) while it is
# missing, as it is in a fresh checkout.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve static files straight from the apps, so the zero-setup run needs no collectstatic.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

# Where the demo catalog points its simulated providers (refused in production).
SIMULATOR_URL = env_str("SIMULATOR_URL", "http://127.0.0.1:8100")

# Per-token platform markup on inference, in basis points of the provider cost
# (0 = pass-through pricing as on OpenRouter; a provider may override it).
INFERENCE_FEE_BPS = env_int("INFERENCE_FEE_BPS", 0)
# Platform fee on buying credits: a share in basis points, with a minimum in USD.
# Bring your own key: the Fernet key that encrypts users' provider keys at rest (generate one
# with `Fernet.generate_key()`), and the fee on a request served with the user's own key, in
# basis points of what it would have cost at the endpoint's price.
BYOK_ENCRYPTION_KEY = env_str("BYOK_ENCRYPTION_KEY", DEV_BYOK_ENCRYPTION_KEY)
BYOK_FEE_BPS = env_int("BYOK_FEE_BPS", 500)
BYOK_CACHE_TTL_S = env_float("BYOK_CACHE_TTL_S", 5.0)
# Seconds a gateway process reuses an API key's authentication (key, owner, wallet) once read;
# PostgreSQL notifies every change that matters at once (proxy/key_cache.py), so this is only a
# backstop. 0 turns the cache off; it is always off on SQLite (no LISTEN/NOTIFY there).
AUTH_CACHE_TTL_S = env_float("AUTH_CACHE_TTL_S", 10.0)
CREDIT_PURCHASE_FEE_BPS = env_int("CREDIT_PURCHASE_FEE_BPS", 550)
CREDIT_PURCHASE_FEE_MIN_USD = env_str("CREDIT_PURCHASE_FEE_MIN_USD", "0.80")
# Stripe: the API base and Stripe.js come from settings, so development and tests run against
# localstripe (which serves a Stripe.js stand-in) and production against Stripe.
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "http://127.0.0.1:8420")
STRIPE_JS_URL = env_str(
    "STRIPE_JS_URL",
    "https://js.stripe.com/v3/" if _PRODUCTION else f"{STRIPE_API_BASE}/js.stripe.com/v3/",
)
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", DEV_STRIPE_SECRET_KEY)
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "pk_test_localstripe")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
# What one purchase on the credits page may be, in USD.
CREDIT_PURCHASE_MIN_USD = env_str("CREDIT_PURCHASE_MIN_USD", "5")
CREDIT_PURCHASE_MAX_USD = env_str("CREDIT_PURCHASE_MAX_USD", "10000")
# Declined auto top-ups in a row after which it turns itself off (and tells the user).
AUTO_TOPUP_MAX_FAILURES = env_int("AUTO_TOPUP_MAX_FAILURES", 3)
# A request's hold lives this long; the sweeper releases holds of requests that died.
# Must exceed the longest request (REQUEST_DEADLINE_S).
HOLD_TTL_S = env_int("HOLD_TTL_S", 900)
REQUEST_DEADLINE_S = env_int("REQUEST_DEADLINE_S", 600)
# On SIGTERM (or Ctrl-C) a gateway takes no new request and lets those in flight run this long;
# streams still open then end with an error chunk and are settled (marketplace.serve).
DRAIN_TIMEOUT_S = env_float("DRAIN_TIMEOUT_S", 25)

# Wallet leases (billing/leases.py, proxy/leases.py): a key without a credit limit of a wallet
# with at least LEASE_MIN_AVAILABLE_USD available has its requests held in the gateway's memory
# against a slice of the wallet (at most LEASE_MAX_USD, a sixteenth of what is available) and
# each settled with one INSERT, instead of locking the wallet's row twice per request. A lease
# takes requests for LEASE_MAX_AGE_S and closes (its generations charged, its rest given back)
# after its last one, or after LEASE_IDLE_S without a request. Off: a hold per request.
# (A lease expires LEASE_MAX_AGE_S + REQUEST_DEADLINE_S + 30 s after it opens: the sweep never
# takes one that a live process still runs a request on.)
LEASES_ENABLED = env_bool("LEASES_ENABLED", True)
LEASE_MIN_AVAILABLE_USD = env_str("LEASE_MIN_AVAILABLE_USD", "50")
LEASE_MAX_USD = env_str("LEASE_MAX_USD", "5")
LEASE_IDLE_S = env_float("LEASE_IDLE_S", 2)
LEASE_MAX_AGE_S = env_float("LEASE_MAX_AGE_S", 60)

# Upstream HTTP timeouts (seconds) and pool limits for the shared client.
UPSTREAM_CONNECT_TIMEOUT_S = env_int("UPSTREAM_CONNECT_TIMEOUT_S", 10)
UPSTREAM_READ_TIMEOUT_S = env_int("UPSTREAM_READ_TIMEOUT_S", 300)
UPSTREAM_MAX_CONNECTIONS = env_int("UPSTREAM_MAX_CONNECTIONS", 1000)
# A provider that sends nothing for this long is skipped for the next one: the first event of a
# stream, or the whole answer of a non-streamed request (which arrives all at once).
UPSTREAM_FIRST_TOKEN_TIMEOUT_S = env_float("UPSTREAM_FIRST_TOKEN_TIMEOUT_S", 30)
UPSTREAM_RESPONSE_TIMEOUT_S = env_float("UPSTREAM_RESPONSE_TIMEOUT_S", 300)
# While a stream waits for its first answer (failing over, say), the client gets an SSE comment
# this often, so it and any proxy in between know the request is alive.
STREAM_KEEPALIVE_S = env_float("STREAM_KEEPALIVE_S", 3)
# Largest provider answer (or single stream event) the gateway reads, in bytes.
UPSTREAM_MAX_RESPONSE_BYTES = env_int("UPSTREAM_MAX_RESPONSE_BYTES", 32 * 1024 * 1024)
# Most endpoints one request tries (all inside REQUEST_DEADLINE_S).
ROUTING_MAX_ATTEMPTS = env_int("ROUTING_MAX_ATTEMPTS", 4)

# Provider health: consecutive failures that eject an endpoint, its first cooldown (doubling on
# each further ejection, up to the maximum), and how long a recovery trial may take.
HEALTH_FAILURE_THRESHOLD = env_int("HEALTH_FAILURE_THRESHOLD", 3)
HEALTH_BASE_COOLDOWN_S = env_float("HEALTH_BASE_COOLDOWN_S", 30)
HEALTH_MAX_COOLDOWN_S = env_float("HEALTH_MAX_COOLDOWN_S", 600)
HEALTH_TRIAL_TIMEOUT_S = env_float("HEALTH_TRIAL_TIMEOUT_S", 30)
# Seconds a gateway reuses what it read of health (another replica's ejection reaches it then).
HEALTH_SNAPSHOT_TTL_S = env_float("HEALTH_SNAPSHOT_TTL_S", 1)
# Seconds a gateway gathers routine successes (no circuit to change) before writing them in one
# store call per endpoint; 0 writes each at once.
HEALTH_SUCCESS_BATCH_S = env_float("HEALTH_SUCCESS_BATCH_S", 1)
# Keys of the shared health state in Redis (replicas of one deployment share the prefix).
HEALTH_REDIS_PREFIX = env_str("HEALTH_REDIS_PREFIX", "switchyard:health")
# The prober checks recovering endpoints, and endpoints idle this long, every interval.
HEALTH_PROBE_INTERVAL_S = env_float("HEALTH_PROBE_INTERVAL_S", 30)
CELERY_BEAT_SCHEDULE["probe-endpoints"]["schedule"] = HEALTH_PROBE_INTERVAL_S
HEALTH_PROBE_IDLE_S = env_float("HEALTH_PROBE_IDLE_S", 300)

# Rate limits (README, "Rate limits"); 0 turns a limit off. Per API key (a key's KeyRateLimit
# overrides these): requests per minute, and tokens per minute (prompt estimate + max_tokens).
# Off by default: the wallet already bounds what a key can spend; operators choose their own.
RATE_LIMIT_RPM = env_int("RATE_LIMIT_RPM", 0)
RATE_LIMIT_TPM = env_int("RATE_LIMIT_TPM", 0)
# Per account, on `:free` models: per minute, and per UTC day (more once it bought credits).
FREE_TIER_RPM = env_int("FREE_TIER_RPM", 20)
FREE_TIER_RPD = env_int("FREE_TIER_RPD", 50)
FREE_TIER_RPD_FUNDED = env_int("FREE_TIER_RPD_FUNDED", 1000)
FREE_TIER_FUNDED_USD = env_str("FREE_TIER_FUNDED_USD", "10")
# Counts live in Redis when REDIS_URL is set (replicas of one deployment share the prefix), else
# in the process; Redis slower than the timeout (seconds) means 503s: limits fail closed.
RATE_LIMIT_REDIS_PREFIX = env_str("RATE_LIMIT_REDIS_PREFIX", "switchyard:ratelimit")
RATE_LIMIT_REDIS_TIMEOUT_S = env_float("RATE_LIMIT_REDIS_TIMEOUT_S", 0.5)
# Seconds a gateway reuses a key's KeyRateLimit and an account's purchase total once read.
RATE_LIMIT_CACHE_TTL_S = env_float("RATE_LIMIT_CACHE_TTL_S", 5)

# Response cache (README, "Response cache"), opt-in per request with `X-Switchyard-Cache: true`:
# seconds an answer is kept unless the request says (`X-Switchyard-Cache-TTL`), and at most.
RESPONSE_CACHE_DEFAULT_TTL_S = env_int("RESPONSE_CACHE_DEFAULT_TTL_S", 300)
RESPONSE_CACHE_MAX_TTL_S = env_int("RESPONSE_CACHE_MAX_TTL_S", 86400)
# Answers larger than this (bytes, as stored) are not cached.
RESPONSE_CACHE_MAX_ENTRY_BYTES = env_int("RESPONSE_CACHE_MAX_ENTRY_BYTES", 1024 * 1024)
# In Redis when REDIS_URL is set (replicas share the prefix), else in the process: at most this
# many entries, the least recently used evicted first. Redis slower than the timeout (seconds)
# means a miss, never an error.
RESPONSE_CACHE_MAX_ENTRIES = env_int("RESPONSE_CACHE_MAX_ENTRIES", 1000)
RESPONSE_CACHE_REDIS_PREFIX = env_str("RESPONSE_CACHE_REDIS_PREFIX", "switchyard:respcache")
RESPONSE_CACHE_REDIS_TIMEOUT_S = env_float("RESPONSE_CACHE_REDIS_TIMEOUT_S", 0.5)

# Seconds a gateway process serves its copy of the routable catalog before asking the catalog's
# version (one tiny query); it reloads the catalog only when that changed.
CATALOG_CACHE_TTL_S = env_int("CATALOG_CACHE_TTL_S", 5)
# Seconds a gateway process keeps a user's default provider preferences (settings page).
ROUTING_DEFAULTS_CACHE_TTL_S = env_float("ROUTING_DEFAULTS_CACHE_TTL_S", 5)
# Largest request body the API accepts (bytes).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 10 * 1024 * 1024)
# Connections per gateway process in the async PostgreSQL pool used by the hot path.
HOTPATH_DB_POOL_SIZE = env_int("HOTPATH_DB_POOL_SIZE", 10)

# Logs go to standard error: one JSON object per line (LOG_FORMAT=json, the default in
# production) or key=value text. Every request through the gateway's API writes one line
# (logger switchyard.request), every Celery task run one (switchyard.task).
LOG_FORMAT = env_str("LOG_FORMAT", "json" if SWITCHYARD_ENV == "production" else "text")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "marketplace.log_format.JsonFormatter"},
        "text": {"()": "marketplace.log_format.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs every upstream request at INFO: noise, and CPU on the hot path.
        "httpx": {"level": "WARNING"},
        # uvicorn installs its own handlers before the app loads: the same format for its lines.
        "uvicorn": {"handlers": ["console"], "propagate": False},
        # Off: each request has its own line (switchyard.request). uvicorn logs access whenever
        # this logger or an ancestor has a handler, and "uvicorn" has one now; a line per
        # request through it cost a third of the gateway's CPU.
        "uvicorn.access": {"handlers": [], "propagate": False},
    },
}
# Celery workers keep this configuration rather than installing their own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# /metrics (Prometheus) answers a request bearing this token (`Authorization: Bearer ...`);
# without one, only clients on this machine's loopback address.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# The Redis hash where Celery workers count task outcomes for /metrics (with REDIS_URL).
TASK_OUTCOMES_REDIS_KEY = env_str("TASK_OUTCOMES_REDIS_KEY", "switchyard:task-outcomes")
# Readiness (/readyz): how long each check (database, Redis, Celery broker) may take.
READINESS_TIMEOUT_S = env_float("READINESS_TIMEOUT_S", 1.0)


if _PRODUCTION and (
    _refusals := production_refusals(
        debug=DEBUG,
        secret_key=SECRET_KEY,
        api_key_hmac_secret=API_KEY_HMAC_SECRET,
        allowed_hosts=ALLOWED_HOSTS,
        stripe_api_base=STRIPE_API_BASE,
        stripe_js_url=STRIPE_JS_URL,
        stripe_secret_key=STRIPE_SECRET_KEY,
        stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
        byok_encryption_key=BYOK_ENCRYPTION_KEY,
        simulator_url_is_set=bool(env_str("SIMULATOR_URL")),
    )
):
    raise ImproperlyConfigured(
        "SWITCHYARD_ENV=production refuses to start: " + "; ".join(_refusals)
    )
