import pytest

from catalog.demo import FORMAT_API_PATHS
from catalog.models import Endpoint, Model, Provider
from catalog.services import demo_catalog_load

pytestmark = pytest.mark.django_db

SIMULATOR = "http://127.0.0.1:9"


def _counts() -> tuple[int, int, int]:
    return Provider.objects.count(), Model.objects.count(), Endpoint.objects.count()


def test_loading_twice_creates_nothing_new():
    first = demo_catalog_load(simulator_url=SIMULATOR)
    counts = _counts()
    assert first == {"providers": counts[0], "models": counts[1], "endpoints": counts[2]}

    second = demo_catalog_load(simulator_url=SIMULATOR)

    assert second == {"providers": 0, "models": 0, "endpoints": 0}
    assert _counts() == counts


def test_demo_catalog_gives_routing_a_choice():
    demo_catalog_load(simulator_url=SIMULATOR)

    assert Model.objects.count() >= 10
    assert Provider.objects.count() >= 4
    models = list(Model.objects.prefetch_related("endpoints"))
    with_choice = [
        model
        for model in models
        if len({(e.prompt_usd_per_mtok, e.completion_usd_per_mtok) for e in model.endpoints.all()})
        >= 2
    ]
    assert len(with_choice) > len(models) / 2


@pytest.mark.parametrize("simulator_url", [SIMULATOR, SIMULATOR + "/"])
def test_provider_base_url_points_at_the_simulator(simulator_url):
    demo_catalog_load(simulator_url=simulator_url)

    for provider in Provider.objects.all():
        path = FORMAT_API_PATHS[provider.adapter]
        assert provider.base_url == f"{SIMULATOR}/{provider.slug}/{path}"
    adapters = set(Provider.objects.values_list("adapter", flat=True))
    assert adapters == {"openai", "anthropic", "gemini"}  # every wire format is exercised


def test_reloading_moves_providers_to_a_new_simulator_url():
    demo_catalog_load(simulator_url=SIMULATOR)
    demo_catalog_load(simulator_url="http://sim.internal:8100")

    urls = set(Provider.objects.values_list("base_url", flat=True))
    assert urls == {
        f"http://sim.internal:8100/{p.slug}/{FORMAT_API_PATHS[p.adapter]}"
        for p in Provider.objects.all()
    }
