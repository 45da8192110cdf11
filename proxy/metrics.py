"""The gateway's Prometheus metrics that are counted as things happen (per process).

Label values are bounded: routes come from the gateway's fixed route table, models and
providers are catalog slugs (empty when a request never reached routing), statuses are HTTP
codes. Gauges read from shared state when scraped live in `proxy.metrics_scrape`.
"""

from prometheus_client import Counter, Gauge, Histogram

# Gateway overhead is sub-millisecond when all is well; upstream times run to minutes.
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

REQUESTS = Counter(
    "switchyard_requests",
    "API requests answered by the gateway, by route, model, provider and HTTP status",
    ["route", "model", "provider", "status"],
)
GATEWAY_OVERHEAD = Histogram(
    "switchyard_gateway_overhead_seconds",
    "Time a request spent in the gateway itself: its whole time less the upstream's",
    ["route"],
    buckets=_OVERHEAD_BUCKETS,
)
UPSTREAM_LATENCY = Histogram(
    "switchyard_upstream_seconds",
    "Time spent waiting on providers for one request (every attempt, and a stream to its end)",
    ["model", "provider"],
    buckets=_UPSTREAM_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "switchyard_time_to_first_token_seconds",
    "Streamed requests: from arrival to the first chunk sent to the client",
    ["model", "provider"],
    buckets=_UPSTREAM_BUCKETS,
)
TOKENS = Counter(
    "switchyard_tokens",
    "Tokens billed, by model, provider and kind (prompt or completion)",
    ["model", "provider", "kind"],
)
COST = Counter(
    "switchyard_cost_nanodollars",
    "What users were charged, in nano-dollars (1e-9 USD), by model and provider",
    ["model", "provider"],
)
RATE_LIMIT_REJECTIONS = Counter(
    "switchyard_rate_limit_rejections",
    "Requests refused with 429 by one of the gateway's rate limits, by limit name",
    ["limit"],
)
AUTH_LOOKUPS = Counter(
    "switchyard_auth_lookups",
    "API key authentications, by where the key's row was found: cache or database",
    ["source"],
)
AUTH_CACHE_INVALIDATIONS = Counter(
    "switchyard_auth_cache_invalidations",
    "Changes of keys, users or wallets notified by PostgreSQL, each dropping cached lookups",
)
AUTH_CACHE_LISTENING = Gauge(
    "switchyard_auth_cache_listening",
    "1 while this process hears of changes of keys, users and wallets, so may authenticate from "
    "its cache; 0 while every authentication queries the database",
)
