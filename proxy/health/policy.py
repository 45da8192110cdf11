"""The circuit breaker of one endpoint, as pure functions of its state and the time.

Both stores apply these rules: the memory store calls them directly, the Redis store's Lua
scripts (`redis_scripts.py`) repeat them and the tests check that the two agree.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

# 2**64 is far past any sane cap; stopping there keeps the arithmetic finite in Python and Lua.
MAX_DOUBLINGS = 64


class CircuitState(StrEnum):
    CLOSED = "closed"  # routed normally
    OPEN = "open"  # ejected or rate limited: skip until `open_until`
    HALF_OPEN = "half_open"  # cooldown over: one trial request decides whether it is back


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 3  # consecutive failures that eject an endpoint
    base_cooldown_s: float = 30.0  # first ejection; each further one doubles it
    max_cooldown_s: float = 600.0
    trial_timeout_s: float = 30.0  # how long a half-open trial lease lasts


@dataclass(frozen=True, slots=True)
class Circuit:
    """The stored breaker state of one endpoint; all zeros for one never seen."""

    consecutive_failures: int = 0
    ejections: int = 0  # since the last recovery; sets the next cooldown
    open_until: float = 0.0
    trial_until: float = 0.0  # the half-open trial lease is held until then
    last_request_at: float = 0.0  # when an outcome was last recorded; 0 = never


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    endpoint_id: int
    state: CircuitState
    consecutive_failures: int
    ejections: int
    open_until: float
    trial_until: float
    last_request_at: float


def circuit_state(circuit: Circuit, now: float) -> CircuitState:
    if now < circuit.open_until:
        return CircuitState.OPEN
    if circuit.ejections > 0:
        return CircuitState.HALF_OPEN
    return CircuitState.CLOSED


def circuit_is_open(circuit: Circuit, now: float) -> bool:
    return now < circuit.open_until


def cooldown_s(policy: BreakerPolicy, ejections: int) -> float:
    doublings = min(ejections - 1, MAX_DOUBLINGS)
    return min(policy.base_cooldown_s * 2.0**doublings, policy.max_cooldown_s)


def circuit_after_failure(
    circuit: Circuit, now: float, *, policy: BreakerPolicy, siblings_all_open: bool
) -> Circuit:
    """A failed trial ejects again at once; otherwise `failure_threshold` consecutive failures
    of a closed endpoint eject it, unless every other endpoint of its model is open already
    (ejecting the last one would leave the model with nothing to route to). Failures of an
    endpoint that is already open are counted but do not eject it again: they are requests
    that were in flight before it opened, and must not double its cooldown."""
    failures = circuit.consecutive_failures + 1
    state = circuit_state(circuit, now)
    if state is CircuitState.HALF_OPEN or (
        state is CircuitState.CLOSED
        and failures >= policy.failure_threshold
        and not siblings_all_open
    ):
        return _ejected(circuit, now, policy=policy)
    return replace(circuit, consecutive_failures=failures, trial_until=0.0, last_request_at=now)


def _ejected(circuit: Circuit, now: float, *, policy: BreakerPolicy) -> Circuit:
    ejections = circuit.ejections + 1
    return Circuit(
        consecutive_failures=0,
        ejections=ejections,
        open_until=now + cooldown_s(policy, ejections),
        trial_until=0.0,
        last_request_at=now,
    )


def circuit_after_success(circuit: Circuit, now: float) -> Circuit:
    """A success of a half-open endpoint is a passed trial: it is closed again."""
    if circuit_state(circuit, now) is CircuitState.HALF_OPEN:
        return Circuit(last_request_at=now)
    return replace(circuit, consecutive_failures=0, trial_until=0.0, last_request_at=now)


def circuit_after_rate_limit(circuit: Circuit, now: float, *, retry_after_s: float) -> Circuit:
    """A 429 says "not now", not "broken": the endpoint rests for the time it asked for, and
    neither its failure count nor its ejections change."""
    return replace(
        circuit,
        open_until=max(circuit.open_until, now + retry_after_s),
        trial_until=0.0,
        last_request_at=now,
    )


def circuit_with_trial(circuit: Circuit, now: float, *, policy: BreakerPolicy) -> Circuit | None:
    """The circuit with the trial lease taken, or None when it is not half-open or the lease
    is held."""
    if circuit_state(circuit, now) is not CircuitState.HALF_OPEN or circuit.trial_until > now:
        return None
    return replace(circuit, trial_until=now + policy.trial_timeout_s)


def endpoint_health(endpoint_id: int, circuit: Circuit, now: float) -> EndpointHealth:
    return EndpointHealth(
        endpoint_id=endpoint_id,
        state=circuit_state(circuit, now),
        consecutive_failures=circuit.consecutive_failures,
        ejections=circuit.ejections,
        open_until=circuit.open_until,
        trial_until=circuit.trial_until,
        last_request_at=circuit.last_request_at,
    )


def endpoints_due_for_probe(
    healths: Iterable[EndpointHealth], now: float, *, idle_after_s: float
) -> list[int]:
    """Half-open endpoints (a probe can be their trial) and closed ones nothing has reached
    for `idle_after_s`, whose health would otherwise go stale. Open ones are resting."""
    return [
        health.endpoint_id
        for health in healths
        if health.state is CircuitState.HALF_OPEN
        or (health.state is CircuitState.CLOSED and _idle(health, now, idle_after_s))
    ]


def _idle(health: EndpointHealth, now: float, idle_after_s: float) -> bool:
    return health.last_request_at == 0.0 or now - health.last_request_at >= idle_after_s
