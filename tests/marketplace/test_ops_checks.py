"""Production never routes to the simulated providers: `check --database default` (and so
`migrate`, the release step) fails while one is active, and the demo catalog is not loaded."""

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from catalog.models import Provider
from catalog.services import demo_catalog_load
from marketplace.ops.checks import simulated_providers_check

pytestmark = pytest.mark.django_db

SIMULATOR = "http://127.0.0.1:8100"


def error_slugs() -> list[str]:
    return [error.obj.slug for error in simulated_providers_check(databases=["default"])]


@override_settings(SWITCHYARD_ENV="production", SIMULATOR_URL=SIMULATOR)
def test_production_reports_every_active_simulated_provider():
    demo_catalog_load(simulator_url=SIMULATOR)
    Provider.objects.filter(slug="atlas").update(is_active=False)
    assert error_slugs() == ["ember", "lumen", "nimbus", "quanta"]
    [error] = [e for e in simulated_providers_check(databases=["default"]) if e.obj.slug == "lumen"]
    assert error.id == "ops.E001"


@override_settings(SWITCHYARD_ENV="production", SIMULATOR_URL=SIMULATOR)
def test_a_demo_catalog_loaded_from_another_simulator_address_is_reported_too():
    demo_catalog_load(simulator_url="http://10.0.0.5:8100")
    assert "nimbus" in error_slugs()


@override_settings(SWITCHYARD_ENV="production", SIMULATOR_URL=SIMULATOR)
def test_real_providers_pass():
    Provider.objects.create(slug="openai", name="OpenAI", base_url="https://api.openai.com/v1")
    # A model server beside the gateway is a real provider, whatever its address.
    Provider.objects.create(slug="vllm", name="vLLM", base_url="http://127.0.0.1:8001/v1")
    assert error_slugs() == []


@override_settings(SIMULATOR_URL=SIMULATOR)
def test_development_routes_to_the_simulator():
    demo_catalog_load(simulator_url=SIMULATOR)
    assert error_slugs() == []


@override_settings(SWITCHYARD_ENV="production")
def test_the_check_waits_for_a_database():
    assert simulated_providers_check(databases=None) == []


@override_settings(SWITCHYARD_ENV="production")
def test_production_refuses_to_load_the_demo_catalog():
    with pytest.raises(CommandError, match="simulated providers: not in production"):
        call_command("load_demo_catalog")
    assert not Provider.objects.exists()
