"""What the Anthropic adapter tests share: the adapter, the SDK's stream-event model, a tool,
a recorded Anthropic message, a canonical completion and an SDK client over a mock transport."""

from typing import Any

import anthropic
import httpx2
from pydantic import TypeAdapter

from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import Adapter

ADAPTER: Adapter = AnthropicAdapter()
STREAM_EVENT = TypeAdapter(anthropic.types.RawMessageStreamEvent)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQBCgIYAhIM"},
        {"type": "text", "text": "Let me check "},
        {"type": "text", "text": "the weather."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"city": "Paris", "unit": "celsius"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 30,
        "output_tokens": 57,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 100,
    },
}

COMPLETION: dict[str, Any] = {
    "id": "gen-1700000000-abc",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "anthropic/claude-sonnet-4.5",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me check.",
                "reasoning": "Use the tool.",
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
            "native_finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 40,
        "total_tokens": 1240,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 150},
    },
}


def sdk_client(handler: Any) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(handler)
    return anthropic.Anthropic(
        api_key="sk-or-test",
        base_url="http://switchyard.test/api",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
        _strict_response_validation=True,
    )
