"""The demo catalog: real models at their public list prices (USD per million tokens),
served by the simulated providers, each at its own price so routing has a choice."""

from dataclasses import dataclass
from decimal import Decimal

COMMON_PARAMETERS = (
    "max_tokens", "temperature", "top_p", "stop", "seed", "stream", "frequency_penalty",
    "presence_penalty",
)  # fmt: skip
TOOL_PARAMETERS = ("tools", "tool_choice")
STRUCTURED_OUTPUT_PARAMETERS = ("response_format", "structured_outputs")
# Like real hosts, not every provider supports everything: routing must notice.
PROVIDERS_WITHOUT_STRUCTURED_OUTPUT = frozenset({"quanta", "ember"})
# How each provider serves open-weights models (closed models' quantization is unknown).
OPEN_WEIGHTS_QUANTIZATION = {
    "nimbus": "bf16", "lumen": "fp8", "quanta": "fp8", "ember": "bf16", "atlas": "fp16",
}  # fmt: skip


@dataclass(frozen=True)
class DemoModel:
    slug: str
    name: str
    description: str
    context_length: int
    max_output_tokens: int
    prompt_usd_per_mtok: Decimal
    completion_usd_per_mtok: Decimal
    tokenizer: str
    # provider slug -> price multiplier against the list price
    providers: dict[str, Decimal]
    supports_tools: bool = True
    open_weights: bool = False
    # Providers that also serve a rate-limited free variant (`<slug>:free`) at price zero.
    free_providers: tuple[str, ...] = ()


# The wire format each simulated provider speaks to the gateway (the simulator serves all three),
# so every adapter is exercised end to end: OpenAI-compatible unless named here.
DEMO_PROVIDER_FORMATS = {"lumen": "anthropic", "atlas": "gemini"}
# Where each format's API lives under a simulated provider's URL.
FORMAT_API_PATHS = {"openai": "v1", "anthropic": "v1", "gemini": "v1beta"}

DEMO_PROVIDERS = {
    "nimbus": "Nimbus Cloud",
    "lumen": "Lumen AI",
    "quanta": "Quanta Compute",
    "ember": "Ember Inference",
    "atlas": "Atlas Serve",
}

_D = Decimal

DEMO_MODELS = (
    DemoModel(
        "openai/gpt-4o-mini", "OpenAI: GPT-4o-mini",
        "OpenAI's small, fast and affordable multimodal model.",
        128_000, 16_384, _D("0.15"), _D("0.60"), "GPT",
        {"nimbus": _D("1"), "quanta": _D("1.2")},
    ),
    DemoModel(
        "openai/gpt-4o", "OpenAI: GPT-4o",
        "OpenAI's flagship multimodal model.",
        128_000, 16_384, _D("2.50"), _D("10"), "GPT",
        {"nimbus": _D("1"), "atlas": _D("1.1")},
    ),
    DemoModel(
        "anthropic/claude-3.5-haiku", "Anthropic: Claude 3.5 Haiku",
        "Anthropic's fastest model, for quick everyday tasks.",
        200_000, 8_192, _D("0.80"), _D("4"), "Claude",
        {"lumen": _D("1"), "atlas": _D("1.05")},
    ),
    DemoModel(
        "anthropic/claude-3.5-sonnet", "Anthropic: Claude 3.5 Sonnet",
        "Anthropic's balanced model for coding, analysis and writing.",
        200_000, 8_192, _D("3"), _D("15"), "Claude",
        {"lumen": _D("1"), "ember": _D("1.1")},
    ),
    DemoModel(
        "meta-llama/llama-3.1-8b-instruct", "Meta: Llama 3.1 8B Instruct",
        "Meta's small open-weights instruction model.",
        131_072, 8_192, _D("0.02"), _D("0.05"), "Llama3",
        {"quanta": _D("1"), "ember": _D("1.5"), "atlas": _D("1.25")},
        supports_tools=False, open_weights=True, free_providers=("atlas",),
    ),
    DemoModel(
        "meta-llama/llama-3.1-70b-instruct", "Meta: Llama 3.1 70B Instruct",
        "Meta's large open-weights instruction model.",
        131_072, 8_192, _D("0.12"), _D("0.30"), "Llama3",
        {"quanta": _D("1"), "ember": _D("0.9"), "nimbus": _D("1.3")},
        open_weights=True,
    ),
    DemoModel(
        "mistralai/mistral-small", "Mistral: Mistral Small",
        "Mistral's efficient model for low-latency workloads.",
        32_768, 8_192, _D("0.20"), _D("0.60"), "Mistral",
        {"atlas": _D("1"), "quanta": _D("0.8")},
        open_weights=True,
    ),
    DemoModel(
        "mistralai/mistral-nemo", "Mistral: Mistral Nemo",
        "A 12B model built with NVIDIA, with a 128k context.",
        131_072, 8_192, _D("0.15"), _D("0.15"), "Mistral",
        {"atlas": _D("1"), "ember": _D("0.6")},
        supports_tools=False, open_weights=True, free_providers=("ember",),
    ),
    DemoModel(
        "google/gemini-2.0-flash", "Google: Gemini 2.0 Flash",
        "Google's fast multimodal model with a one-million-token context.",
        1_048_576, 8_192, _D("0.10"), _D("0.40"), "Gemini",
        {"nimbus": _D("1"), "lumen": _D("1.1")},
    ),
    DemoModel(
        "deepseek/deepseek-chat", "DeepSeek: DeepSeek V3",
        "DeepSeek's general chat model.",
        64_000, 8_192, _D("0.27"), _D("1.10"), "DeepSeek",
        {"ember": _D("1"), "quanta": _D("1.1"), "lumen": _D("0.95")},
        open_weights=True,
    ),
    DemoModel(
        "qwen/qwen-2.5-72b-instruct", "Qwen: Qwen2.5 72B Instruct",
        "Alibaba's large open-weights model, strong at coding and maths.",
        32_768, 8_192, _D("0.12"), _D("0.39"), "Qwen",
        {"quanta": _D("1"), "atlas": _D("1.2")},
        open_weights=True,
    ),
)  # fmt: skip


# Embedding models (served by /embeddings): list price in USD per million input tokens.
@dataclass(frozen=True)
class DemoEmbeddingModel:
    slug: str
    name: str
    # The model's native vector size. The simulator answers any model with 256 values unless
    # the request asks for `dimensions`.
    dimensions: int
    context_length: int
    usd_per_mtok: Decimal
    # provider slug -> price multiplier against the list price
    providers: dict[str, Decimal]


DEMO_EMBEDDING_MODELS: tuple[DemoEmbeddingModel, ...] = (
    DemoEmbeddingModel(
        "openai/text-embedding-3-small",
        "OpenAI: Text Embedding 3 Small",
        dimensions=1536,
        context_length=8192,
        usd_per_mtok=Decimal("0.02"),
        providers={"nimbus": Decimal("1"), "quanta": Decimal("1.1")},
    ),
    DemoEmbeddingModel(
        "openai/text-embedding-3-large",
        "OpenAI: Text Embedding 3 Large",
        dimensions=3072,
        context_length=8192,
        usd_per_mtok=Decimal("0.13"),
        providers={"nimbus": Decimal("1")},
    ),
)
