"""`first_answer` closes its generator of endpoints itself once it has an answer. Left to the
garbage collector, the event loop closes it from a task of its own, woken from another thread's
queue: two wake-ups of the loop and a task on every request."""

from types import SimpleNamespace
from typing import Any

import pytest

from catalog.selectors import RoutableEndpoint
from proxy import failover
from proxy.errors import UpstreamError
from proxy.routing.plan import HEALTHY
from tests.proxy.endpoints import endpoint


def call_of(*endpoints: RoutableEndpoint) -> Any:
    """What first_answer reads of a Call."""
    return SimpleNamespace(
        attempts=endpoints,
        vitals_of=lambda e: HEALTHY,
        trace=[],
        gateway=SimpleNamespace(health=SimpleNamespace(failure=lambda *a, **k: None)),
        siblings_of=lambda e: [],
        upstream_of=lambda e: SimpleNamespace(api_key=""),
    )


@pytest.fixture
def generators(monkeypatch):
    made = []
    original = failover._endpoints_to_try

    def keeping(call):
        made.append(original(call))
        return made[-1]

    monkeypatch.setattr(failover, "_endpoints_to_try", keeping)
    return made


async def test_the_generator_is_closed_when_the_first_endpoint_answers(generators):
    async def answer(e):
        return e.endpoint_id

    assert await failover.first_answer(call_of(endpoint(1), endpoint(2)), answer, timeout_s=5) == 1
    assert generators[0].ag_frame is None  # closed: a suspended one keeps its frame


async def test_the_generator_is_closed_when_a_fallback_answers(generators):
    async def answer(e):
        if e.endpoint_id == 1:
            raise UpstreamError("down")
        return e.endpoint_id

    calls = call_of(endpoint(1), endpoint(2), endpoint(3))
    assert await failover.first_answer(calls, answer, timeout_s=5) == 2
    assert generators[0].ag_frame is None
