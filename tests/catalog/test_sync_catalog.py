"""`manage.py sync_catalog` imports a provider's models and prices from its model-list API:
against the simulator's own (priced) list over HTTP, and from the list shapes of real APIs."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.demo import DEMO_MODELS
from catalog.models import Endpoint, Provider
from catalog.services import demo_catalog_load
from catalog.sync import listed_model

pytestmark = pytest.mark.django_db


def sync(provider: str, **options: str) -> str:
    out = StringIO()
    call_command("sync_catalog", provider=provider, stdout=out, **options)
    return out.getvalue()


def endpoint_rows(provider: str) -> dict[tuple[str, str], tuple[Decimal, Decimal, int, int]]:
    return {
        (e.model.slug, e.variant): (e.prompt_usd_per_mtok, e.completion_usd_per_mtok,
                                    e.context_length, e.max_output_tokens)
        for e in Endpoint.objects.filter(provider__slug=provider, is_active=True)
        .select_related("model")
    }  # fmt: skip


def test_syncing_a_provider_reproduces_its_endpoints_from_its_model_list(simulator_url):
    demo_catalog_load(simulator_url=simulator_url)
    expected = endpoint_rows("atlas")
    Endpoint.objects.filter(provider__slug="atlas").delete()

    output = sync("atlas", base_url=f"{simulator_url}/atlas/v1")

    assert endpoint_rows("atlas") == expected  # prices to the nano-dollar, variants included
    assert f"created: {len(expected)}" in output
    assert ("meta-llama/llama-3.1-8b-instruct", "free") in expected


def test_syncing_again_changes_nothing_and_repairs_what_drifted(simulator_url):
    demo_catalog_load(simulator_url=simulator_url)
    sync("nimbus", base_url=f"{simulator_url}/nimbus/v1")
    before = endpoint_rows("nimbus")

    assert "updated: 0" in sync("nimbus", base_url=f"{simulator_url}/nimbus/v1")
    drifted = Endpoint.objects.get(provider__slug="nimbus", model__slug="openai/gpt-4o")
    drifted.prompt_usd_per_mtok = Decimal("99")
    drifted.save()
    output = sync("nimbus", base_url=f"{simulator_url}/nimbus/v1")

    assert "updated: 1 - openai/gpt-4o (prompt_usd_per_mtok)" in output
    assert endpoint_rows("nimbus") == before


def test_an_endpoint_the_provider_no_longer_lists_is_deactivated(simulator_url):
    demo_catalog_load(simulator_url=simulator_url)
    provider = Provider.objects.get(slug="quanta")
    stale = Endpoint.objects.create(
        model=Endpoint.objects.get(provider=provider, model__slug="openai/gpt-4o-mini").model,
        provider=provider, variant="free", upstream_model_id="gone",
        prompt_usd_per_mtok=0, completion_usd_per_mtok=0, context_length=1000,
        max_output_tokens=100,
    )  # fmt: skip

    output = sync("quanta", base_url=f"{simulator_url}/quanta/v1")

    stale.refresh_from_db()
    assert not stale.is_active
    assert "deactivated: 1" in output
    served = {m.slug for m in DEMO_MODELS if "quanta" in m.providers}
    assert {slug for slug, variant in endpoint_rows("quanta") if not variant} >= served


def test_a_known_provider_needs_its_api_key_before_it_can_sync(monkeypatch):
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    with pytest.raises(CommandError, match="GROQ_API_KEY"):
        sync("groq")
    assert Provider.objects.get(slug="groq").base_url == "https://api.groq.com/openai/v1"


def test_an_unknown_provider_is_refused():
    with pytest.raises(CommandError, match="Unknown provider"):
        sync("nobody")


def test_an_unreachable_list_is_a_clear_error():
    Provider.objects.create(slug="dead", name="Dead", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(CommandError, match="Could not read the model list"):
        sync("dead")


@pytest.mark.parametrize(
    ("entry", "author", "expected"),
    [
        # OpenRouter: USD per token as decimal strings; ids carry their author.
        ({"id": "meta-llama/llama-3.3-70b-instruct", "name": "Llama 3.3 70B",
          "context_length": 131072, "top_provider": {"max_completion_tokens": 16384},
          "pricing": {"prompt": "0.00000013", "completion": "0.0000004"}},
         "",
         ("meta-llama/llama-3.3-70b-instruct", 131072, 16384, Decimal("0.13"), Decimal("0.4"))),
        # Together: a bare array; USD per million as numbers.
        ({"id": "Qwen/Qwen2.5-7B-Instruct-Turbo", "context_length": 32768,
          "pricing": {"input": 0.3, "output": 0.3}},
         "", ("Qwen/Qwen2.5-7B-Instruct-Turbo", 32768, 4096, Decimal("0.3"),
                      Decimal("0.3"))),
        # Gemini: `models/` names and token limits, no prices.
        ({"name": "models/gemini-2.0-flash", "displayName": "Gemini 2.0 Flash",
          "inputTokenLimit": 1048576, "outputTokenLimit": 8192},
         "google", ("google/gemini-2.0-flash", 1048576, 8192, None, None)),
        # OpenAI: ids without author (owned_by says "system"), no prices.
        ({"id": "gpt-4o-mini", "object": "model", "owned_by": "system"},
         "openai", ("openai/gpt-4o-mini", 8192, 4096, None, None)),
        # A host of many authors' models: owned_by names the author.
        ({"id": "llama-3.3-70b-versatile", "owned_by": "Meta"},
         "", ("Meta/llama-3.3-70b-versatile", 8192, 4096, None, None)),
    ],
)  # fmt: skip
def test_model_lists_of_real_providers_are_read(entry, author, expected):
    listed = listed_model(entry, default_author=author)
    assert listed is not None
    assert (listed.slug, listed.context_length, listed.max_output_tokens,
            listed.prompt_usd_per_mtok, listed.completion_usd_per_mtok) == expected  # fmt: skip


def test_a_price_given_as_a_float_is_read_exactly():
    listed = listed_model({"id": "a/b", "pricing": {"input": 0.1, "output": 0.2}},
                          default_author="x")  # fmt: skip
    assert listed is not None
    assert (listed.prompt_usd_per_mtok, listed.completion_usd_per_mtok) == (
        Decimal("0.1"), Decimal("0.2"))  # fmt: skip
