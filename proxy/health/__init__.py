"""Per-endpoint provider health, shared by every gateway replica.

The gateway records the outcome of every upstream attempt and reads health when routing.
Each endpoint has a circuit breaker (`policy.py`): `failure_threshold` consecutive failures
eject it (open) for a cooldown that doubles with each ejection, up to a cap; then it is
half-open, and the one caller that takes the trial lease sends a request whose outcome closes
it again or ejects it once more. A 429 rests it for its Retry-After without counting against
it. An endpoint is never ejected while all the other endpoints of its model are open.
Outcomes and samples also feed rolling windows (`stats.py`) for uptime and percentiles.

`health_store_create` picks Redis (`redis_store.py`, one atomic Lua script per update) when
it is configured, else this process's memory (`memory.py`). Time is always passed in.
"""

from proxy.health.memory import MemoryHealthStore
from proxy.health.policy import BreakerPolicy, CircuitState, EndpointHealth
from proxy.health.redis_store import RedisHealthStore
from proxy.health.stats import EndpointStats, Percentiles
from proxy.health.store import HealthStore, health_store_create

__all__ = [
    "BreakerPolicy",
    "CircuitState",
    "EndpointHealth",
    "EndpointStats",
    "HealthStore",
    "MemoryHealthStore",
    "Percentiles",
    "RedisHealthStore",
    "health_store_create",
]
