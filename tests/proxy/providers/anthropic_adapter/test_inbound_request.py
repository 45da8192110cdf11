"""Inbound, the request: a Messages request, as the real `anthropic` client sends it, becomes
a canonical request; and requests survive the trip both ways."""

import copy
import json
from typing import Any

import httpx2
import pytest

from proxy.errors import InvalidRequest
from proxy.providers.anthropic import (
    canonical_response_to_message,
    messages_body,
    messages_request_to_canonical,
)
from tests.proxy.providers.anthropic_adapter.support import COMPLETION, WEATHER_TOOL, sdk_client


def _captured_request(**params: Any) -> dict[str, Any]:
    """The body the official SDK sends for `messages.create(**params)`."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200, json=canonical_response_to_message(COMPLETION, model="m"))

    sdk_client(handler).messages.create(**params)
    return seen[0]


def test_the_sdk_request_becomes_a_canonical_request() -> None:
    body = _captured_request(
        model="anthropic/claude-sonnet-4.5",
        max_tokens=2048,
        system=[{"type": "text", "text": "Manual", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.jpg"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Use the tool.", "signature": "EqQB"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "n/a"}],
                    },
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        tools=[
            {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
        ],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "u-1"},
        extra_body={
            "temperature": 0.5,
            "top_k": 5,
            "provider": {"order": ["anthropic"]},
            "models": ["openai/gpt-4o"],
        },
    )
    assert messages_request_to_canonical(body) == {
        "model": "anthropic/claude-sonnet-4.5",
        "max_tokens": 2048,
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "Manual", "cache_control": {"type": "ephemeral"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {
                "role": "tool",
                "tool_call_id": "toolu_2",
                "content": [{"type": "text", "text": "n/a"}],
            },
            {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "stop": ["END"],
        "reasoning": {"max_tokens": 1024},
        "user": "u-1",
        "temperature": 0.5,
        "top_k": 5,
        "provider": {"order": ["anthropic"]},
        "models": ["openai/gpt-4o"],
    }


def test_structured_output_and_adaptive_thinking_have_canonical_forms() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Count"}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
        "thinking": {"type": "adaptive"},
    }
    canonical = messages_request_to_canonical(body)
    assert canonical["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }
    assert canonical["reasoning"] == {"enabled": True}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": None}, "model is required"),
        ({"max_tokens": None}, "max_tokens is required"),
        ({"max_tokens": "10"}, "max_tokens must be a positive integer"),
        ({"messages": []}, "messages must be a non-empty array"),
        ({"messages": [{"role": "system", "content": "x"}]}, "role must be 'user' or 'assistant'"),
        ({"messages": [{"role": "user", "content": 5}]}, "content must be a string"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "'document' is not supported",
        ),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "only client tools"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type must be"),
        ({"stream": "yes"}, "stream must be a boolean"),
    ],
)
def test_a_bad_messages_request_is_refused(change: dict[str, Any], message: str) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    body |= {"tools": [{"name": "t", "input_schema": {"type": "object"}}]}
    body = {k: v for k, v in (body | change).items() if v is not None}
    with pytest.raises(InvalidRequest, match=message) as caught:
        messages_request_to_canonical(body)
    assert caught.value.status == 400


def _normalized(canonical: dict[str, Any]) -> dict[str, Any]:
    """A canonical request with user text as parts and arguments parsed: what both ways keep."""
    messages = []
    for message in copy.deepcopy(canonical["messages"]):
        if message["role"] == "user" and isinstance(message["content"], str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        for call in message.get("tool_calls", []):
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        messages.append(message)
    return canonical | {"messages": messages}


def test_a_canonical_request_survives_the_trip_through_anthropic() -> None:
    canonical = {
        "model": "claude-x",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "user", "content": "Thanks. Tomorrow?"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_tokens": 3000,
        "reasoning": {"max_tokens": 2048},
        "top_p": 0.9,
        "stop": ["END"],
        "user": "u-1",
        "stream": True,
    }
    anthropic_body = messages_body(canonical, model="claude-x", stream=True)
    back = _normalized(messages_request_to_canonical(anthropic_body))
    # top_p is the one loss: Anthropic refuses sampling changes while thinking.
    assert back == {k: v for k, v in _normalized(canonical).items() if k != "top_p"}


def test_an_anthropic_request_survives_the_trip_through_canonical() -> None:
    body = {
        "model": "claude-x",
        "max_tokens": 1000,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        "tools": [
            {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "temperature": 0.2,
        "top_k": 3,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }
    canonical = messages_request_to_canonical(body)
    assert messages_body(canonical, model="claude-x", stream=True) == body
