"""routable_endpoints() reads plain rows (a reload's CPU time); what it returns is what building
the same records from model instances gives, in the same order."""

import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import Endpoint, Model, Provider
from catalog.selectors import RoutableEndpoint, routable_endpoints
from catalog.services import demo_catalog_load

pytestmark = pytest.mark.django_db


def _from_instances() -> dict[str, list[RoutableEndpoint]]:
    """The records built from Endpoint, Model and Provider instances, as before."""
    by_model: dict[str, list[RoutableEndpoint]] = {}
    active = Endpoint.objects.filter(is_active=True, provider__is_active=True)
    for e in active.select_related("model", "provider"):
        if e.provider.api_key_env and not os.environ.get(e.provider.api_key_env):
            continue
        by_model.setdefault(e.model.slug, []).append(
            RoutableEndpoint(
                endpoint_id=e.pk, model_slug=e.model.slug, provider_slug=e.provider.slug,
                provider_name=e.provider.name, adapter=e.provider.adapter,
                base_url=e.provider.base_url, api_key_env=e.provider.api_key_env,
                upstream_model_id=e.upstream_model_id, prompt_usd_per_mtok=e.prompt_usd_per_mtok,
                completion_usd_per_mtok=e.completion_usd_per_mtok, request_usd=e.request_usd,
                context_length=e.context_length, max_output_tokens=e.max_output_tokens,
                inference_fee_bps=e.provider.inference_fee_bps, variant=e.variant,
                quantization=e.quantization, supported_parameters=frozenset(e.supported_parameters),
                embeddings="embeddings" in e.model.output_modalities,
            )
        )  # fmt: skip
    for endpoints in by_model.values():
        endpoints.sort(key=lambda e: e.price_rank)
    return by_model


def _provider(slug: str, **fields: object) -> Provider:
    return Provider.objects.create(slug=slug, name=slug.title(), base_url=f"http://{slug}.test/v1",
                                   **fields)  # fmt: skip


def _endpoint(model: Model, provider: Provider, prompt: str, **fields: object) -> Endpoint:
    return Endpoint.objects.create(
        model=model, provider=provider, upstream_model_id=f"{provider.slug}-m",
        prompt_usd_per_mtok=Decimal(prompt), completion_usd_per_mtok=Decimal(2),
        context_length=8_000, max_output_tokens=1_000, **fields,
    )  # fmt: skip


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo catalog, plus what routing must leave out or order with care."""
    demo_catalog_load(simulator_url="http://127.0.0.1:9")
    monkeypatch.setenv("KEYED_API_KEY", "sk-test")
    monkeypatch.delenv("UNKEYED_API_KEY", raising=False)
    model = Model.objects.create(slug="acme/edge", name="Edge", context_length=8_000,
                                 created_at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    _endpoint(model, _provider("keyed", api_key_env="KEYED_API_KEY", inference_fee_bps=250), "1")
    _endpoint(model, _provider("unkeyed", api_key_env="UNKEYED_API_KEY"), "0.5")
    _endpoint(model, _provider("off", is_active=False), "0.1")
    _endpoint(model, _provider("paused"), "0.2", is_active=False)
    _endpoint(model, _provider("twin"), "1", request_usd=Decimal("0.001"), quantization="fp8")
    _endpoint(model, _provider("free"), "0", variant=Endpoint.Variant.FREE)


def test_rows_give_the_same_endpoints_in_the_same_order_as_instances(catalog: None):
    endpoints = routable_endpoints()

    assert endpoints == _from_instances()
    assert [e.provider_slug for e in endpoints["acme/edge"]] == ["free", "keyed", "twin"]
    assert any(e.embeddings for group in endpoints.values() for e in group)
