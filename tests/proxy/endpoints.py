"""A minimal routable endpoint for unit tests of the gateway's parts."""

from decimal import Decimal

from catalog.selectors import RoutableEndpoint


def endpoint(endpoint_id: int) -> RoutableEndpoint:
    return RoutableEndpoint(
        endpoint_id=endpoint_id, model_slug="a/m", provider_slug=f"p{endpoint_id}",
        provider_name=f"P{endpoint_id}", adapter="openai", base_url="http://127.0.0.1:9/v1",
        api_key_env="", upstream_model_id="m", prompt_usd_per_mtok=Decimal(1),
        completion_usd_per_mtok=Decimal(1), request_usd=Decimal(0), context_length=1000,
        max_output_tokens=100,
    )  # fmt: skip
