"""/metrics' text: the per-process counters of `proxy.metrics`, plus gauges and counts read
from shared state at scrape time (the database, the health store, Celery's outcome counts),
so that every replica reports the same deployment-wide values for those.

A source that cannot be read is left out of one scrape (and logged), never fails it:
`switchyard_scrape_source_up{source=...}` says which were read.
"""

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from billing.models import Hold
from marketplace.asyncdb import AsyncDb
from marketplace.ops.task_outcomes import task_outcome_counts
from proxy.gateway import Gateway
from proxy.health import CircuitState

logger = logging.getLogger(__name__)

# A gauge of the circuit's state: alert on `switchyard_endpoint_circuit_state == 2`.
CIRCUIT_STATE_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


@functools.cache
def _open_holds_sql() -> str:
    return f"SELECT COUNT(*) FROM {Hold._meta.db_table} WHERE status = %s"  # noqa: S608


async def open_holds(db: AsyncDb) -> Metric:
    row = await db.fetchone(_open_holds_sql(), (Hold.Status.OPEN.value,))
    return GaugeMetricFamily(
        "switchyard_open_holds",
        "Holds not yet settled or released (requests in flight, or dead ones until they expire)",
        value=int(row[0]) if row else 0,
    )


async def circuit_states(gateway: Gateway) -> Metric:
    gauge = GaugeMetricFamily(
        "switchyard_endpoint_circuit_state",
        "Circuit breaker of each endpoint: 0 closed, 1 half-open (on trial), 2 open (ejected)",
        labels=["model", "provider", "variant"],
    )
    endpoints = await gateway.catalog.all_endpoints()
    ids = [endpoint.endpoint_id for endpoint in endpoints]
    health = await gateway.health.store.snapshot(ids, time.time())
    for endpoint in endpoints:
        reading = health.get(endpoint.endpoint_id)
        state = reading.state if reading else CircuitState.CLOSED
        labels = [endpoint.model_slug, endpoint.provider_slug, endpoint.variant]
        gauge.add_metric(labels, CIRCUIT_STATE_VALUES[state])
    return gauge


async def task_outcomes() -> Metric:
    counter = CounterMetricFamily(
        "switchyard_celery_tasks",
        "Celery task runs by task name and outcome (success, failure, retry)",
        labels=["task", "outcome"],
    )
    for (task, outcome), count in sorted((await task_outcome_counts()).items()):
        counter.add_metric([task, outcome], count)
    return counter


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def _read_sources(sources: dict[str, Callable[[], Awaitable[Metric]]]) -> list[Metric]:
    up = GaugeMetricFamily(
        "switchyard_scrape_source_up",
        "Whether this scrape could read a shared source (1) or left its metrics out (0)",
        labels=["source"],
    )
    families = []
    for name, read in sources.items():
        try:
            families.append(await read())
        except Exception:
            logger.exception("metrics: reading %s failed", name)
            up.add_metric([name], 0)
        else:
            up.add_metric([name], 1)
    return [*families, up]


async def metrics_text(gateway: Gateway) -> bytes:
    """The whole exposition, in Prometheus's text format."""
    shared = await _read_sources(
        {
            "database": lambda: open_holds(gateway.db),
            "health": lambda: circuit_states(gateway),
            "celery": task_outcomes,
        }
    )
    return generate_latest(REGISTRY) + generate_latest(_Families(shared))
