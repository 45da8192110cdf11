"""The Anthropic Messages wire format, both ways.

Outbound, the gateway calling an Anthropic-format provider (`AnthropicAdapter`): where Anthropic
differs from the canonical OpenAI chat format, and what is done about it:

- The system prompt is a top-level field and turns must alternate, so system messages are
  lifted out, consecutive same-role messages are merged and tool results ride in a user turn
  (`conversation`).
- `max_tokens` is required (4096 when the caller set none) and counts thinking tokens, so a
  thinking budget must fit below it (`request`).
- There is no JSON mode: `response_format` becomes an instruction in the system prompt.
- Usage counts cache reads and writes apart from `input_tokens`; canonical `prompt_tokens` is
  their sum, with the two cache counts repeated in `prompt_tokens_details` (`response`).
- Canonical parameters with no Anthropic form (seed, penalties, logit_bias, logprobs, n, ...)
  are dropped.
- The event stream becomes canonical chunks (`stream`).

Inbound, Switchyard's own `POST /api/v1/messages` skin, so Anthropic's SDKs work against the
gateway: an Anthropic request becomes the canonical request that is routed like any other
(`inbound_request`), and the canonical answer goes back as an Anthropic `Message`
(`inbound_response`) or as Anthropic's stream events (`stream_encoder`).
"""

from proxy.providers.anthropic.adapter import ANTHROPIC_VERSION, AnthropicAdapter
from proxy.providers.anthropic.conversation import tool_id
from proxy.providers.anthropic.inbound_request import messages_request_to_canonical
from proxy.providers.anthropic.inbound_response import (
    ANTHROPIC_STOP_REASONS,
    canonical_response_to_message,
    message_id,
    message_usage,
    stop_reason_from,
)
from proxy.providers.anthropic.request import (
    DEFAULT_MAX_TOKENS,
    MIN_THINKING_BUDGET,
    messages_body,
)
from proxy.providers.anthropic.response import (
    STOP_REASONS,
    canonical_usage,
    completion_from_message,
    error_text,
    finish_reason_from,
)
from proxy.providers.anthropic.stream import AnthropicStreamTranslator
from proxy.providers.anthropic.stream_encoder import MessagesStreamEncoder

__all__ = [
    "ANTHROPIC_STOP_REASONS",
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "MIN_THINKING_BUDGET",
    "STOP_REASONS",
    "AnthropicAdapter",
    "AnthropicStreamTranslator",
    "MessagesStreamEncoder",
    "canonical_response_to_message",
    "canonical_usage",
    "completion_from_message",
    "error_text",
    "finish_reason_from",
    "message_id",
    "message_usage",
    "messages_body",
    "messages_request_to_canonical",
    "stop_reason_from",
    "tool_id",
]
