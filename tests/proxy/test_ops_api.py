"""/healthz, /readyz and /metrics on the gateway's ASGI app, with stand-ins for the database
and the catalog (the live test covers them on real ones)."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from catalog.selectors import RoutableEndpoint
from marketplace.ops import task_outcomes
from proxy.app import GatewayApp
from proxy.gateway import Gateway
from proxy.health import BreakerPolicy, MemoryHealthStore
from proxy.health_monitor import HealthMonitor


class Db:
    """Answers every query with `row` (after `delay_s`), or raises `error`."""

    vendor = "sqlite"

    def __init__(self, row: tuple[Any, ...] = (0,), *, error: Exception | None = None,
                 delay_s: float = 0.0) -> None:  # fmt: skip
        self.row, self.error, self.delay_s = row, error, delay_s

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return self.row

    async def transaction(self, statements: Sequence[Any]) -> list[Any]:
        raise AssertionError("no writes here")

    async def close(self) -> None:
        pass


class Catalog:
    def __init__(self, endpoints: list[RoutableEndpoint]) -> None:
        self.endpoints = endpoints

    async def all_endpoints(self) -> list[RoutableEndpoint]:
        return self.endpoints


def endpoint(endpoint_id: int, provider: str) -> RoutableEndpoint:
    from decimal import Decimal

    return RoutableEndpoint(
        endpoint_id=endpoint_id, model_slug="acme/model", provider_slug=provider,
        provider_name=provider.title(), adapter="openai", base_url="http://127.0.0.1:9",
        api_key_env="", upstream_model_id="model", prompt_usd_per_mtok=Decimal(1),
        completion_usd_per_mtok=Decimal(2), request_usd=Decimal(0), context_length=1000,
        max_output_tokens=100,
    )  # fmt: skip


class OperatorError(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_services(settings) -> None:
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "memory://"
    settings.METRICS_TOKEN = ""
    settings.READINESS_TIMEOUT_S = 0.2


def app_with(db: Db, **gateway: Any) -> GatewayApp:
    app = GatewayApp(fallback=_no_fallback)
    # These routes never call a provider: no upstream client.
    gateway.setdefault("catalog", Catalog([]))
    app._gateway = Gateway(db=db, client=None, **gateway)  # type: ignore[arg-type]
    return app


async def _no_fallback(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError(f"{scope['path']} reached Django")


def transport_to(app: GatewayApp, client: str = "127.0.0.1") -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app, client=(client, 40000))  # type: ignore[arg-type]


async def get(app: GatewayApp, path: str, *, client: str = "127.0.0.1",
              headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    transport = transport_to(app, client)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.get(path, headers=headers)


async def test_healthz_says_the_process_is_alive():
    response = await get(app_with(Db(error=OperatorError("down"))), "/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_checks_the_database_only_when_nothing_else_is_configured():
    response = await get(app_with(Db()), "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "draining": False, "checks": {"database": "ok"}}


async def test_readyz_is_503_when_the_database_fails():
    response = await get(app_with(Db(error=OperatorError("connection refused"))), "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error: OperatorError"}
    assert "connection refused" not in response.text  # connection errors can name hosts


async def test_readyz_is_503_when_the_database_hangs_past_the_timeout():
    response = await get(app_with(Db(delay_s=5)), "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error: TimeoutError"}


async def test_readyz_is_503_while_draining():
    app = app_with(Db())
    (await app.gateway()).draining = True
    response = await get(app, "/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "draining", "draining": True,
                               "checks": {"database": "ok"}}  # fmt: skip


async def test_readyz_checks_redis_and_the_broker_when_configured(settings, redis_url):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = redis_url
    response = await get(app_with(Db()), "/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "celery_broker": "ok"}


async def test_readyz_is_503_when_redis_and_the_broker_are_unreachable(settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = await get(app_with(Db()), "/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("error: ")
    assert checks["celery_broker"].startswith("error: ")


async def test_only_get_is_allowed():
    transport = transport_to(app_with(Db()))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        assert (await http.post("/healthz")).status_code == 405


async def test_metrics_without_a_token_answer_loopback_clients_only():
    app = app_with(Db(), catalog=Catalog([]))
    assert (await get(app, "/metrics", client="127.0.0.1")).status_code == 200
    assert (await get(app, "/metrics", client="::1")).status_code == 200
    assert (await get(app, "/metrics", client="203.0.113.7")).status_code == 403


async def test_metrics_with_a_token_need_it_from_everyone(settings):
    settings.METRICS_TOKEN = "scrape-me-7d1c"
    app = app_with(Db(), catalog=Catalog([]))
    assert (await get(app, "/metrics")).status_code == 401
    wrong = {"authorization": "Bearer scrape-me-0000"}
    assert (await get(app, "/metrics", headers=wrong)).status_code == 401
    right = {"authorization": "Bearer scrape-me-7d1c"}
    response = await get(app, "/metrics", client="203.0.113.7", headers=right)
    assert response.status_code == 200
    assert "scrape-me" not in response.text


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def test_metrics_read_holds_circuits_and_task_outcomes_when_scraped(monkeypatch):
    store = MemoryHealthStore(policy=BreakerPolicy(failure_threshold=1))
    await store.record_failure(1, 1e12, siblings=[2])  # far in the future: open when scraped
    monkeypatch.setattr(task_outcomes, "_in_process", Counter())
    task_outcomes.task_outcome_count(task="billing.tasks.holds_expire_task", outcome="success")
    task_outcomes.task_outcome_count(task="billing.tasks.holds_expire_task", outcome="success")
    app = app_with(Db((3,)), catalog=Catalog([endpoint(1, "nimbus"), endpoint(2, "quanta")]),
                   health=HealthMonitor(store))  # fmt: skip

    found = families((await get(app, "/metrics")).text)

    assert found["switchyard_open_holds"].samples[0].value == 3
    states = {s.labels["provider"]: s.value
              for s in found["switchyard_endpoint_circuit_state"].samples}  # fmt: skip
    assert states == {"nimbus": 2, "quanta": 0}
    tasks = found["switchyard_celery_tasks"].samples
    assert [(s.labels, s.value) for s in tasks if s.name.endswith("_total")] == [
        ({"task": "billing.tasks.holds_expire_task", "outcome": "success"}, 2)
    ]
    up = {s.labels["source"]: s.value for s in found["switchyard_scrape_source_up"].samples}
    assert up == {"database": 1, "health": 1, "celery": 1}


async def test_a_source_that_fails_is_left_out_of_the_scrape():
    app = app_with(Db(error=OperatorError("down")), catalog=Catalog([]))
    response = await get(app, "/metrics")
    assert response.status_code == 200
    found = families(response.text)
    assert "switchyard_open_holds" not in found
    up = {s.labels["source"]: s.value for s in found["switchyard_scrape_source_up"].samples}
    assert up["database"] == 0


async def test_task_outcomes_are_shared_through_redis(settings, redis_url):
    settings.REDIS_URL = redis_url
    settings.TASK_OUTCOMES_REDIS_KEY = f"test-task-outcomes:{uuid.uuid4().hex}"
    try:
        task_outcomes.task_outcome_count(task="proxy.tasks.probe_endpoints_task", outcome="retry")
        task_outcomes.task_outcome_count(task="proxy.tasks.probe_endpoints_task", outcome="retry")
        counts = await task_outcomes.task_outcome_counts()
    finally:
        task_outcomes._redis_client(redis_url).delete(settings.TASK_OUTCOMES_REDIS_KEY)
    assert counts == {("proxy.tasks.probe_endpoints_task", "retry"): 2}


async def test_an_api_request_is_counted_by_route_and_status():
    labels = {"route": "/api/v1/credits", "model": "", "provider": "", "status": "401"}
    before = REGISTRY.get_sample_value("switchyard_requests_total", labels) or 0
    response = await get(app_with(Db()), "/api/v1/credits")
    assert response.status_code == 401
    assert REGISTRY.get_sample_value("switchyard_requests_total", labels) == before + 1


async def test_ops_routes_are_not_counted_as_api_requests():
    app = app_with(Db(), catalog=Catalog([]))
    await get(app, "/healthz")
    text = (await get(app, "/metrics")).text
    assert 'route="/healthz"' not in text
    assert 'route="/metrics"' not in text
