"""Google's Gemini API (`generateContent`, `streamGenerateContent?alt=sse`) as an adapter.

- `adapter`: `GeminiAdapter`, the URL, headers and the wiring of the rest.
- `request`: canonical messages and tools as a `GenerateContentRequest`; system and developer
  messages, wherever they are, become `systemInstruction`; a tool result finds its function's
  name from the call it answers; replayed calls carry Google's thought-signature placeholder.
- `generation`: the `generationConfig` (output cap, sampling, JSON output, thinking budget).
- `schema`: JSON Schema cleaned into Gemini's OpenAPI-subset `Schema`.
- `response`: an answer as a canonical completion; finish reasons and usage normalized.
- `stream`: `GeminiStreamTranslator`, stream events as canonical chunks.
"""

from proxy.providers.gemini.adapter import GeminiAdapter
from proxy.providers.gemini.generation import generation_config
from proxy.providers.gemini.request import SKIP_SIGNATURE, request_body
from proxy.providers.gemini.response import finish_reason_normalize, usage_from
from proxy.providers.gemini.schema import schema_clean
from proxy.providers.gemini.stream import GeminiStreamTranslator

__all__ = [
    "SKIP_SIGNATURE",
    "GeminiAdapter",
    "GeminiStreamTranslator",
    "finish_reason_normalize",
    "generation_config",
    "request_body",
    "schema_clean",
    "usage_from",
]
