"""Provider adapters: one module per upstream wire format, behind `base.Adapter`."""

from catalog.selectors import RoutableEndpoint, provider_api_key
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter, Upstream
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.openai_compat import OpenAIAdapter

ADAPTERS: dict[str, Adapter] = {
    "openai": OpenAIAdapter(),
    "anthropic": AnthropicAdapter(),
    "gemini": GeminiAdapter(),
}


def adapter_for(endpoint: RoutableEndpoint) -> Adapter:
    return ADAPTERS[endpoint.adapter]


def upstream_of(endpoint: RoutableEndpoint) -> Upstream:
    """Where the endpoint lives; its provider's key is read from the environment, never the
    database."""
    api_key = provider_api_key(api_key_env=endpoint.api_key_env)
    return Upstream(base_url=endpoint.base_url, model=endpoint.upstream_model_id, api_key=api_key)
