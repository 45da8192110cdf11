"""Real providers Switchyard can route to, ready to enable: each is used once its API key is in
the environment (the variable named here) and its models are imported with
`manage.py sync_catalog --provider <slug>`. Keys never go in the database."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class KnownProvider:
    slug: str
    name: str
    adapter: str  # the wire format: openai, anthropic or gemini
    base_url: str
    api_key_env: str
    # A first-party API's own models: the author of ids without one ("" for hosts of many
    # authors' models, whose lists say `owned_by`).
    default_author: str
    privacy_policy_url: str = ""
    terms_of_service_url: str = ""
    status_page_url: str = ""
    headquarters: str = ""
    datacenters: tuple[str, ...] = field(default=())


KNOWN_PROVIDERS = (
    KnownProvider(
        "openai", "OpenAI", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "openai",
        "https://openai.com/policies/privacy-policy", "https://openai.com/policies/terms-of-use",
        "https://status.openai.com", "US", ("US",),
    ),
    KnownProvider(
        "anthropic", "Anthropic", "anthropic", "https://api.anthropic.com/v1",
        "ANTHROPIC_API_KEY", "anthropic", "https://www.anthropic.com/legal/privacy",
        "https://www.anthropic.com/legal/commercial-terms", "https://status.anthropic.com",
        "US", ("US",),
    ),
    KnownProvider(
        "google-ai-studio", "Google AI Studio", "gemini",
        "https://generativelanguage.googleapis.com/v1beta", "GEMINI_API_KEY", "google",
        "https://policies.google.com/privacy", "https://ai.google.dev/gemini-api/terms",
        "https://aistudio.google.com/status", "US", ("US",),
    ),
    KnownProvider(
        "groq", "Groq", "openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "",
        "https://groq.com/privacy-policy", "https://groq.com/terms-of-use",
        "https://groqstatus.com", "US", ("US",),
    ),
    KnownProvider(
        "together", "Together", "openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY",
        "", "https://www.together.ai/privacy", "https://www.together.ai/terms-of-service",
        "https://status.together.ai", "US", ("US",),
    ),
    KnownProvider(
        "fireworks", "Fireworks", "openai", "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY", "", "https://fireworks.ai/privacy-policy",
        "https://fireworks.ai/terms-of-service", "https://status.fireworks.ai", "US", ("US",),
    ),
    KnownProvider(
        "deepinfra", "DeepInfra", "openai", "https://api.deepinfra.com/v1/openai",
        "DEEPINFRA_API_KEY", "", "https://deepinfra.com/privacy",
        "https://deepinfra.com/terms", "https://status.deepinfra.com", "US", ("US",),
    ),
    KnownProvider(
        "mistral", "Mistral", "openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY",
        "mistralai", "https://mistral.ai/terms#privacy-policy", "https://mistral.ai/terms",
        "https://status.mistral.ai", "FR", ("EU",),
    ),
    KnownProvider(
        "openrouter", "OpenRouter", "openai", "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY", "", "https://openrouter.ai/privacy",
        "https://openrouter.ai/terms", "https://status.openrouter.ai", "US", ("US",),
    ),
)  # fmt: skip

KNOWN_BY_SLUG = {provider.slug: provider for provider in KNOWN_PROVIDERS}
