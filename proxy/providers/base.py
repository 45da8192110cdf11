"""The one small interface every provider wire format implements.

The gateway speaks one canonical language inside: OpenAI's chat completions. A request body is
an OpenAI chat request (gateway-only fields removed); a response is an OpenAI
`chat.completion`; a stream is a sequence of OpenAI `chat.completion.chunk` objects. An adapter
translates between that and its provider's format, both ways:

- `chat_request`: the canonical request as the provider wants it (URL, headers, body). Request
  parameters the format cannot express are dropped (routing has already excluded endpoints
  that lack a parameter the caller required).
- `chat_response`: the provider's whole answer as a canonical `chat.completion`.
- `stream_translator`: a fresh, stateful translator of the provider's stream events (the
  payloads of its SSE `data:` lines, already split by the gateway's buffered SSE reader) into
  canonical chunks.
- `error_message`: the human message inside one of the provider's error bodies.

Canonical choices carry both `finish_reason` (normalized to stop, length, tool_calls,
content_filter or error) and `native_finish_reason` (the provider's own word). Canonical usage
is `{"prompt_tokens", "completion_tokens", "total_tokens"}` plus, when the provider reports
them, `prompt_tokens_details.cached_tokens` (and `cache_write_tokens`) and
`completion_tokens_details.reasoning_tokens`. A stream's usage arrives as one chunk with empty
`choices` and a `usage` object.

Anything that shows the provider failed (an error body where an answer should be, an error
event in a stream, JSON that is not an answer) raises `ProviderFormatError`.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

Json = dict[str, Any]


class ProviderFormatError(ValueError):
    """The provider sent something that is not a valid answer (or said it failed)."""


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where one endpoint lives: what an adapter needs besides the request."""

    base_url: str  # e.g. https://api.anthropic.com/v1
    model: str  # the provider's own model id
    api_key: str = field(repr=False)  # "" when the provider needs none (the simulator)


class StreamTranslator(Protocol):
    def feed(self, data: bytes) -> list[Json]:
        """Canonical chunks for one provider event (often one, sometimes none or several)."""
        ...

    def finish(self) -> list[Json]:
        """Chunks still owed when the provider's stream has ended normally (e.g. usage)."""
        ...


class Adapter(Protocol):
    def chat_request(
        self, payload: Json, upstream: Upstream, *, stream: bool
    ) -> UpstreamRequest: ...

    def chat_response(self, body: bytes) -> Json: ...

    def stream_translator(self) -> StreamTranslator: ...

    def error_message(self, body: bytes) -> str: ...


FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "error"})
