"""Health: an unhealthy endpoint goes last but stays as a last resort."""

from proxy.routing.plan import Vitals
from tests.proxy.routing_plan.support import route, speeds, three_providers, tried


def test_an_unhealthy_endpoint_goes_last_but_stays_as_a_last_resort():
    plan = route(three_providers(), vitals={"bravo": Vitals(healthy=False)})

    assert tried(plan) == ["alpha", "charlie", "bravo"]


def test_a_trial_endpoint_keeps_its_place():
    plan = route(three_providers(), vitals={"bravo": Vitals(healthy=True, trial=True)})

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_an_unhealthy_ordered_provider_goes_after_every_healthy_one():
    plan = route(
        three_providers(),
        provider={"order": ["charlie", "bravo"]},
        vitals={"charlie": Vitals(healthy=False)},
    )

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_when_every_endpoint_is_unhealthy_all_stay_in_preferred_order():
    unhealthy = Vitals(healthy=False)
    vitals = dict.fromkeys(["alpha", "bravo", "charlie"], unhealthy)

    plan = route(three_providers(), vitals=vitals)

    assert tried(plan) == ["bravo", "alpha", "charlie"]


def test_an_unhealthy_endpoint_sorts_after_healthy_ones_whatever_its_speed():
    endpoints, vitals = speeds()
    vitals["charlie"] = Vitals(healthy=False, throughput_tps=1_000.0)

    plan = route(endpoints, provider={"sort": "throughput"}, vitals=vitals)

    assert tried(plan) == ["alpha", "bravo", "charlie"]
